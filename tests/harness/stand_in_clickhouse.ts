/**
 * A stand-in for ClickHouse's HTTP interface, for health-check tests: `GET /ping` and
 * `GET /replicas_status`, each switchable between a healthy and an unhealthy answer, on 127.0.0.1.
 *
 * @example
 * ```ts
 * await using clickhouse = await StandInClickHouse.start();
 * const target = { kind: "clickhouse", baseUrl: clickhouse.url } as const;
 * clickhouse.setReplicas("lagging"); // /replicas_status answers 503, as a lagging replica does
 * clickhouse.setPing("hang"); // /ping does not answer: the client has to give up
 * ```
 *
 * @module
 */

/**
 * `GET /ping`: `ok` answers 200 `Ok.\n` (as ClickHouse does); `error` answers 500; `hang` does not
 * answer until the stand-in is closed (the client gives up on its own).
 */
export type PingMode = "ok" | "error" | "hang";

/**
 * `GET /replicas_status`: `ok` answers 200 `Ok.\n`; `lagging` answers 503 with the lagging table
 * and its delays, as ClickHouse does while a replica's delay is above its limit.
 */
export type ReplicasMode = "ok" | "lagging";

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
    if (request.method !== "GET" && request.method !== "HEAD") {
      this.#counts.other++;
      return text(405, "Method not allowed\n");
    }
    switch (path) {
      case "/ping":
        this.#counts.ping++;
        if (this.#ping === "ok") return text(200, "Ok.\n");
        if (this.#ping === "error") return text(500, "Internal error\n");
        return this.#hang();
      case "/replicas_status":
        this.#counts.replicasStatus++;
        if (this.#replicas === "ok") return text(200, "Ok.\n");
        return text(503, "default.events:\tAbsolute delay: 420. Relative delay: 420.\n");
      default:
        this.#counts.other++;
        return text(404, "There is no handle " + path + "\n");
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
    return text(503, "Closing\n");
  }
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=UTF-8" } });
}
