/**
 * The benchmark's stand-in for the Asabru proxy: a `Deno.serve` HTTP server on 127.0.0.1 that
 * timestamps every request on arrival with `performance.now()` (the driver runs in the same
 * process, so driver and receiver share one monotonic clock), reads just enough of the XML body
 * to know the operation, end point and service, and answers `{"status":"ok"}` in a single write
 * on a keep-alive connection (a receiver that writes headers and body apart adds a 40 ms
 * delayed-ACK stall per request).
 *
 * It keeps no balancer lists: it counts. Waiting is event-driven (a waiter is checked on every
 * arrival), never a poll, so the receiver adds nothing to the latencies it measures.
 *
 * Whole-state delivery (`POST /configuration`): each push is compared with the one before, and
 * every service it adds or drops is recorded as an add or a delete arriving when the push did, so
 * the scenarios time both modes alike. The template's static services ({@link STATIC_SERVICE}) are
 * not counted. {@link BenchReceiver.reset} forgets the last push too: the next one's services all
 * count as adds.
 *
 * @module
 */

/** One update as it arrived. */
export interface Arrival {
  /** `performance.now()` when the handler was entered. */
  at: number;
  op: "add" | "delete";
  /** `endPoint/service` */
  key: string;
  /** The client's port: one per keep-alive connection. */
  remotePort: number;
}

const OK_BODY = '{"status":"ok"}';
/** The deployed proxy's answer to a whole configuration. */
const UPDATED = "Configuration Updated Successfully!";
/** The name of each end point's static service in the benchmark's template (not counted). */
export const STATIC_SERVICE = "static";
/** An end point or a service of a pushed document (the benchmark's names need no unescaping). */
const DOCUMENT_NAMES = /<(END_POINT|SERVICE) name="([^"]*)"/g;
const OPERATION = /<operation>\s*(add|delete)\s*<\/operation>/;
const END_POINT = /<end_point\s+name="([^"]*)"/;
const SERVICE = /<service\s+name="([^"]*)"/;

/** A counting, timestamping stand-in proxy. */
export class BenchReceiver implements AsyncDisposable {
  /** `http://127.0.0.1:PORT/updateService` */
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #arrivals: Arrival[] = [];
  #adds = 0;
  #deletes = 0;
  /** Adds of a key with no delete in between: what would give the proxy a second copy. */
  #duplicateAdds = 0;
  #malformed = 0;
  readonly #holding = new Map<string, number>();
  readonly #remotePorts = new Set<number>();
  #inFlight = 0;
  #maxInFlight = 0;
  readonly #waiters = new Set<() => void>();
  readonly #keyWaiters = new Map<string, (arrival: Arrival) => void>();
  /** Whole-state: the services of the last push, by key. */
  #pushed = new Set<string>();
  #pushes = 0;

  private constructor(server: Deno.HttpServer<Deno.NetAddr>) {
    this.#server = server;
    this.url = `http://127.0.0.1:${server.addr.port}/updateService`;
  }

  /** Starts listening on a free port of 127.0.0.1. */
  static async start(): Promise<BenchReceiver> {
    const listening = Promise.withResolvers<void>();
    // No request is handled before `await`, so the receiver exists by the first one.
    const made: { receiver?: BenchReceiver } = {};
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => listening.resolve() },
      (request, info) => made.receiver!.#handle(request, info),
    );
    made.receiver = new BenchReceiver(server);
    await listening.promise;
    return made.receiver;
  }

  /** Forgets every arrival and count (between scenarios). Pending waiters stay. */
  reset(): void {
    this.#arrivals = [];
    this.#adds = 0;
    this.#deletes = 0;
    this.#duplicateAdds = 0;
    this.#malformed = 0;
    this.#holding.clear();
    this.#pushed = new Set();
    this.#pushes = 0;
    this.#remotePorts.clear();
    this.#maxInFlight = this.#inFlight;
  }

  /** Adds received since the last reset. */
  get adds(): number {
    return this.#adds;
  }

  /** Deletes received since the last reset. */
  get deletes(): number {
    return this.#deletes;
  }

  /** Adds of a service already added and not deleted since (must stay 0). */
  get duplicateAdds(): number {
    return this.#duplicateAdds;
  }

  /** Requests that were not a recognisable update (must stay 0). */
  get malformed(): number {
    return this.#malformed;
  }

  /** Whole configurations received since the last reset. */
  get pushes(): number {
    return this.#pushes;
  }

  /** Distinct client connections seen since the last reset. */
  get connections(): number {
    return this.#remotePorts.size;
  }

  /** Most requests being handled at once since the last reset. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /** Every arrival since the last reset, in order (the live array: do not modify). */
  get arrivals(): readonly Arrival[] {
    return this.#arrivals;
  }

  /**
   * Resolves once `condition` holds (checked now and after every arrival); rejects after
   * `timeoutMs` with `what` and the counts so far.
   */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what} ` +
              `(receiver: ${this.#adds} adds, ${this.#deletes} deletes)`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /**
   * Resolves with the next arrival of `op` for `key`. Call before causing it; at most one waiter
   * per `op key` at a time.
   */
  next(op: "add" | "delete", key: string, timeoutMs: number): Promise<Arrival> {
    const id = `${op} ${key}`;
    return new Promise<Arrival>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#keyWaiters.delete(id);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${id}`));
      }, timeoutMs);
      this.#keyWaiters.set(id, (arrival) => {
        clearTimeout(timer);
        resolve(arrival);
      });
    });
  }

  /** Stops the server (connections included). */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const at = performance.now();
    this.#inFlight++;
    if (this.#inFlight > this.#maxInFlight) this.#maxInFlight = this.#inFlight;
    try {
      const body = await request.text();
      if (new URL(request.url).pathname === "/configuration") {
        this.#recordPush(at, body, info.remoteAddr.port);
        return new Response(UPDATED, { headers: { "content-type": "text/plain" } });
      }
      const op = OPERATION.exec(body)?.[1] as "add" | "delete" | undefined;
      const endPoint = END_POINT.exec(body)?.[1];
      const service = SERVICE.exec(body)?.[1];
      if (op === undefined || endPoint === undefined || service === undefined) {
        this.#malformed++;
        return new Response('{"status":"error","message":"malformed"}', { status: 400 });
      }
      this.#record({ at, op, key: `${endPoint}/${service}`, remotePort: info.remoteAddr.port });
      return new Response(OK_BODY, { headers: { "content-type": "application/json" } });
    } finally {
      this.#inFlight--;
    }
  }

  /** A whole configuration: what it adds and drops, against the last push. */
  #recordPush(at: number, body: string, remotePort: number): void {
    this.#pushes++;
    const listed = new Set<string>();
    let endPoint = "";
    for (const [, tag, name] of body.matchAll(DOCUMENT_NAMES)) {
      if (tag === "END_POINT") endPoint = name;
      else if (name !== STATIC_SERVICE) listed.add(`${endPoint}/${name}`);
    }
    for (const key of this.#pushed) {
      if (!listed.has(key)) this.#record({ at, op: "delete", key, remotePort });
    }
    for (const key of listed) {
      if (!this.#pushed.has(key)) this.#record({ at, op: "add", key, remotePort });
    }
    this.#pushed = listed;
  }

  #record(arrival: Arrival): void {
    this.#arrivals.push(arrival);
    this.#remotePorts.add(arrival.remotePort);
    if (arrival.op === "add") {
      this.#adds++;
      const held = this.#holding.get(arrival.key) ?? 0;
      if (held > 0) this.#duplicateAdds++;
      this.#holding.set(arrival.key, held + 1);
    } else {
      this.#deletes++;
      this.#holding.delete(arrival.key);
    }
    const keyWaiter = this.#keyWaiters.get(`${arrival.op} ${arrival.key}`);
    if (keyWaiter) {
      this.#keyWaiters.delete(`${arrival.op} ${arrival.key}`);
      keyWaiter(arrival);
    }
    for (const waiter of [...this.#waiters]) waiter();
  }
}
