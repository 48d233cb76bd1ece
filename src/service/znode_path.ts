/**
 * Znode path rules: which paths the client may register and the monitor may watch.
 *
 * The rules are ZooKeeper's own (`PathUtils.validatePath` in the Java server, and the "ZNodes"
 * section of the programmer's guide), checked here so that a bad path is refused at start-up with
 * a clear reason instead of failing later as a server error. On top of them come three rules of
 * this project: the root `/` is never registered, and a path may not be longer than
 * {@link MAX_PATH_BYTES} bytes nor have a segment longer than {@link MAX_SEGMENT_BYTES} bytes.
 *
 * @module
 */

import * as v from "valibot";

/**
 * Longest znode path accepted, in UTF-8 bytes.
 *
 * ZooKeeper itself has no path limit short of `jute.maxbuffer` (about 1 MiB per request), but every
 * path is held in every server's memory, in every watch, in our logs and in the proxy's
 * configuration. Our paths are three short names deep (`/cluster/end_point/service`); a path of
 * more than 1 KiB is a mistake, and refusing it early keeps log lines and XML bodies bounded.
 */
export const MAX_PATH_BYTES = 1024;

/**
 * Longest single path segment accepted, in UTF-8 bytes. A segment becomes an Asabru end point or
 * service name; 255 is the usual file-name limit (`NAME_MAX`), generous for a name.
 */
export const MAX_SEGMENT_BYTES = 255;

const RESERVED_ROOT = "zookeeper";
const utf8 = new TextEncoder();

/**
 * Returns why `path` is not a registrable znode path, or `undefined` when it is.
 *
 * The reason is short and has no raw control characters, so it fits in a one-line message:
 * "must be absolute", "trailing '/'", "empty segment", "'.' or '..' segment",
 * "control or reserved character U+0007", "the /zookeeper subtree is reserved",
 * "longer than 1024 bytes", ...
 *
 * Characters are refused in the ranges the programmer's guide documents: U+0000–U+001F,
 * U+007F–U+009F, U+D800–U+F8FF (which includes the surrogates, hence every character beyond the
 * Basic Multilingual Plane such as emoji) and U+FFF0–U+FFFF. (The server's own check compares
 * with exclusive bounds and lets the boundary characters such as U+001F through; we refuse the
 * whole documented ranges.)
 *
 * @example
 * ```ts
 * validateZnodePath("/cluster1/ch_http_node1"); // undefined
 * validateZnodePath("cluster1"); // "must be absolute (start with '/')"
 * validateZnodePath("/zookeeper/quota"); // "the /zookeeper subtree is reserved"
 * ```
 */
export function validateZnodePath(path: string): string | undefined {
  if (path === "") return "empty";
  if (!path.startsWith("/")) return "must be absolute (start with '/')";
  if (path === "/") return "the root '/' cannot be registered";
  if (path.endsWith("/")) return "trailing '/'";
  const segments = path.slice(1).split("/");
  for (const segment of segments) {
    const reason = validateSegment(segment);
    if (reason !== undefined) return reason;
  }
  if (segments[0] === RESERVED_ROOT) return "the /zookeeper subtree is reserved";
  if (utf8.encode(path).length > MAX_PATH_BYTES) return `longer than ${MAX_PATH_BYTES} bytes`;
  return undefined;
}

function validateSegment(segment: string): string | undefined {
  if (segment === "") return "empty segment ('//')";
  if (segment === "." || segment === "..") return "'.' or '..' segment";
  for (const character of segment) {
    const codePoint = character.codePointAt(0)!;
    if (isRefusedCodePoint(codePoint)) {
      const hex = codePoint.toString(16).toUpperCase().padStart(4, "0");
      return `control or reserved character U+${hex}`;
    }
  }
  if (utf8.encode(segment).length > MAX_SEGMENT_BYTES) {
    return `segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

/** ZooKeeper tests UTF-16 code units; a code point above U+FFFF is made of refused surrogates. */
function isRefusedCodePoint(codePoint: number): boolean {
  return codePoint <= 0x1f ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    (codePoint >= 0xd800 && codePoint <= 0xf8ff) ||
    codePoint >= 0xfff0;
}

/**
 * The parent of a valid znode path: `"/a/b"` → `"/a"`, `"/a"` → `"/"`, and `undefined` for
 * `"/"`. The path is not validated.
 */
export function parentOf(path: string): string | undefined {
  if (path === "/") return undefined;
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

/**
 * The ancestors of a valid znode path, outermost first, without the root and without the path
 * itself: the nodes that must exist before `path` can be created. The path is not validated.
 *
 * @example
 * ```ts
 * ancestorsOf("/a/b/c"); // ["/a", "/a/b"]
 * ancestorsOf("/a"); // []
 * ```
 */
export function ancestorsOf(path: string): string[] {
  const ancestors: string[] = [];
  for (let cut = path.indexOf("/", 1); cut !== -1; cut = path.indexOf("/", cut + 1)) {
    ancestors.push(path.slice(0, cut));
  }
  return ancestors;
}

/**
 * Valibot schema for a registrable znode path (see {@link validateZnodePath}); the issue message
 * is the reason the path was refused.
 *
 * @example
 * ```ts
 * v.parse(ZnodePathSchema, "/cluster1"); // "/cluster1"
 * v.safeParse(ZnodePathSchema, "/a//b").issues?.[0].message; // "empty segment ('//')"
 * ```
 */
export const ZnodePathSchema: v.SchemaWithPipe<
  readonly [v.StringSchema<undefined>, v.CheckAction<string, v.ErrorMessage<v.CheckIssue<string>>>]
> = v.pipe(
  v.string(),
  v.check(
    (path) => validateZnodePath(path) === undefined,
    (issue) => validateZnodePath(issue.input) ?? "invalid znode path",
  ),
);
