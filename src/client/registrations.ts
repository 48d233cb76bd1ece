/**
 * The client's input, turned into a registration plan: which znodes to create persistent and which
 * ephemeral. Input comes from `nodes.json` (the original tool's format), from `--register
 * PATH=DATA` flags, or from the `REGISTER` environment variable.
 *
 * Every function here collects *all* the problems of its input rather than stopping at the first,
 * so a user fixes a file in one round. {@link formatProblem} renders each problem as exactly one
 * line that names the input and the znode path.
 *
 * @example
 * ```ts
 * const read = await readNodesFile("./nodes.json");
 * const plan = read.ok ? planRegistrations(read.value, "nodes.json", "./nodes.json") : read;
 * if (!plan.ok) for (const line of formatProblems(plan.problems)) log.error(line);
 * ```
 *
 * @module
 */

import { duplicateTopLevelKeys } from "./_duplicate_json_keys.ts";
import { parseServiceAddress } from "../service/host_port.ts";
import { ancestorsOf, validateZnodePath } from "../service/znode_path.ts";
import { escapeControls, quoted } from "../shared/log_text.ts";

/** One thing wrong with the input. */
export interface Problem {
  /** Which input: `"nodes.json"`, `"--register"`, `"REGISTER"`, ... */
  source: string;
  /** The file the input was read from, when it was read from one. */
  file?: string;
  /** The znode path the problem is about, when there is one. */
  path?: string;
  /** The part of the entry at fault, when not the path itself: `"data"`. */
  field?: string;
  /** What is wrong, in a few words. */
  message: string;
}

/** Either the value, or every problem found on the way to it. */
export type Result<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

/**
 * A node to create persistent *if it does not exist yet*: an existing node is left alone, data
 * included.
 */
export interface PersistentNode {
  /** The znode path. */
  path: string;
  /** The data listed for it, or `""` for an ancestor that was not listed. */
  data: string;
  /** Whether the input listed the path, rather than it being a missing ancestor. */
  listed: boolean;
}

/** A service: an ephemeral node whose data is the service's `host:port`. */
export interface EphemeralService {
  /** The znode path. */
  path: string;
  /** The data exactly as listed. */
  data: string;
  /** The host parsed from `data`, IPv6 without brackets. */
  host: string;
  /** The port parsed from `data`. */
  port: number;
}

/**
 * What the client creates. `persistent` is ordered so that every parent comes before its children
 * (by depth, then by path); `ephemeral` is ordered by path.
 */
export interface RegistrationPlan {
  /** The nodes to create persistent if missing, parents first. */
  persistent: PersistentNode[];
  /** The services to create ephemeral, by path. */
  ephemeral: EphemeralService[];
}

const NODES_JSON = "nodes.json";

/**
 * The most paths one client registers (services and listed parents together, from nodes.json and
 * `REGISTER` combined). A ClickHouse node announces a handful of services; 100,000 is far above
 * any real use and still registers in seconds, while a generated file of a million entries took
 * 26 s to validate and gigabytes to register before this limit (issue 20).
 */
export const MAX_ENTRIES = 100_000;

/**
 * The largest nodes.json read, in bytes: room for {@link MAX_ENTRIES} entries with long names,
 * refused before the file is read so a huge file costs nothing.
 */
export const MAX_NODES_FILE_BYTES = 32 * 1024 * 1024;

/**
 * Parses the text of a `nodes.json`: one flat JSON object mapping absolute znode path to string
 * data. Invalid JSON, a top level that is not an object, an empty object, an invalid path and
 * data that is not a string are all problems.
 *
 * A path listed twice is a problem (`JSON.parse` alone would keep the last silently; `--register`
 * refuses the same), and so are more than {@link MAX_ENTRIES} entries.
 *
 * @param source names the input in problems (`"nodes.json"` by default)
 * @param file the file the text was read from, to name it in problems
 *
 * @example
 * ```ts
 * parseNodesJson('{"/c": "", "/c/n/s": "localhost:2023"}');
 * // { ok: true, value: { "/c": "", "/c/n/s": "localhost:2023" } }
 * ```
 */
export function parseNodesJson(
  text: string,
  source: string = NODES_JSON,
  file?: string,
): Result<Record<string, string>> {
  const origin = file === undefined ? { source } : { source, file };
  if (text.trim() === "") return failure({ ...origin, message: "is empty" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return failure({ ...origin, message: `is not valid JSON (${messageOf(error)})` });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return failure({
      ...origin,
      message: `must be a JSON object mapping znode path to data, not ${describe(parsed)}`,
    });
  }
  const entries = Object.entries(parsed);
  if (entries.length === 0) return failure({ ...origin, message: "has no entries" });
  if (entries.length > MAX_ENTRIES) return failure(tooManyEntries(origin, entries.length));
  const duplicates = duplicateTopLevelKeys(text);
  if (duplicates.length > 0) {
    return {
      ok: false,
      problems: duplicates.map((path) => ({
        ...origin,
        path,
        message: "listed twice (JSON keeps only the last; list each path once)",
      })),
    };
  }

  const value: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const [path, data] of entries) {
    const reason = validateZnodePath(path);
    if (reason !== undefined) problems.push({ ...origin, path, message: reason });
    if (typeof data !== "string") {
      problems.push({
        ...origin,
        path,
        field: "data",
        message: `must be a string, not ${describe(data)}`,
      });
    } else if (reason === undefined) {
      value[path] = data;
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}

/**
 * Parses `--register PATH=DATA` values (split at the first `=`; `DATA` may be empty, as for a
 * persistent parent). No values is no entries, not a problem. Listing one path twice with
 * different data is a problem; twice with the same data is harmless.
 *
 * @param source names the input in problems: `"--register"` by default, `"REGISTER"` for the
 *   environment variable (see {@link splitRegisterEnv})
 *
 * @example
 * ```ts
 * parseRegisterFlags(["/c/n/s=localhost:2023"]);
 * // { ok: true, value: { "/c/n/s": "localhost:2023" } }
 * ```
 */
export function parseRegisterFlags(
  values: readonly string[],
  source = "--register",
): Result<Record<string, string>> {
  const value: Record<string, string> = {};
  const problems: Problem[] = [];
  for (const item of values) {
    const equals = item.indexOf("=");
    if (equals === -1) {
      problems.push({ source, message: `${quoted(item)} is not PATH=DATA` });
      continue;
    }
    const path = item.slice(0, equals);
    const data = item.slice(equals + 1);
    const reason = validateZnodePath(path);
    if (reason !== undefined) {
      problems.push({ source, path, message: reason });
    } else if (Object.hasOwn(value, path) && value[path] !== data) {
      problems.push({
        source,
        path,
        message: `listed twice with different data (${quoted(value[path])} and ${quoted(data)})`,
      });
    } else {
      value[path] = data;
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}

/**
 * Splits the `REGISTER` environment variable into `PATH=DATA` items for
 * {@link parseRegisterFlags}: comma-separated, whitespace around items dropped, empty items (a
 * trailing comma, an empty variable) ignored. Data containing a comma cannot be given this way;
 * use `nodes.json`.
 *
 * @example
 * ```ts
 * splitRegisterEnv("/c/n/a=h1:1, /c/n/b=h2:2,"); // ["/c/n/a=h1:1", "/c/n/b=h2:2"]
 * ```
 */
export function splitRegisterEnv(text: string): string[] {
  return text.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

/**
 * Builds the registration plan from `path → data` entries.
 *
 * ZooKeeper forbids children of ephemeral nodes, so a listed path with a listed descendant is
 * persistent (created with its listed data only if missing), and every missing ancestor is
 * persistent with empty data. Every leaf (a listed path with no listed descendant) is an
 * ephemeral *service*, and its data must be `host:port` (see `parseHostPort`). Paths are
 * validated again here, since entries may come from anywhere. No entries at all is a problem.
 *
 * @param source names the input in problems
 * @param file the file the entries were read from, to name it in problems
 *
 * @example
 * ```ts
 * planRegistrations({ "/c/n/s": "localhost:2023" });
 * // { ok: true, value: {
 * //   persistent: [
 * //     { path: "/c", data: "", listed: false },
 * //     { path: "/c/n", data: "", listed: false },
 * //   ],
 * //   ephemeral: [{ path: "/c/n/s", data: "localhost:2023", host: "localhost", port: 2023 }] } }
 * ```
 */
export function planRegistrations(
  entries: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  source = "registrations",
  file?: string,
): Result<RegistrationPlan> {
  const origin = file === undefined ? { source } : { source, file };
  const listed = new Map<string, string>();
  const problems: Problem[] = [];
  const pairs = entries instanceof Map ? [...entries] : Object.entries(entries);
  for (const [path, data] of pairs) {
    const reason = validateZnodePath(path);
    if (reason !== undefined) problems.push({ ...origin, path, message: reason });
    else listed.set(path, data);
  }
  if (pairs.length === 0) problems.push({ ...origin, message: "nothing to register" });
  if (pairs.length > MAX_ENTRIES) return failure(tooManyEntries(origin, pairs.length));

  const parents = new Set<string>();
  for (const path of listed.keys()) {
    for (const ancestor of ancestorsOf(path)) parents.add(ancestor);
  }
  const persistent: PersistentNode[] = [...parents].map((path) => {
    const data = listed.get(path);
    return { path, data: data ?? "", listed: data !== undefined };
  });
  const ephemeral: EphemeralService[] = [];
  for (const [path, data] of listed) {
    if (parents.has(path)) continue;
    const address = parseServiceAddress(data);
    if ("error" in address) {
      problems.push({
        ...origin,
        path,
        field: "data",
        message: `${quoted(data)} is not host:port (${address.error})`,
      });
    } else {
      ephemeral.push({ path, data, host: address.host, port: address.port });
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  persistent.sort((a, b) => depthOf(a.path) - depthOf(b.path) || compare(a.path, b.path));
  ephemeral.sort((a, b) => compare(a.path, b.path));
  return { ok: true, value: { persistent, ephemeral } };
}

/**
 * Reads and parses a `nodes.json` file: the only I/O of this module. A missing file, a directory
 * or anything else that is not a regular file, an unreadable file, a file that is not UTF-8 and
 * an empty file each give one problem naming the file; then come {@link parseNodesJson}'s
 * problems, also naming the file.
 *
 * The file is checked with `Deno.stat` before it is read (so that a FIFO does not block the
 * start-up) and read as bytes decoded strictly, so that invalid UTF-8 is reported instead of
 * silently replaced.
 *
 * @example
 * ```ts
 * await readNodesFile("/x/nodes.json");
 * // { ok: false,
 * //   problems: [{ source: "nodes.json", file: "/x/nodes.json", message: "not found" }] }
 * ```
 */
export async function readNodesFile(file: string): Promise<Result<Record<string, string>>> {
  const origin = { source: NODES_JSON, file };
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(file);
    if (info.isDirectory) return failure({ ...origin, message: "is a directory, not a file" });
    if (!info.isFile) return failure({ ...origin, message: "is not a regular file" });
    if (info.size > MAX_NODES_FILE_BYTES) {
      return failure({
        ...origin,
        message: `is ${info.size} bytes, more than the limit of ${MAX_NODES_FILE_BYTES} ` +
          `(${MAX_NODES_FILE_BYTES / 1024 / 1024} MiB)`,
      });
    }
    bytes = await Deno.readFile(file);
  } catch (error) {
    return failure(readErrorProblem(error, file));
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return failure({ ...origin, message: "is not valid UTF-8" });
  }
  return parseNodesJson(text, NODES_JSON, file);
}

/**
 * Maps an error from reading `file` to a problem: `not found`, `permission denied`, `is a
 * directory, not a file`, `read access not granted (--allow-read)`, or `cannot be read (...)`.
 * Exported so that the mapping is tested without having to provoke each error (a test running
 * as root can read a file of mode 000).
 */
export function readErrorProblem(error: unknown, file: string): Problem {
  const origin = { source: NODES_JSON, file };
  if (error instanceof Deno.errors.NotFound) return { ...origin, message: "not found" };
  if (error instanceof Deno.errors.NotADirectory) {
    return { ...origin, message: "not found (a parent is not a directory)" };
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return { ...origin, message: "permission denied" };
  }
  if (error instanceof Deno.errors.IsADirectory) {
    return { ...origin, message: "is a directory, not a file" };
  }
  if (error instanceof Deno.errors.NotCapable) {
    return { ...origin, message: "read access not granted (--allow-read)" };
  }
  return { ...origin, message: `cannot be read (${messageOf(error)})` };
}

/**
 * Renders a problem as exactly one line naming the input, the file and the znode path:
 * `nodes.json: "/c/../x": '.' or '..' segment`,
 * `nodes.json "/x/nodes.json": not found`,
 * `nodes.json: "/c/n/s": data "host:99999" is not host:port (port must be 1-65535)`.
 * Strings are JSON-quoted (long ones shortened) and any line break or control character left in
 * the message is escaped, so user input cannot split or forge a log line.
 */
export function formatProblem(problem: Problem): string {
  let line = problem.source;
  if (problem.file !== undefined) line += ` ${quoted(problem.file)}`;
  line += ": ";
  if (problem.path !== undefined) line += `${quoted(problem.path)}: `;
  if (problem.field !== undefined) line += `${problem.field} `;
  line += problem.message;
  return escapeControls(line);
}

/** {@link formatProblem} for each problem: one line each, in order. */
export function formatProblems(problems: readonly Problem[]): string[] {
  return problems.map(formatProblem);
}

function tooManyEntries(origin: { source: string; file?: string }, count: number): Problem {
  return {
    ...origin,
    message: `has ${count} entries, more than one client registers (at most ${MAX_ENTRIES})`,
  };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "number" || typeof value === "boolean") {
    return `a ${typeof value} (${String(value)})`;
  }
  return `a ${typeof value}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function failure<T>(problem: Problem): Result<T> {
  return { ok: false, problems: [problem] };
}

function depthOf(path: string): number {
  let depth = 0;
  for (const character of path) if (character === "/") depth++;
  return depth;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
