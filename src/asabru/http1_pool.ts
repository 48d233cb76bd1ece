/**
 * A small HTTP/1.1 client for one `http:` origin: a few kept-alive TCP connections (`TCP_NODELAY`),
 * requests written whole, answers parsed here. It exists because the monitor's cost per update was
 * mostly `fetch`'s: about 130 µs of CPU per request, against about 30 µs over a plain socket
 * (measured in `bench/`, issue 7).
 *
 * **Pipelining.** A request goes to an idle connection, or opens a new one while fewer than
 * `maxConnections` are open; beyond that it is pipelined (RFC 9112, 9.3.2) on the least busy
 * connection, and answers come back in order. Requests that queue on a connection while it writes
 * go out together, in one write: at thousands of updates a second this costs the monitor (and the
 * proxy) far fewer system calls than one connection per request in flight. A connection pipelines
 * only after it has answered once and stayed open, so a server that closes after each answer never
 * gets a second request on a connection. `maxConnections` at least the caller's concurrency turns
 * pipelining off.
 *
 * **What a failure tells.** The caller needs to know whether a failed request may have reached the
 * server ({@link Http1Error.sent}). A request counts as sent from the moment its bytes are handed to
 * the socket. When a connection fails, every request written on it and not answered fails as sent;
 * requests still waiting to be written move to another connection (nothing of them left), or fail
 * as not sent when no connection can be made. Aborting a written request closes its connection (the
 * answers behind it could no longer be told apart); aborting one not yet written only takes it off
 * the queue.
 *
 * Each connection keeps a read pending while idle, so a server that closes an idle connection is
 * noticed at once; the race of a server closing at the very moment a request is written remains,
 * and comes back as a sent failure (the safe side).
 *
 * Limits: `Deno.connect` tries only the first address a name resolves to (for `localhost` both
 * loopback addresses are tried); answers with a body over `maxBodyBytes` are cut there (the
 * connection is then closed, not drained); no `Expect`, no upgrades.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import {
  concat,
  connectTo,
  CR,
  CRLF,
  describe,
  Http1Error,
  Http1NoAnswerError,
  type Http1Response,
  indexOfBlankLine,
  latin1,
  LF,
  parseResponseHead,
  type ResponseHead,
  startsWith,
  utf8,
  writeAll,
} from "./_http1_wire.ts";

export { Http1Error, type Http1Response, parseResponseHead, type ResponseHead };

/** Options of {@link Http1Pool}. */
export interface Http1PoolOptions {
  hostname: string;
  port: number;
  /** The most of an answer's body kept; the rest is not read and the connection is closed. */
  maxBodyBytes?: number;
  /** How long an unused connection stays open. Default 30 s. */
  idleTimeoutMs?: number;
  /** Connections opened at most; requests beyond are pipelined on them. Default 4. */
  maxConnections?: number;
  /** How long making a connection may take before its requests fail (not sent). Default 5 s. */
  connectTimeoutMs?: number;
  /**
   * Asked after every answer that HTTP would let the connection be used again: `false` closes it
   * instead. A server that answers once and closes without saying so (the deployed Asabru proxy:
   * no `Connection: close`) is told by its answer, and must never get a second request on a
   * connection it is closing. Default: every such answer allows reuse.
   */
  reuseAfter?: (answer: Http1Response) => boolean;
}

const MAX_HEAD_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 16 * 1024;

/** One request on its way: its bytes, and how to settle its caller's promise. */
interface Pending {
  readonly bytes: Uint8Array;
  readonly signal: AbortSignal;
  readonly resolve: (answer: Http1Response) => void;
  readonly reject: (error: Http1Error) => void;
  readonly onAbort: () => void;
  connection: Connection | undefined;
  written: boolean;
}

/**
 * Kept-alive connections to one origin. A connection is reused only after a complete answer that
 * allows it, and only in step: bytes nobody asked for end it.
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
  readonly #maxConnections: number;
  readonly #connectTimeoutMs: number;
  readonly #reuseAfter: (answer: Http1Response) => boolean;
  /** Every connection not yet ended: connecting, busy or idle. */
  readonly #connections = new Set<Connection>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Opens nothing yet: connections are made by the requests that need them. */
  constructor(options: Http1PoolOptions) {
    this.#hostname = options.hostname;
    this.#port = options.port;
    this.#maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.#maxConnections = Math.max(1, options.maxConnections ?? 4);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#reuseAfter = options.reuseAfter ?? (() => true);
  }

  /** Connections open (or being opened) now, idle or busy. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /**
   * Writes `request` (a complete HTTP/1.1 request) on a connection of the pool and reads its
   * answer. Aborting `signal` rejects; if the request was written, its connection is closed.
   *
   * @throws {Http1Error} on any failure, `sent: false` only when nothing was written.
   */
  request(request: Uint8Array, signal: AbortSignal): Promise<Http1Response> {
    if (this.#closed) return Promise.reject(new Http1Error("the client is closed", false));
    if (signal.aborted) return Promise.reject(new Http1Error("aborted before sending", false));
    const { promise, resolve, reject } = Promise.withResolvers<Http1Response>();
    const pending: Pending = {
      bytes: request,
      signal,
      resolve: (answer) => {
        signal.removeEventListener("abort", pending.onAbort);
        resolve(answer);
      },
      reject: (error) => {
        signal.removeEventListener("abort", pending.onAbort);
        reject(error);
      },
      onAbort: () => pending.connection?.abort(pending),
      connection: undefined,
      written: false,
    };
    signal.addEventListener("abort", pending.onAbort);
    this.#place(pending);
    return promise;
  }

  /** Closes every connection; requests in flight reject (sent), later ones reject (not sent). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const connection of [...this.#connections]) {
      connection.close(new Http1Error("the client is closed", true));
    }
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Puts a request on the least busy connection, or on a new one while there is room. */
  #place(pending: Pending): void {
    if (this.#closed) return pending.reject(new Http1Error("the client is closed", false));
    let best: Connection | undefined;
    for (const connection of this.#connections) {
      if (!connection.accepting) continue;
      if (
        best === undefined || connection.load < best.load ||
        (connection.load === best.load && connection.idleSince > best.idleSince)
      ) {
        best = connection;
      }
    }
    if (best === undefined || (best.load > 0 && this.#connections.size < this.#maxConnections)) {
      best = this.#open();
    }
    best.enqueue(pending);
  }

  #open(): Connection {
    const connection = new Connection({
      connect: () => this.#connect(),
      maxBodyBytes: this.#maxBodyBytes,
      reuseAfter: this.#reuseAfter,
      onEnded: (unwritten) => {
        this.#connections.delete(connection);
        if (this.#connections.size === 0) {
          clearInterval(this.#sweeper);
          this.#sweeper = undefined;
        }
        // Nothing of these reached the server: they go on another connection.
        for (const pending of unwritten) this.#place(pending);
      },
    });
    this.#connections.add(connection);
    // One timer for every idle connection (not one per request): closes those unused too long.
    if (this.#sweeper === undefined) {
      const sweeper = setInterval(() => this.#closeUnused(), this.#idleTimeoutMs / 2);
      Deno.unrefTimer(sweeper);
      this.#sweeper = sweeper;
    }
    return connection;
  }

  #closeUnused(): void {
    const now = performance.now();
    for (const connection of [...this.#connections]) {
      if (connection.load === 0 && now - connection.idleSince >= this.#idleTimeoutMs) {
        connection.close(new Http1Error("closed after the idle timeout", true));
      }
    }
  }

  /** Connects to the first address that answers, within the connect timeout. */
  #connect(): Promise<Deno.TcpConn> {
    return connectTo(this.#hostname, this.#port, { timeoutMs: this.#connectTimeoutMs });
  }
}

/** What {@link Connection.readResponse} found. */
interface ParsedAnswer {
  status: number;
  body: string;
  keepAlive: boolean;
}

/** How a connection is made, and what the pool learns of it. */
interface ConnectionHooks {
  connect: () => Promise<Deno.TcpConn>;
  maxBodyBytes: number;
  reuseAfter: (answer: Http1Response) => boolean;
  /** The connection has ended; `unwritten` are its requests of which nothing was written. */
  onEnded: (unwritten: Pending[]) => void;
}

/**
 * One TCP connection: the requests on it (written and waiting for their answers in order, then
 * those still to write), and the bytes read from it but not yet consumed.
 */
class Connection {
  readonly #hooks: ConnectionHooks;
  #conn: Deno.TcpConn | undefined;
  /** Written, waiting for their answers, oldest first. */
  readonly #written: Pending[] = [];
  /** Not written yet, in arrival order. */
  #unwritten: Pending[] = [];
  #writing = false;
  #flushScheduled = false;
  #answering = false;
  /** Has answered once and stayed open: may pipeline. */
  #proven = false;
  #buffer = new Uint8Array(4096);
  #length = 0;
  #lastHeadBytes: Uint8Array = new Uint8Array(0);
  #lastHead: ResponseHead | undefined;
  #ended = false;
  #endCause: unknown;
  #closed = false;
  #wake: (() => void) | undefined;
  /** `performance.now()` when it last became idle. */
  idleSince = performance.now();

  constructor(hooks: ConnectionHooks) {
    this.#hooks = hooks;
    void this.#start();
  }

  /** Requests on it, written or not. */
  get load(): number {
    return this.#written.length + this.#unwritten.length;
  }

  /** Whether it takes more requests. */
  get accepting(): boolean {
    return !this.#closed && !this.#ended;
  }

  enqueue(pending: Pending): void {
    pending.connection = this;
    pending.written = false;
    this.#unwritten.push(pending);
    this.#pump();
  }

  /** The caller gave up on `pending`: off the queue if unwritten, else the connection closes. */
  abort(pending: Pending): void {
    if (pending.connection !== this) return;
    if (!pending.written) {
      const index = this.#unwritten.indexOf(pending);
      if (index !== -1) this.#unwritten.splice(index, 1);
      pending.reject(new Http1Error("aborted before sending", false));
      this.#becameIdleMaybe();
      return;
    }
    const index = this.#written.indexOf(pending);
    if (index !== -1) this.#written.splice(index, 1);
    pending.reject(new Http1Error("aborted", true));
    this.close(
      new Http1Error(
        "the connection was closed: a request before this one on it was aborted",
        true,
      ),
    );
  }

  /**
   * Closes the connection: written requests fail with `cause` (sent), unwritten ones go back to
   * the pool.
   */
  close(cause: Http1Error): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn?.close();
    } catch {
      // already closed by the read loop's end
    }
    this.#wake?.();
    for (const pending of this.#written.splice(0)) pending.reject(cause);
    const unwritten = this.#unwritten;
    this.#unwritten = [];
    for (const pending of unwritten) pending.connection = undefined;
    this.#hooks.onEnded(unwritten);
  }

  async #start(): Promise<void> {
    try {
      this.#conn = await this.#hooks.connect();
    } catch (error) {
      this.#closed = true;
      const failure = error instanceof Http1Error
        ? error
        : new Http1Error(describe(error), false, { cause: error });
      const unwritten = this.#unwritten;
      this.#unwritten = [];
      this.#hooks.onEnded([]);
      for (const pending of unwritten) pending.reject(failure);
      return;
    }
    if (this.#closed) {
      this.#conn.close();
      return;
    }
    void this.#readLoop(this.#conn);
    this.#pump();
    this.#becameIdleMaybe(); // its requests may all have been aborted while it connected
  }

  /**
   * Writes what waits: one request until the connection has proven it stays open, then all of
   * them in one write. With answers still due the write waits for the end of this turn of the
   * event loop (`setImmediate`), so the requests queued meanwhile go out together.
   */
  #pump(): void {
    const conn = this.#conn;
    if (conn === undefined || this.#writing || this.#closed || this.#ended) return;
    if (this.#unwritten.length === 0) return;
    if (!this.#proven && this.#written.length > 0) return;
    if (this.#written.length > 0) {
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush(conn);
        });
      }
      return;
    }
    this.#flush(conn);
  }

  #flush(conn: Deno.TcpConn): void {
    if (this.#writing || this.#closed || this.#ended || this.#unwritten.length === 0) return;
    const batch = this.#proven ? this.#unwritten.splice(0) : this.#unwritten.splice(0, 1);
    for (const pending of batch) {
      pending.written = true;
      this.#written.push(pending);
    }
    this.#writing = true;
    conn.ref();
    this.#answer();
    writeAll(conn, batch.length === 1 ? batch[0].bytes : concat(batch.map((p) => p.bytes))).then(
      () => {
        this.#writing = false;
        this.#pump();
      },
      (error) => {
        this.#writing = false;
        this.close(
          new Http1Error(`writing the request failed: ${describe(error)}`, true, { cause: error }),
        );
      },
    );
  }

  /** Reads answers while requests wait for them, and hands each to the oldest. */
  async #answer(): Promise<void> {
    if (this.#answering) return;
    this.#answering = true;
    try {
      while (this.#written.length > 0 && !this.#closed) {
        const answer = await this.readResponse(this.#hooks.maxBodyBytes);
        const pending = this.#written.shift();
        if (pending === undefined) break; // closed meanwhile
        const response = { status: answer.status, body: answer.body };
        pending.resolve(response);
        if (!answer.keepAlive || !this.#hooks.reuseAfter(response)) {
          this.close(
            new Http1Error("the server closed the connection after an earlier answer", true),
          );
          return;
        }
        this.#proven = true;
        this.#pump();
      }
    } catch (error) {
      this.close(
        error instanceof Http1Error
          ? error
          : new Http1Error(describe(error), true, { cause: error }),
      );
      return;
    } finally {
      this.#answering = false;
    }
    this.#becameIdleMaybe();
  }

  /** After an answer or an abort: ends a connection the server has hung up, or parks it idle. */
  #becameIdleMaybe(): void {
    if (this.#closed) return;
    // A server that hung up right after its last answer: what waits to be written moves on.
    if (this.#ended && this.#written.length === 0) {
      return this.close(new Http1Error("the server closed the connection", true));
    }
    if (this.load > 0) return;
    // Bytes nobody asked for: never reuse it.
    if (this.#length > 0) return this.close(new Http1Error("the connection is out of step", true));
    this.idleSince = performance.now();
    // Its pending read (watching for the server's close) must not keep a process alive.
    this.#conn?.unref();
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
        body: utf8(body),
        // An answer delimited by the end of the connection is never complete (`#readToEnd`).
        keepAlive: complete && head.keepAlive,
      };
    }
  }

  async #readLoop(conn: Deno.TcpConn): Promise<void> {
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) break;
        if (this.#written.length === 0) {
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
    if (this.#written.length === 0 && !this.#closed) {
      this.close(new Http1Error("the server closed the connection", true));
    }
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
    this.#drop(n);
    return taken;
  }

  /** Removes the first `n` buffered bytes. */
  #drop(n: number): void {
    this.#buffer.copyWithin(0, n, this.#length);
    this.#length -= n;
  }

  /** Waits until more bytes arrive; throws when the connection ends first. */
  async #more(what: string): Promise<void> {
    const before = this.#length;
    while (this.#length === before) {
      if (this.#closed) throw new Http1Error(`connection closed while waiting for ${what}`, true);
      if (this.#ended) {
        // A fresh connection, one request, a clean close without a byte: the server read nothing
        // (the deployed proxy after 10 ms idle) or went down (and forgot): nothing applied.
        if (
          this.#endCause === undefined && this.#length === 0 && !this.#proven &&
          this.#written.length === 1
        ) {
          throw new Http1NoAnswerError();
        }
        const cause = this.#endCause === undefined ? "" : `: ${describe(this.#endCause)}`;
        throw new Http1Error(`the server closed the connection before ${what}${cause}`, true);
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  /**
   * Parses the head in the first `length` buffered bytes and consumes them. A proxy sends the
   * same head over and over: the bytes of the last one parsed are kept, and a head equal to them
   * is not decoded and parsed again.
   */
  #takeHead(length: number): ResponseHead | string {
    const last = this.#lastHeadBytes;
    if (this.#lastHead !== undefined && last.length === length && startsWith(this.#buffer, last)) {
      this.#drop(length);
      return this.#lastHead;
    }
    const bytes = this.#consume(length);
    const head = parseResponseHead(latin1(bytes));
    if (typeof head !== "string") {
      this.#lastHeadBytes = bytes;
      this.#lastHead = head;
    }
    return head;
  }

  async #readHead(): Promise<ResponseHead> {
    let searchFrom = 0;
    for (;;) {
      const end = indexOfBlankLine(this.#buffer, searchFrom, this.#length);
      if (end !== -1) {
        const head = this.#takeHead(end + 4);
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
        return latin1(this.#consume(end + 1).subarray(0, end - 1));
      }
      if (end !== -1) throw new Http1Error(`malformed answer: a bare LF in ${what}`, true);
      if (this.#length > MAX_HEAD_BYTES) throw new Http1Error(`malformed answer: ${what}`, true);
      await this.#more(what);
    }
  }
}
