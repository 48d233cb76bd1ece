/**
 * Who may change things through the status server: the routes that act (`POST /v1/resync`,
 * `POST /v1/guard/release`) need the operator's secret as `Authorization: Bearer <token>`, and
 * are refused when they come from another site. The read-only routes stay open.
 *
 * Why both: the status server listens on every address by default, so anyone on the network
 * could otherwise act; and a web page a colleague's browser opens could send a plain form POST
 * (no preflight) to it. A form cannot set `Authorization`, and its content types and `Origin`
 * give it away as well, so it is refused on three counts.
 *
 * Every refusal is one warning line with the route and why.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Context, MiddlewareHandler } from "hono";

const log = getLogger(["zkcm", "http"]);

/** The content types a cross-site HTML form can send without a preflight. */
const FORM_CONTENT_TYPES = [
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "text/plain",
];

/** `STATUS_TOKEN_FILE` could not be read, or holds no token. */
export class StatusTokenFileError extends Error {
  /** The class's name, for logs. */
  override readonly name = "StatusTokenFileError";
  /** `file` is the path given; `reason` what went wrong reading it. */
  constructor(/** The path given. */ readonly file: string, reason: string) {
    super(`--status-token-file (STATUS_TOKEN_FILE): ${file}: ${reason}`);
  }
}

/**
 * The operator's token: `statusToken` itself, or the first line of `statusTokenFile` (trimmed),
 * or `undefined` when neither is set (the acting routes are then refused).
 *
 * @throws {StatusTokenFileError} when the file cannot be read or is empty
 */
export async function readStatusToken(
  options: { statusToken?: string; statusTokenFile?: string },
): Promise<string | undefined> {
  if (options.statusToken !== undefined) return options.statusToken;
  const file = options.statusTokenFile;
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new StatusTokenFileError(file, error instanceof Error ? error.message : String(error));
  }
  const token = text.split("\n")[0].trim();
  if (token === "") {
    throw new StatusTokenFileError(file, "holds no token (its first line is empty)");
  }
  return token;
}

/**
 * A Hono middleware that lets a request through only with the operator's token and from the
 * status server's own origin (or from no browser at all).
 *
 * - no token configured: 403, whatever the request;
 * - a form's content type, or an `Origin` other than the server's own, or
 *   `Sec-Fetch-Site: cross-site`: 403;
 * - no `Authorization: Bearer ...`: 401; a wrong token: 403.
 *
 * @example
 * ```ts
 * app.post("/v1/resync", requireOperator(token), (c) => c.json(resync(), 202));
 * ```
 */
export function requireOperator(token: string | undefined): MiddlewareHandler {
  const expected = token === undefined ? undefined : digest(token);
  return async (c, next) => {
    if (expected === undefined) {
      return refuse(c, 403, "no STATUS_TOKEN or STATUS_TOKEN_FILE is configured");
    }
    const crossSite = crossSiteReason(c);
    if (crossSite) return refuse(c, 403, crossSite);
    const header = c.req.header("Authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) return refuse(c, 401, "no Authorization: Bearer token");
    if (!sameBytes(await digest(match[1]), await expected)) {
      return refuse(c, 403, "wrong token");
    }
    await next();
  };
}

function crossSiteReason(c: Context): string | undefined {
  const contentType = (c.req.header("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  if (FORM_CONTENT_TYPES.includes(contentType)) {
    return `a form's content type (${contentType}); send JSON or no body`;
  }
  const origin = c.req.header("Origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) {
    return `from another origin (${origin})`;
  }
  if (c.req.header("Sec-Fetch-Site") === "cross-site") return "a cross-site request";
  return undefined;
}

function refuse(c: Context, status: 401 | 403, reason: string): Response {
  log.warn("refused {method} {path}: {reason}", {
    method: c.req.method,
    path: c.req.path,
    reason,
  });
  if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="zkcm"');
  return c.json({ error: `refused: ${reason}` }, status);
}

/** Hashing first makes the comparison's time independent of where the tokens differ. */
async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) difference |= a[i] ^ b[i];
  return difference === 0;
}
