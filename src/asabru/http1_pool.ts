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
import {
  connectTo,
  Http1Error,
  type Http1Response,
  parseResponseHead,
  type ResponseHead,
} from "./_http1_wire.ts";
import { Connection, type Pending } from "./_http1_connection.ts";

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
