/**
 * The deployed Asabru proxy's HTTP front, as observed on loopback (DESIGN.md, "Deployed"): one
 * worker takes connections one at a time; it reads a request until the client shuts down its write
 * side or has been idle for about 10 ms, answers ONE request and closes the connection, with no
 * `Connection` header. Headers other than the request line and `Authorization` are not looked at;
 * the body is everything after the blank line, so a second request written on the same
 * connection is either part of the first one's body or lost.
 *
 * **Backlog.** The proxy listens with a backlog of 5: more than about 5 connects waiting at once
 * overflow, and the client's kernel retries the SYN after a second. `Deno.listen` cannot set a
 * backlog (Deno 2.9 listens with the system's default), so it is modelled: the server accepts at
 * once into a queue of its own; a connection that arrives while {@link OneShotServerOptions.backlog}
 * others wait is held for {@link OneShotServerOptions.overflowStallMs} before it joins the queue,
 * as the SYN retry would hold it, and counted ({@link OneShotHttpServer.overflows}).
 *
 * @module
 */

/** One request as the deployed proxy reads it. */
export interface OneShotRequest {
  /** The request line's method (`POST`). */
  method: string;
  /** The request line's path, without the query. */
  path: string;
  /** The `Authorization` header's value, or `null`. */
  authorization: string | null;
  /** The `Content-Type` header's value, or `null` (recorded, never acted on). */
  contentType: string | null;
  /** Everything after the blank line, as UTF-8 text. */
  body: string;
  /** The client's port. */
  remotePort: number;
  /** Whether the client shut down its write side (rather than going idle). */
  halfClosed: boolean;
}

/** An answer; `undefined` from a handler closes the connection without one. */
export interface OneShotAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Options of {@link OneShotHttpServer.listen}. */
export interface OneShotServerOptions {
  /** The port on 127.0.0.1 (0: a free one). */
  port: number;
  /** Handles one request; its answer is written, then the connection is closed. */
  handle: (request: OneShotRequest) => Promise<OneShotAnswer | undefined>;
  /** How long a client may send nothing before its request counts as complete. Default 10 ms. */
  idleMs?: number;
  /**
   * How long it waits for a connection's first byte. Default `idleMs` (as the proxy: a client
   * that writes more than 10 ms after connecting is closed on unread). Tests whose client and
   * stand-in share one busy process set it longer, where that is not what they test.
   */
  firstByteMs?: number;
  /** Connections that may wait for the worker before the next one overflows. Default 5. */
  backlog?: number;
  /** How long an overflowing connect is held (the client's SYN retry). Default 1000 ms. */
  overflowStallMs?: number;
  /**
   * How long after its answer a connection is closed. Default 2 ms: the deployed proxy's close
   * follows its answer a moment later, and a client that took the answer for keep-alive wrote its
   * next request into that moment (lost: 23-46% of a burst's requests, issue 15).
   */
  lingerMs?: number;
}

const encoder = new TextEncoder();

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  401: "Unauthorized",
  404: "Not Found",
  500: "Internal Server Error",
};

/** See the module documentation. {@link close} ends every connection and timer it holds. */
export class OneShotHttpServer {
  /** The port it listens on. */
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #options: Required<Omit<OneShotServerOptions, "port">>;
  /** Accepted, waiting for the worker: the modelled listen queue. */
  readonly #waiting: Deno.TcpConn[] = [];
  /** Every connection not yet closed, and every timer (overflow, linger), so close() ends them all. */
  readonly #open = new Set<Deno.TcpConn>();
  readonly #stalls = new Set<ReturnType<typeof setTimeout>>();
  #wakeWorker: (() => void) | undefined;
  #closed = false;
  readonly #loops: Promise<void>[];
  #overflows = 0;
  #lostRequests = 0;
  #accepted = 0;
  #mostWaiting = 0;

  private constructor(listener: Deno.TcpListener, options: OneShotServerOptions) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#options = {
      handle: options.handle,
      idleMs: options.idleMs ?? 10,
      firstByteMs: options.firstByteMs ?? options.idleMs ?? 10,
      backlog: options.backlog ?? 5,
      overflowStallMs: options.overflowStallMs ?? 1000,
      lingerMs: options.lingerMs ?? 2,
    };
    this.#loops = [this.#acceptLoop(), this.#worker()];
  }

  /**
   * Listens on 127.0.0.1.
   *
   * @throws `Deno.errors.AddrInUse` when the port is taken.
   */
  static listen(options: OneShotServerOptions): OneShotHttpServer {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port, transport: "tcp" });
    return new OneShotHttpServer(listener, options);
  }

  /** Connects that overflowed the modelled backlog so far. */
  get overflows(): number {
    return this.#overflows;
  }

  /** Requests (bytes) a client wrote after its answer, while the connection was being closed. */
  get lostRequests(): number {
    return this.#lostRequests;
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** The most connections that waited for the worker at once. */
  get mostWaiting(): number {
    return this.#mostWaiting;
  }

  /**
   * Stops listening and closes every connection, the one being served included (its client sees
   * the connection reset or closed without an answer). Resolves when both loops have ended.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
      for (const timer of this.#stalls) clearTimeout(timer);
      this.#stalls.clear();
      for (const conn of this.#open) closeQuietly(conn);
      this.#open.clear();
      this.#waiting.length = 0;
      this.#wakeWorker?.();
    }
    await Promise.all(this.#loops);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (this.#closed) {
        closeQuietly(conn);
        return;
      }
      this.#accepted++;
      this.#open.add(conn);
      if (this.#waiting.length >= this.#options.backlog) {
        this.#overflows++;
        const timer = setTimeout(() => {
          this.#stalls.delete(timer);
          this.#enqueue(conn);
        }, this.#options.overflowStallMs);
        this.#stalls.add(timer);
      } else {
        this.#enqueue(conn);
      }
    }
  }

  #enqueue(conn: Deno.TcpConn): void {
    if (this.#closed) return;
    this.#waiting.push(conn);
    this.#mostWaiting = Math.max(this.#mostWaiting, this.#waiting.length);
    this.#wakeWorker?.();
  }

  /** The one worker: a connection at a time, in arrival order. */
  async #worker(): Promise<void> {
    while (!this.#closed) {
      const conn = this.#waiting.shift();
      if (conn === undefined) {
        await new Promise<void>((resolve) => this.#wakeWorker = resolve);
        this.#wakeWorker = undefined;
        continue;
      }
      let answered = false;
      try {
        answered = await this.#serve(conn);
      } catch {
        // the client went away, or close() ended the connection: nothing to answer
      }
      if (answered && this.#options.lingerMs > 0 && !this.#closed) {
        // Closed a moment later; the worker goes on meanwhile. Whatever the client writes now is
        // lost (a request written to a connection the proxy is closing): counted.
        conn.read(new Uint8Array(1)).then((n) => {
          if (n !== null) this.#lostRequests++;
        }, () => {});
        const timer = setTimeout(() => {
          this.#stalls.delete(timer);
          this.#open.delete(conn);
          closeQuietly(conn);
        }, this.#options.lingerMs);
        this.#stalls.add(timer);
      } else {
        this.#open.delete(conn);
        closeQuietly(conn);
      }
    }
  }

  /** Reads one request and answers it; whether an answer was written. */
  async #serve(conn: Deno.TcpConn): Promise<boolean> {
    const read = await readRequest(conn, this.#options.idleMs, this.#options.firstByteMs);
    if (read === undefined || this.#closed) return false;
    const request = parseRequest(read.bytes, conn.remoteAddr.port, read.halfClosed);
    const answer = request === undefined
      ? { status: 500, contentType: "text/plain", body: "Error parsing xml document." }
      : await this.#options.handle(request);
    if (answer === undefined || this.#closed) return false;
    const body = encoder.encode(answer.body);
    const head = `HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? "Unknown"}\r\n` +
      `Content-Type: ${answer.contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
    // One write, head and body together (two would meet the delayed-ACK stall).
    const bytes = encoder.encode(head + answer.body);
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    return true;
  }
}

/**
 * Reads until the client half-closes or sends nothing for `idleMs`; `undefined` when it sent
 * nothing at all. A read still pending after the idle time is left to fail when the connection is
 * closed: what the client sends later is lost, as with the proxy.
 */
async function readRequest(
  conn: Deno.TcpConn,
  idleMs: number,
  firstByteMs: number,
): Promise<{ bytes: Uint8Array; halfClosed: boolean } | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let halfClosed = false;
  let buffer = new Uint8Array(16 * 1024);
  for (;;) {
    const reading = conn.read(buffer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<"idle">((resolve) =>
      timer = setTimeout(() => resolve("idle"), total === 0 ? firstByteMs : idleMs)
    );
    const n = await Promise.race([reading, idle]).finally(() => clearTimeout(timer));
    if (n === "idle") {
      reading.catch(() => {});
      break;
    }
    if (n === null) {
      halfClosed = true;
      break;
    }
    chunks.push(buffer.subarray(0, n));
    buffer = buffer.subarray(n);
    if (buffer.length < 1024) buffer = new Uint8Array(64 * 1024);
    total += n;
  }
  if (total === 0) return undefined;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes, halfClosed };
}

/** Request line, two headers, and the body after the first blank line; `undefined`: no head. */
function parseRequest(
  bytes: Uint8Array,
  remotePort: number,
  halfClosed: boolean,
): OneShotRequest | undefined {
  const text = new TextDecoder().decode(bytes);
  const blank = text.indexOf("\r\n\r\n");
  if (blank === -1) return undefined;
  const [requestLine, ...headerLines] = text.slice(0, blank).split("\r\n");
  const line = /^([A-Z]+) ([^ ?]*)(?:\?[^ ]*)? HTTP\/1\.[01]$/.exec(requestLine);
  if (!line) return undefined;
  const header = (name: string) => {
    for (const headerLine of headerLines) {
      const colon = headerLine.indexOf(":");
      if (colon > 0 && headerLine.slice(0, colon).trim().toLowerCase() === name) {
        return headerLine.slice(colon + 1).trim();
      }
    }
    return null;
  };
  return {
    method: line[1],
    path: line[2],
    authorization: header("authorization"),
    contentType: header("content-type"),
    body: text.slice(blank + 4),
    remotePort,
    halfClosed,
  };
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
