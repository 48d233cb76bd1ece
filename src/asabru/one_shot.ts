/**
 * HTTP/1.1 for a server that answers one request per connection and closes (the deployed Asabru
 * proxy): each request gets a connection of its own, is written whole, and the write side is then
 * shut down (`closeWrite()`), which tells the server the request is complete. Without that the
 * deployed proxy waits until the client has been idle for about 10 ms: 100 requests/s instead of
 * about 1,900 (measured on the real proxy, issue 15).
 *
 * At most `maxConnections` connections are open at once, the others wait their turn here: the
 * deployed proxy listens with a backlog of 5 and one worker, and more connects than that stall for
 * a second in the client's SYN retry.
 *
 * A failure is "not sent" ({@link Http1Error.sent} false) only when the connection could not be
 * made (or the request was aborted while it waited for one); from the first byte written, it is
 * sent. A connection is never used twice, so a request is never written to a connection the
 * server is closing.
 *
 * @module
 */
import {
  connectTo,
  describe,
  Http1Error,
  Http1NoAnswerError,
  type Http1Response,
  indexOfBlankLine,
  latin1,
  parseResponseHead,
  utf8,
  writeAll,
} from "./_http1_wire.ts";

/** Options of {@link OneShotClient}. */
export interface OneShotClientOptions {
  hostname: string;
  port: number;
  /** Connections open at once, at most. Default 4. */
  maxConnections?: number;
  /** The most of an answer's body kept. Default 64 KiB. */
  maxBodyBytes?: number;
}

const MAX_HEAD_BYTES = 64 * 1024;

/**
 * See the module documentation.
 *
 * @example
 * ```ts
 * using client = new OneShotClient({ hostname: "127.0.0.1", port: 18080 });
 * const answer = await client.request(requestBytes, AbortSignal.timeout(5000));
 * ```
 */
export class OneShotClient implements Disposable {
  readonly #options: Required<OneShotClientOptions>;
  /** Requests waiting for a connection slot, oldest first. */
  readonly #waiting: Array<() => void> = [];
  readonly #open = new Set<Deno.TcpConn>();
  #inUse = 0;
  #mostInUse = 0;
  #closed = false;

  /** Opens nothing yet. */
  constructor(options: OneShotClientOptions) {
    this.#options = {
      hostname: options.hostname,
      port: options.port,
      maxConnections: Math.max(1, options.maxConnections ?? 4),
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    };
  }

  /** Connections open (or being opened) now. */
  get openConnections(): number {
    return this.#inUse;
  }

  /** The most connections that were open at once. */
  get mostOpenConnections(): number {
    return this.#mostInUse;
  }

  /**
   * Sends `request` (a complete HTTP/1.1 request) on a connection of its own, shuts the write
   * side, and reads the one answer.
   *
   * @throws {Http1Error} on any failure; `sent: false` only when nothing was written.
   */
  async request(request: Uint8Array, signal: AbortSignal): Promise<Http1Response> {
    if (this.#closed) throw new Http1Error("the client is closed", false);
    await this.#acquire(signal);
    let conn: Deno.TcpConn | undefined;
    let written = false;
    const onAbort = () => conn?.close();
    try {
      // The request's own deadline bounds the connect (a timer per connection would cost more
      // than the rest of the request at thousands a second).
      conn = await connectTo(this.#options.hostname, this.#options.port, { signal });
      if (this.#closed || signal.aborted) {
        throw new Http1Error(
          this.#closed ? "the client is closed" : "aborted before sending",
          false,
        );
      }
      this.#open.add(conn);
      signal.addEventListener("abort", onAbort, { once: true });
      written = true;
      await writeAll(conn, request);
      await conn.closeWrite();
      return await this.#readAnswer(conn);
    } catch (error) {
      if (error instanceof Http1Error && !(written && !error.sent)) throw error;
      const reason = signal.aborted
        ? "aborted"
        : this.#closed
        ? "the client is closed"
        : `the connection broke: ${describe(error)}`;
      throw new Http1Error(reason, written, { cause: error });
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (conn) {
        this.#open.delete(conn);
        try {
          conn.close();
        } catch {
          // closed by an abort or by close()
        }
      }
      this.#release();
    }
  }

  /** Ends every connection (their requests fail as sent) and refuses new requests. */
  close(): void {
    this.#closed = true;
    for (const conn of this.#open) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    for (const wake of this.#waiting.splice(0)) wake();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #acquire(signal: AbortSignal): Promise<void> {
    while (this.#inUse >= this.#options.maxConnections) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiting.push(resolve);
      const onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      await promise;
      signal.removeEventListener("abort", onAbort);
      const index = this.#waiting.indexOf(resolve);
      if (index !== -1) this.#waiting.splice(index, 1);
      if (this.#closed) throw new Http1Error("the client is closed", false);
      if (signal.aborted) throw new Http1Error("aborted before sending", false);
    }
    this.#inUse++;
    this.#mostInUse = Math.max(this.#mostInUse, this.#inUse);
  }

  #release(): void {
    this.#inUse--;
    this.#waiting.shift()?.();
  }

  /** Reads until the answer is complete (its Content-Length) or the server closes. */
  async #readAnswer(conn: Deno.TcpConn): Promise<Http1Response> {
    // The proxy's answers are about a hundred bytes: start small, grow up to the limit.
    const limit = this.#options.maxBodyBytes + MAX_HEAD_BYTES;
    let buffer = new Uint8Array(1024);
    let length = 0;
    let headEnd = -1;
    let bodyLength: number | undefined;
    let status = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length >= limit) break; // enough: the rest is not read
        const grown = new Uint8Array(Math.min(limit, buffer.length * 4));
        grown.set(buffer);
        buffer = grown;
      }
      const n = await conn.read(buffer.subarray(length));
      if (n === null) break;
      length += n;
      if (headEnd === -1) {
        headEnd = indexOfBlankLine(buffer, 0, length);
        if (headEnd === -1) continue;
        const head = parseResponseHead(latin1(buffer.subarray(0, headEnd)));
        if (typeof head === "string") throw new Http1Error(`malformed answer: ${head}`, true);
        if (head.chunked) throw new Http1Error("malformed answer: chunked (not expected)", true);
        status = head.status;
        bodyLength = head.contentLength;
      }
      if (bodyLength !== undefined && length - (headEnd + 4) >= bodyLength) break;
    }
    if (length === 0) throw new Http1NoAnswerError();
    if (headEnd === -1) {
      throw new Http1Error(
        "the server closed the connection in the middle of the answer's head",
        true,
      );
    }
    const body = buffer.subarray(headEnd + 4, length);
    if (bodyLength !== undefined && body.length < bodyLength && length < limit) {
      throw new Http1Error("the server closed the connection before the end of the answer", true);
    }
    const kept = body.subarray(0, Math.min(bodyLength ?? body.length, this.#options.maxBodyBytes));
    return { status, body: utf8(kept) };
  }
}
