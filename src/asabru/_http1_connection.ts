/**
 * One kept-alive HTTP/1.1 connection of {@link Http1Pool}: the requests on it (written and waiting
 * for their answers in order, then those still to write), writing them (pipelined once it has
 * proven it stays open), handing each answer to its request, and ending: a server's close, an
 * abort, bytes nobody asked for. The answers themselves are parsed by `_http1_answer_reader.ts`.
 * Private to `http1_pool.ts`.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { concat, describe, Http1Error, type Http1Response, writeAll } from "./_http1_wire.ts";
import { AnswerReader, type ConnectionView } from "./_http1_answer_reader.ts";

const READ_CHUNK_BYTES = 16 * 1024;

/** One request on its way: its bytes, and how to settle its caller's promise. */
export interface Pending {
  readonly bytes: Uint8Array;
  readonly signal: AbortSignal;
  readonly resolve: (answer: Http1Response) => void;
  readonly reject: (error: Http1Error) => void;
  readonly onAbort: () => void;
  connection: Connection | undefined;
  written: boolean;
}

/** How a connection is made, and what the pool learns of it. */
export interface ConnectionHooks {
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
export class Connection {
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
  #ended = false;
  #endCause: unknown;
  #closed = false;
  readonly #reader = new AnswerReader(Connection.#viewOf(this));

  /** `performance.now()` when it last became idle. */
  idleSince = performance.now();

  /** What the reader asks of this connection while it waits for bytes. */
  static #viewOf(connection: Connection): ConnectionView {
    return {
      get closed() {
        return connection.#closed;
      },
      get ended() {
        return connection.#ended;
      },
      get endCause() {
        return connection.#endCause;
      },
      get onlyFirstRequest() {
        return !connection.#proven && connection.#written.length === 1;
      },
    };
  }

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
    this.#reader.wake();
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
        const answer = await this.#reader.read(this.#hooks.maxBodyBytes);
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
    if (this.#reader.buffered > 0) {
      return this.close(new Http1Error("the connection is out of step", true));
    }
    this.idleSince = performance.now();
    // Its pending read (watching for the server's close) must not keep a process alive.
    this.#conn?.unref();
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
        this.#reader.append(chunk.subarray(0, n));
        this.#reader.wake();
      }
    } catch (error) {
      this.#endCause = error;
    }
    this.#ended = true;
    this.#reader.wake();
    if (this.#written.length === 0 && !this.#closed) {
      this.close(new Http1Error("the server closed the connection", true));
    }
  }
}
