/**
 * A small HTTP/1.1 client for one `http:` origin: kept-alive TCP connections (`TCP_NODELAY`), one
 * request at a time on each, the request written in one piece, the answer parsed here. It exists
 * because the monitor's cost per update was mostly `fetch`'s: about 130 µs of CPU per request,
 * against about 30 µs over a plain socket (measured in `bench/`, issue 7).
 *
 * What it tells its caller is what the delivery queue needs: whether a failed request may have
 * reached the server ({@link Http1Error.sent}). Nothing is written before the connection exists,
 * so a refused or unresolvable connection is certainly not sent; once the first byte may have
 * left, every failure is "sent".
 *
 * Each connection keeps a read pending while it waits in the pool, so a server that closes an idle
 * connection is noticed at once and the connection is not reused; the race of a server closing at
 * the very moment a request is written remains, and comes back as a sent failure (the safe side).
 *
 * Limits: `Deno.connect` tries only the first address a name resolves to (for `localhost` both
 * loopback addresses are tried); answers with a body over `maxBodyBytes` are cut there (the
 * connection is then closed, not drained); no pipelining, no `Expect`, no upgrades.
 *
 * @module
 */

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

/** A complete answer: its status, and its body as UTF-8 text (cut at `maxBodyBytes`). */
export interface Http1Response {
  status: number;
  body: string;
}

/** Options of {@link Http1Pool}. */
export interface Http1PoolOptions {
  hostname: string;
  port: number;
  /** The most of an answer's body kept; the rest is not read and the connection is closed. */
  maxBodyBytes?: number;
  /** How long an unused connection stays open. Default 30 s. */
  idleTimeoutMs?: number;
}

const MAX_HEAD_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 16 * 1024;

/**
 * Kept-alive connections to one origin. {@link request} never leaves a connection in an unknown
 * state: it goes back to the pool only after a complete answer that allows it.
 *
 * @example
 * ```ts
 * using pool = new Http1Pool({ hostname: "127.0.0.1", port: 8080 });
 * const head = "POST /updateService HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 0\r\n\r\n";
 * const answer = await pool.request(new TextEncoder().encode(head), AbortSignal.timeout(5000));
 * ```
 */
export class Http1Pool implements Disposable {
  readonly #hostname: string;
  readonly #port: number;
  readonly #maxBodyBytes: number;
  readonly #idleTimeoutMs: number;
  /** Connections waiting for a request, most recently used last. */
  #idle: Connection[] = [];
  #sweeper: ReturnType<typeof setInterval> | undefined;
  readonly #open = new Set<Connection>();
  #closed = false;

  /** Opens nothing yet: connections are made by the requests that need them. */
  constructor(options: Http1PoolOptions) {
    this.#hostname = options.hostname;
    this.#port = options.port;
    this.#maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  /** Connections open now, idle or busy. */
  get openConnections(): number {
    return this.#open.size;
  }

  /**
   * Writes `request` (a complete HTTP/1.1 request) on an idle connection or a new one and reads
   * the answer. Aborting `signal` closes that connection and rejects.
   *
   * @throws {Http1Error} on any failure, `sent: false` only when nothing was written.
   */
  async request(request: Uint8Array, signal: AbortSignal): Promise<Http1Response> {
    if (this.#closed) throw new Http1Error("the client is closed", false);
    if (signal.aborted) throw new Http1Error("aborted before sending", false);
    const connection = this.#takeIdle() ?? await this.#connect(signal);
    const onAbort = () => connection.close();
    signal.addEventListener("abort", onAbort);
    try {
      try {
        await connection.write(request);
      } catch (error) {
        throw new Http1Error(`writing the request failed: ${describe(error)}`, true, {
          cause: error,
        });
      }
      const answer = await connection.readResponse(this.#maxBodyBytes);
      if (answer.keepAlive && !this.#closed && !signal.aborted) {
        this.#release(connection);
      } else {
        connection.close();
      }
      return { status: answer.status, body: answer.body };
    } catch (error) {
      connection.close();
      if (error instanceof Http1Error) throw error;
      throw new Http1Error(describe(error), true, { cause: error });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Closes every connection; requests in flight reject (sent), later ones reject (not sent). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const connection of this.#open) connection.close();
    this.#idle = [];
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #takeIdle(): Connection | undefined {
    for (;;) {
      const connection = this.#idle.pop();
      if (connection === undefined) return undefined;
      if (connection.take()) return connection;
    }
  }

  #release(connection: Connection): void {
    this.#idle.push(connection);
    connection.park(); // may close it at once, which takes it off the list
    // One timer for every idle connection (not one per request): closes those unused too long.
    if (this.#sweeper === undefined) {
      const sweeper = setInterval(() => this.#closeUnused(), this.#idleTimeoutMs / 2);
      Deno.unrefTimer(sweeper);
      this.#sweeper = sweeper;
    }
  }

  #closeUnused(): void {
    const now = performance.now();
    for (const connection of [...this.#idle]) {
      if (now - connection.idleSince >= this.#idleTimeoutMs) connection.close();
    }
  }

  async #connect(signal: AbortSignal): Promise<Connection> {
    let conn: Deno.TcpConn | undefined;
    let firstError: unknown;
    for (const hostname of addressesToTry(this.#hostname)) {
      try {
        conn = await abortable(
          Deno.connect({ hostname, port: this.#port, transport: "tcp" }),
          signal,
          (late) => late.close(),
        );
        break;
      } catch (error) {
        if (signal.aborted) {
          throw new Http1Error("aborted while connecting", false, { cause: error });
        }
        firstError ??= error;
      }
    }
    if (conn === undefined) {
      throw new Http1Error(connectFailure(firstError), false, { cause: firstError });
    }
    if (this.#closed) {
      conn.close();
      throw new Http1Error("the client is closed", false);
    }
    conn.setNoDelay(true);
    const connection = new Connection(conn, () => {
      this.#open.delete(connection);
      const index = this.#idle.indexOf(connection);
      if (index !== -1) this.#idle.splice(index, 1);
    });
    this.#open.add(connection);
    return connection;
  }
}

/** What {@link Connection.readResponse} found. */
interface ParsedAnswer {
  status: number;
  body: string;
  keepAlive: boolean;
}

/** One TCP connection and the bytes read from it but not yet consumed. */
class Connection {
  readonly #conn: Deno.TcpConn;
  readonly #onClosed: () => void;
  #buffer = new Uint8Array(4096);
  #length = 0;
  #ended = false;
  #endCause: unknown;
  #closed = false;
  #wake: (() => void) | undefined;
  /** `performance.now()` when it was last parked. */
  idleSince = 0;
  #busy = true;

  constructor(conn: Deno.TcpConn, onClosed: () => void) {
    this.#conn = conn;
    this.#onClosed = onClosed;
    void this.#readLoop();
  }

  /** Marks an idle connection busy again; false when it has ended meanwhile. */
  take(): boolean {
    if (this.#closed || this.#ended || this.#length > 0) {
      this.close();
      return false;
    }
    this.#busy = true;
    this.#conn.ref();
    return true;
  }

  /** Marks the connection idle (the pool closes it once unused for too long). */
  park(): void {
    this.#busy = false;
    if (this.#ended || this.#length > 0) return this.close();
    this.idleSince = performance.now();
    // Its pending read (watching for the server's close) must not keep a process alive.
    this.#conn.unref();
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#closed) throw new Error("connection closed");
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }

  /** Reads one complete answer, skipping interim (1xx) ones. */
  async readResponse(maxBodyBytes: number): Promise<ParsedAnswer> {
    for (;;) {
      const head = await this.#readHead();
      if (head.status === 101) throw new Http1Error("the server switched protocols", true);
      if (head.status >= 100 && head.status < 200) continue;
      const { body, complete } = head.status === 204 || head.status === 304
        ? { body: new Uint8Array(0), complete: true }
        : head.chunked
        ? await this.#readChunked(maxBodyBytes)
        : head.contentLength !== undefined
        ? await this.#readLength(head.contentLength, maxBodyBytes)
        : await this.#readToEnd(maxBodyBytes);
      return {
        status: head.status,
        body: new TextDecoder().decode(body),
        // An answer delimited by the end of the connection is never complete (`#readToEnd`).
        keepAlive: complete && head.keepAlive,
      };
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the read loop's end
    }
    this.#wake?.();
    this.#onClosed();
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        if (!this.#busy) {
          // Bytes nobody asked for: the connection is out of step; never reuse it.
          this.#ended = true;
          break;
        }
        this.#append(chunk.subarray(0, n));
        this.#wake?.();
      }
    } catch (error) {
      this.#endCause = error;
    }
    this.#ended = true;
    this.#wake?.();
    if (!this.#busy) this.close();
  }

  #append(bytes: Uint8Array): void {
    if (this.#length + bytes.length > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + bytes.length));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Removes and returns the first `n` buffered bytes. */
  #consume(n: number): Uint8Array {
    const taken = this.#buffer.slice(0, n);
    this.#buffer.copyWithin(0, n, this.#length);
    this.#length -= n;
    return taken;
  }

  /** Waits until more bytes arrive; throws when the connection ends first. */
  async #more(what: string): Promise<void> {
    const before = this.#length;
    while (this.#length === before) {
      if (this.#closed) throw new Http1Error(`connection closed while waiting for ${what}`, true);
      if (this.#ended) {
        const cause = this.#endCause === undefined ? "" : `: ${describe(this.#endCause)}`;
        throw new Http1Error(`the server closed the connection before ${what}${cause}`, true);
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  async #readHead(): Promise<ResponseHead> {
    let searchFrom = 0;
    for (;;) {
      const end = indexOfBlankLine(this.#buffer, searchFrom, this.#length);
      if (end !== -1) {
        const head = parseResponseHead(new TextDecoder("latin1").decode(this.#consume(end + 4)));
        if (typeof head === "string") throw new Http1Error(`malformed answer: ${head}`, true);
        return head;
      }
      if (this.#length > MAX_HEAD_BYTES) {
        throw new Http1Error(`malformed answer: a head over ${MAX_HEAD_BYTES} bytes`, true);
      }
      searchFrom = Math.max(0, this.#length - 3);
      await this.#more(this.#length === 0 ? "any answer" : "the end of the answer's head");
    }
  }

  async #readLength(
    length: number,
    maxBodyBytes: number,
  ): Promise<{ body: Uint8Array; complete: boolean }> {
    const wanted = Math.min(length, maxBodyBytes);
    while (this.#length < wanted) await this.#more("the end of the answer");
    return { body: this.#consume(wanted), complete: wanted === length };
  }

  async #readToEnd(maxBodyBytes: number): Promise<{ body: Uint8Array; complete: boolean }> {
    // Only a clean end of the stream completes such an answer: an abort, a close of ours or a
    // broken connection leaves it cut short, which must not pass for the whole answer.
    while (this.#length < maxBodyBytes) {
      if (this.#closed) {
        throw new Http1Error("connection closed while waiting for the end of the answer", true);
      }
      if (this.#ended) {
        if (this.#endCause === undefined) break;
        throw new Http1Error(
          `the connection broke before the end of the answer: ${describe(this.#endCause)}`,
          true,
        );
      }
      await this.#more("the end of the answer").catch(() => {});
    }
    return { body: this.#consume(Math.min(this.#length, maxBodyBytes)), complete: false };
  }

  async #readChunked(maxBodyBytes: number): Promise<{ body: Uint8Array; complete: boolean }> {
    const parts: Uint8Array[] = [];
    let kept = 0;
    for (;;) {
      const line = await this.#readLine("a chunk size");
      const size = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/.exec(line);
      if (!size) throw new Http1Error(`malformed answer: chunk size ${JSON.stringify(line)}`, true);
      const length = parseInt(size[1], 16);
      if (length === 0) break;
      if (kept + length > maxBodyBytes) {
        const room = maxBodyBytes - kept;
        while (this.#length < room) await this.#more("the end of a chunk");
        parts.push(this.#consume(room));
        return { body: concat(parts), complete: false };
      }
      while (this.#length < length + 2) await this.#more("the end of a chunk");
      parts.push(this.#consume(length));
      kept += length;
      if (this.#consume(2).some((byte, i) => byte !== CRLF[i])) {
        throw new Http1Error("malformed answer: a chunk not followed by CRLF", true);
      }
    }
    while ((await this.#readLine("the trailer")) !== "") {
      // trailers are not used
    }
    return { body: concat(parts), complete: true };
  }

  async #readLine(what: string): Promise<string> {
    for (;;) {
      const end = this.#buffer.subarray(0, this.#length).indexOf(LF);
      if (end > 0 && this.#buffer[end - 1] === CR) {
        return new TextDecoder("latin1").decode(this.#consume(end + 1).subarray(0, end - 1));
      }
      if (end !== -1) throw new Http1Error(`malformed answer: a bare LF in ${what}`, true);
      if (this.#length > MAX_HEAD_BYTES) throw new Http1Error(`malformed answer: ${what}`, true);
      await this.#more(what);
    }
  }
}

const CR = 13;
const LF = 10;
const CRLF = [CR, LF];

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

function indexOfBlankLine(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR && bytes[i + 3] === LF) {
      return i;
    }
  }
  return -1;
}

function concat(parts: Uint8Array[]): Uint8Array {
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

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // deno-lint-ignore no-control-regex
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
