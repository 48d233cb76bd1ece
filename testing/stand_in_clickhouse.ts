/**
 * A stand-in for ClickHouse's HTTP interface, for the health-check cases a real server cannot give
 * cheaply: a `/ping` that errors or hangs, the 503 of newer versions. It answers as Debian's
 * ClickHouse 18.16 does (bodies, status codes, `Connection` headers, no `Content-Type` on `/ping`
 * and `/replicas_status`), on 127.0.0.1. `local_clickhouse.ts` starts the real one.
 *
 * @example
 * ```ts
 * await using clickhouse = await StandInClickHouse.start();
 * const target = { kind: "clickhouse", baseUrl: clickhouse.url } as const;
 * clickhouse.setReplicas("lagging"); // /replicas_status lists the delays, as a lagging replica does
 * clickhouse.setPing("hang"); // /ping does not answer: the client has to give up
 * ```
 *
 * @module
 */

/**
 * `GET /ping`: `ok` answers 200 `Ok.\n` (as ClickHouse does); `error` answers 500 (ClickHouse's
 * own `/ping` never does; a proxy in front of it might); `hang` does not answer until the stand-in
 * is closed (the client gives up on its own).
 */
export type PingMode = "ok" | "error" | "hang";

/**
 * `GET /replicas_status`:
 * - `ok`: 200 `Ok.\n`;
 * - `lagging`: 200 with one line per replicated table and its delays in place of `Ok.`, as
 *   ClickHouse 18.16 answers while a delay is at or above `min_absolute_delay_to_close`;
 * - `lagging-503`: the same lines with 503, as ClickHouse answers since 2020 (pull request 9126);
 * - `readonly`: 500 `Table is in readonly mode`, as ClickHouse 18.16 answers while a replicated
 *   table has lost its ZooKeeper session.
 */
export type ReplicasMode = "ok" | "lagging" | "lagging-503" | "readonly";

/** Requests received so far, by path (counted when received, before the answer is chosen). */
export interface StandInRequestCounts {
  ping: number;
  replicasStatus: number;
  other: number;
}

/** A stand-in ClickHouse HTTP endpoint on 127.0.0.1. See {@link PingMode}, {@link ReplicasMode}. */
export class StandInClickHouse implements AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT` */
  readonly hostPort: string;
  /** The port it listens on. */
  readonly port: number;

  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  /** Ends every hanging answer: resolved on close. */
  readonly #closing = Promise.withResolvers<void>();
  readonly #requestWaiters = new Set<(path: string) => void>();
  #counts: StandInRequestCounts = { ping: 0, replicasStatus: 0, other: 0 };
  #ping: PingMode = "ok";
  #replicas: ReplicasMode = "ok";
  #closed?: Promise<void>;

  private constructor(start: (handler: Deno.ServeHandler) => Deno.HttpServer<Deno.NetAddr>) {
    this.#server = start((request) => this.#answer(request));
    this.port = this.#server.addr.port;
    this.hostPort = `127.0.0.1:${this.port}`;
    this.url = `http://${this.hostPort}`;
  }

  /** Starts the stand-in on a free port of 127.0.0.1; it answers healthy until told otherwise. */
  static async start(): Promise<StandInClickHouse> {
    const listening = Promise.withResolvers<void>();
    const standIn = new StandInClickHouse((handler) =>
      Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: () => listening.resolve(),
      }, handler)
    );
    await listening.promise;
    return standIn;
  }

  /** Sets how `GET /ping` answers from the next request on. */
  setPing(mode: PingMode): void {
    this.#ping = mode;
  }

  /** Sets how `GET /replicas_status` answers from the next request on. */
  setReplicas(mode: ReplicasMode): void {
    this.#replicas = mode;
  }

  /** Requests received so far, by path (a copy). */
  get requests(): StandInRequestCounts {
    return { ...this.#counts };
  }

  /** Resolves with the path of the next request received. Call before what causes it. */
  nextRequest(): Promise<string> {
    return new Promise((resolve) => {
      const waiter = (path: string) => {
        this.#requestWaiters.delete(waiter);
        resolve(path);
      };
      this.#requestWaiters.add(waiter);
    });
  }

  /** Ends hanging answers and stops the server; resolves when it has shut down. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.resolve();
      await this.#server.shutdown();
    })();
    return this.#closed;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #answer(request: Request): Response | Promise<Response> {
    const path = new URL(request.url).pathname;
    for (const waiter of [...this.#requestWaiters]) waiter(path);
    if (request.method === "POST") {
      // ClickHouse takes a POST to any path as a query; the stand-in runs none.
      this.#counts.other++;
      return answer(400, EMPTY_QUERY, { "content-type": "text/plain; charset=UTF-8" });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      this.#counts.other++;
      return answer(501, "", CLOSE);
    }
    switch (path) {
      case "/ping":
        this.#counts.ping++;
        if (this.#ping === "ok") return answer(200, "Ok.\n", {});
        if (this.#ping === "error") return answer(500, "Internal error\n", CLOSE);
        return this.#hang();
      case "/replicas_status":
        this.#counts.replicasStatus++;
        switch (this.#replicas) {
          case "ok":
            return answer(200, "Ok.\n", {});
          case "lagging":
            return answer(200, DELAYS, CLOSE);
          case "lagging-503":
            return answer(503, DELAYS, CLOSE);
          case "readonly":
            return answer(500, READONLY, CLOSE);
        }
        break;
      default:
        this.#counts.other++;
        return answer(404, noHandle(path), CLOSE);
    }
  }

  /**
   * Answers only when the stand-in closes, long after the client gave up: nobody reads that
   * answer. It does not watch `request.signal` for the client's going away: in Deno 2.9 that
   * prints a warning about the signal's legacy behaviour, and close() releases these answers
   * anyway before the server shuts down, so none outlives the stand-in.
   */
  async #hang(): Promise<Response> {
    await this.#closing.promise;
    return answer(503, "Closing\n", CLOSE);
  }
}

/** What ClickHouse 18.16 lists while `default.events` lags 420 s behind `default.hits`. */
const DELAYS = "default.events:\tAbsolute delay: 420. Relative delay: 420.\n" +
  "default.hits:\tAbsolute delay: 0. Relative delay: 0.\n";
const READONLY = "Code: 242, e.displayText() = DB::Exception: Table is in readonly mode, " +
  "e.what() = DB::Exception\n";
const EMPTY_QUERY = "Code: 62, e.displayText() = DB::Exception: Empty query, " +
  "e.what() = DB::Exception\n";
/** ClickHouse closes the connection after every answer other than `Ok.` (and query results). */
const CLOSE = { connection: "close" };

function noHandle(path: string): string {
  return `There is no handle ${path}\n\n` +
    "Use / or /ping for health checks.\n" +
    "Or /replicas_status for more sophisticated health checks.\n\n" +
    "Send queries from your program with POST method or GET /?query=...\n\n" +
    "Use clickhouse-client:\n\n" +
    "For interactive data analysis:\n    clickhouse-client\n\n" +
    "For batch query processing:\n" +
    "    clickhouse-client --query='SELECT 1' > result\n" +
    "    clickhouse-client < query > result\n";
}

/**
 * An answer with exactly these headers: the body goes in as bytes, so that no `Content-Type` is
 * added where ClickHouse sends none.
 */
function answer(status: number, body: string, headers: Record<string, string>): Response {
  return new Response(new TextEncoder().encode(body), { status, headers });
}
