/**
 * What both HTTP/1.1 clients of the Asabru proxy share (the kept-alive pool, `http1_pool.ts`, and
 * the one-request-per-connection client, `one_shot.ts`): the error that says whether a request
 * was sent, the answer's head, connecting with a timeout, and byte helpers.
 *
 * @module
 */
import { oneLine } from "../shared/log_text.ts";

/** A request that failed; {@link sent} says whether any of it may have reached the server. */
export class Http1Error extends Error {
  /** False only when nothing was written: the request certainly did not reach the server. */
  readonly sent: boolean;
  /** One line: what went wrong. */
  readonly reason: string;

  /** Makes the error; `reason` becomes the message. */
  constructor(reason: string, sent: boolean, options?: ErrorOptions) {
    super(reason, options);
    this.name = new.target.name;
    this.reason = reason;
    this.sent = sent;
  }
}

/**
 * The server closed the connection cleanly after the request was written, without a byte of
 * answer. From the deployed Asabru proxy this means it applied nothing: it answers every request
 * it has read (a 500 for a partial one), so it read nothing before its 10 ms idle time ran out.
 */
export class Http1NoAnswerError extends Http1Error {
  /** Makes the error (sent: the request was written). */
  constructor(options?: ErrorOptions) {
    super("the server closed the connection before any answer", true, options);
  }
}

/** A complete answer: its status, and its body as UTF-8 text (cut at `maxBodyBytes`). */
export interface Http1Response {
  status: number;
  body: string;
}
/** Carriage return. */
export const CR = 13;
/** Line feed. */
export const LF = 10;
/** CR LF, as bytes. */
export const CRLF = [CR, LF];

/** The parts of an answer's head the client acts on. */
export interface ResponseHead {
  status: number;
  contentLength?: number;
  chunked: boolean;
  /** Whether the server lets the connection be used again (HTTP/1.1 default, `Connection`). */
  keepAlive: boolean;
}

/**
 * Parses an answer's head (status line and header lines, CRLF-separated, the blank line removed or
 * not); returns what is wrong with it as a string when it cannot be trusted.
 *
 * @example
 * ```ts
 * parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n");
 * // { status: 200, contentLength: 15, chunked: false, keepAlive: true }
 * ```
 */
export function parseResponseHead(text: string): ResponseHead | string {
  const lines = text.replace(/\r\n\r\n$/, "").split("\r\n");
  const statusLine = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?$/.exec(lines[0]);
  if (!statusLine) return `status line ${JSON.stringify(lines[0].slice(0, 80))}`;
  let contentLength: number | undefined;
  let chunked = false;
  let connection = "";
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `header line ${JSON.stringify(line.slice(0, 80))}`;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (!/^[0-9]{1,15}$/.test(value)) return `Content-Length ${JSON.stringify(value)}`;
      const length = Number(value);
      if (contentLength !== undefined && contentLength !== length) {
        return "two different Content-Length headers";
      }
      contentLength = length;
    } else if (name === "transfer-encoding") {
      const codings = value.toLowerCase().split(",").map((coding) => coding.trim());
      if (codings.at(-1) !== "chunked" || codings.length > 1) {
        return `Transfer-Encoding ${JSON.stringify(value)}`;
      }
      chunked = true;
    } else if (name === "connection") {
      connection += `,${value.toLowerCase()}`;
    }
  }
  const tokens = connection.split(",").map((token) => token.trim());
  const keepAlive = statusLine[1] === "1"
    ? !tokens.includes("close")
    : tokens.includes("keep-alive");
  return {
    status: Number(statusLine[2]),
    // RFC 9112 6.3: with Transfer-Encoding, Content-Length is ignored.
    contentLength: chunked ? undefined : contentLength,
    chunked,
    keepAlive,
  };
}

/**
 * The addresses to try in turn, until one connects; the first one's failure is reported.
 * `Deno.connect` tries only the first address a name resolves to, where `fetch` tries them all.
 * `localhost` resolves to `::1` first on many systems while a proxy may listen on IPv4 only (or the
 * reverse): after the name itself (which permissions may allow alone), both loopback addresses.
 */
function addressesToTry(hostname: string): string[] {
  return /^localhost\.?$/i.test(hostname) ? [hostname, "127.0.0.1", "::1"] : [hostname];
}

/** Where the first CR LF CR LF in `bytes[from, to)` starts, or -1. */
export function indexOfBlankLine(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR && bytes[i + 3] === LF) {
      return i;
    }
  }
  return -1;
}

const utf8Decoder = new TextDecoder();

/** Whether `bytes` begins with `prefix`. */
export function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Bytes as ISO-8859-1 text (an answer's head). */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return text;
}

/** An answer's body as UTF-8 text; short all-ASCII bodies (the proxy's) without a decoder call. */
export function utf8(bytes: Uint8Array): string {
  if (bytes.length > 512) return utf8Decoder.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] > 0x7f) return utf8Decoder.decode(bytes);
    text += String.fromCharCode(bytes[i]);
  }
  return text;
}

/** Writes every byte of `bytes`. */
export async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** The parts, one after the other, in one array (the part itself when there is one). */
export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const total = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    total.set(part, offset);
    offset += part.length;
  }
  return total;
}

/** Resolves like `promise` unless `signal` aborts first; a late result goes to `discard`. */
function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  discard: (late: T) => void,
): Promise<T> {
  if (signal.aborted) {
    promise.then(discard, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      promise.then(discard, () => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) return;
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** One line naming why a connection could not be made. */
function connectFailure(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionRefused) return "connection refused";
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return `no permission to connect: ${describe(error)}`;
  }
  const text = describe(error);
  if (/failed to lookup|name or service not known|dns/i.test(text)) {
    return `DNS lookup failed: ${text}`;
  }
  return `could not connect: ${text}`;
}

/** An error as one line of at most 300 characters. */
export function describe(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error), 300);
}

/**
 * Connects to `hostname:port` (for `localhost` both loopback addresses in turn) with
 * `TCP_NODELAY`, within `timeoutMs` and before `signal` aborts, or fails with a not-sent
 * {@link Http1Error}.
 */
export async function connectTo(
  hostname: string,
  port: number,
  options: { timeoutMs?: number; signal?: AbortSignal },
): Promise<Deno.TcpConn> {
  const timeout = options.timeoutMs === undefined
    ? undefined
    : AbortSignal.timeout(options.timeoutMs);
  const signal = timeout && options.signal
    ? AbortSignal.any([timeout, options.signal])
    : timeout ?? options.signal ?? new AbortController().signal;
  let firstError: unknown;
  for (const address of addressesToTry(hostname)) {
    try {
      const conn = await abortable(
        Deno.connect({ hostname: address, port, transport: "tcp" }),
        signal,
        (late) => late.close(),
      );
      conn.setNoDelay(true);
      return conn;
    } catch (error) {
      if (timeout?.aborted) {
        throw new Http1Error(`could not connect within ${options.timeoutMs} ms`, false, {
          cause: error,
        });
      }
      if (signal.aborted) throw new Http1Error("aborted before sending", false, { cause: error });
      firstError ??= error;
    }
  }
  throw new Http1Error(connectFailure(firstError), false, { cause: firstError });
}
