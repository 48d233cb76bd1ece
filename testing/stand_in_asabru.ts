/**
 * A stand-in for the ChistaDATA Asabru proxy's control API (DESIGN.md, "The proxy's control
 * API"): a real server on 127.0.0.1 that keeps per end point the list of services the proxy would
 * balance over ({@link StandInAsabru.table}), a history of every request with the table after each
 * ({@link StandInAsabru.history}, {@link StandInAsabru.everDuplicated}), and can be switched into
 * the faults the monitor must survive. It behaves in one of two ways ({@link StandInBehaviour}):
 *
 * **`documented`** (the default), as the proxy's newer source has it: `Deno.serve`, keep-alive,
 * each `POST /updateService` body parsed strictly, and:
 * - `add` APPENDS `{service, host, port}` to the end point's list without looking for an existing
 *   entry: a repeated add gives the service a second slot ({@link StandInAsabru.duplicates}).
 * - `delete` removes every entry of that service name from the end point.
 * - An end point the proxy's configuration does not know answers HTTP 200
 *   `{"status":"error","message":"Endpoint 'x' not found."}`; success answers HTTP 200
 *   `{"status":"ok","message":"..."}`.
 *
 * Every answer goes out in one write (`Deno.serve` with a string body), so keep-alive clients
 * never meet a delayed-ACK stall. The server is quiet: it prints nothing.
 *
 * **`deployed`**, as the proxy users run behaves (every line observed; issue 15): a raw TCP server
 * with one worker that reads until the client half-closes or is idle 10 ms, answers once and
 * closes, with a modelled listen backlog of 5 (`_one_shot_http_server.ts`); text answers, an add
 * that appends, a delete that removes nothing, `/auth/login` with HS256 tokens when `users` are
 * given, `/configuration` that replaces every end point's list (`_deployed_asabru.ts`). A request
 * that crashes the proxy (no names, no `<service>`, an empty host; for `/configuration` an end
 * point it does not have or no `<protocol-server-config>`) is modelled in process: the listener
 * closes and every connection is dropped, every run-time service is forgotten (the static
 * configuration of `config` stays), and after `restartMs` it listens again on the same port. In
 * process rather than as a supervised child process because the tests read the table and the
 * history synchronously, between any two requests; what a client sees is the same (connections
 * refused or reset for a short window, then an empty proxy).
 *
 * @example
 * ```ts
 * await using proxy = await StandInAsabru.start({ endPoints: ["ch_http_node1"] });
 * const added = proxy.nextRequest((r) => r.op === "add" && r.service === "ch_http_service2");
 * // ... let the monitor run ...
 * await withTimeout(added, 2000, "the add of ch_http_service2");
 * assertEquals(proxy.list("ch_http_node1"), [{ service: "ch_http_service2", host: "localhost", port: 2023 }]);
 * assertEquals(proxy.duplicates(), []);
 * assertEquals(proxy.malformed, 0);
 * ```
 *
 * @module
 */
import {
  RoundRobinTable,
  type StandInEntry,
  type StandInHistoryRecord,
} from "./_round_robin_table.ts";
import {
  type OneShotAnswer,
  OneShotHttpServer,
  type OneShotRequest,
} from "./_one_shot_http_server.ts";
import {
  type DeployedAuthOptions,
  DeployedControlApi,
  tokenSubjectOf,
} from "./_deployed_asabru.ts";
import { PARSE_ERRORS, readConfiguration } from "./_deployed_xml.ts";
import { type ParsedUpdate, parseUpdateBody } from "./_update_body.ts";

export { type ParsedUpdate, parseUpdateBody };

/**
 * How the stand-in treats the next requests:
 *
 * - `ok`: as the real proxy does.
 * - `refuse`: the listener is closed, so connections are refused; set another mode to listen again
 *   on the same port.
 * - `error500`: answers 500 without applying anything.
 * - `slow`: applies as `ok` does, then answers after `slowMs`.
 * - `apply-then-hang`: applies as `ok` does, then does not answer: the client's timeout fires
 *   after the change took effect. The answer (200) goes out only when the mode changes or the
 *   stand-in closes (by then the client has usually gone).
 * - `reject-all`: answers 200 with error JSON, applying nothing.
 */
export type StandInAsabruMode =
  | "ok"
  | "refuse"
  | "error500"
  | "slow"
  | "apply-then-hang"
  | "reject-all";

export type { StandInEntry, StandInHistoryRecord, TableChange } from "./_round_robin_table.ts";
export { PARSE_ERRORS } from "./_deployed_xml.ts";
export { UPDATED } from "./_deployed_asabru.ts";

/** Which proxy the stand-in plays: see the module documentation. */
export type StandInBehaviour = "documented" | "deployed";

/** One well-formed update the stand-in received. */
export interface StandInRequest {
  /** `performance.now()` when the request arrived. */
  at: number;
  /** `add` or `delete`. */
  op: "add" | "delete";
  /** The end point named (`<end_point name>`). */
  endPoint: string;
  /** The service named (`<service name>`). */
  service: string;
  /** The host sent. */
  host: string;
  /** The port sent. */
  port: number;
  /** The HTTP status answered; 0 while an `apply-then-hang` answer is held back. */
  status: number;
  /** Whether the change took effect (`false` for an unknown end point, `error500`, `reject-all`). */
  applied: boolean;
  /** The `Authorization` header, or `null`. */
  authorization: string | null;
  /** The `Content-Type` header, or `null`. */
  contentType: string | null;
  /** The client's port: requests with the same one came over the same connection. */
  remotePort: number;
  /** Deployed: whether the client shut its write side after the request (else: 10 ms idle). */
  halfClosed?: boolean;
}

/** Options of {@link StandInAsabru.start}. */
export interface StandInAsabruOptions extends DeployedAuthOptions {
  /** Which proxy it plays. Default `documented`; also `STAND_IN_BEHAVIOUR` in the environment. */
  behaviour?: StandInBehaviour;
  /**
   * The end points the proxy's own configuration knows; an update naming another one is answered
   * with `Endpoint '...' not found.` (documented) or ignored (deployed). Default: every name is
   * known (deployed with `config`: its end points).
   */
  endPoints?: string[];
  /**
   * Deployed: the proxy's `config.xml` (text): its end points are the known ones and its services
   * the static configuration, which a restart keeps.
   */
  config?: string;
  /** The delay of mode `slow`, in ms. Default 200. */
  slowMs?: number;
  /** The port on 127.0.0.1. Default 0: a free one. */
  port?: number;
  /** Deployed: how long a crashed proxy refuses connections before it is back. Default 50 ms. */
  restartMs?: number;
  /** Deployed: how long a client may be idle before its request counts as complete. Default 10. */
  idleMs?: number;
  /** Deployed: how long it waits for a connection's first byte. Default: `idleMs`. */
  firstByteMs?: number;
  /** Deployed: the modelled listen backlog. Default 5. */
  backlog?: number;
  /** Deployed: how long a connect that overflows the backlog stalls. Default 1000 ms. */
  overflowStallMs?: number;
}

/** A stand-in Asabru proxy on 127.0.0.1. See the module documentation. */
export class StandInAsabru implements AsyncDisposable {
  /** `http://127.0.0.1:PORT/updateService` */
  readonly url: string;
  /** The port it listens on; kept across `refuse` and restarts. */
  readonly port: number;
  /** Which proxy it plays. */
  readonly behaviour: StandInBehaviour;

  readonly #knownEndPoints: ReadonlySet<string> | undefined;
  readonly #table: RoundRobinTable;
  readonly #requests: StandInRequest[] = [];
  readonly #malformedReasons: string[] = [];
  readonly #remotePorts = new Set<number>();
  readonly #listeners = new Set<(request: StandInRequest) => void>();
  readonly #pushListeners = new Set<(record: StandInHistoryRecord) => void>();
  readonly #options: StandInAsabruOptions;
  /** Deployed: the control API's semantics. */
  readonly #deployed: DeployedControlApi | undefined;
  #server: Server | undefined;
  #mode: StandInAsabruMode = "ok";
  #slowMs: number;
  /** Resolved to let every held-back answer (`slow`, `apply-then-hang`) go out now. */
  #release = Promise.withResolvers<void>();
  /** Resolved by close(): a restart window waiting on it ends. */
  readonly #closing = Promise.withResolvers<void>();
  #transition: Promise<void> = Promise.resolve();
  #closed?: Promise<void>;
  #crashes = 0;
  #overflows = 0;
  #lostRequests = 0;
  #mostWaiting = 0;

  private constructor(port: number, options: StandInAsabruOptions, table: RoundRobinTable) {
    this.port = port;
    this.url = `http://127.0.0.1:${this.port}/updateService`;
    this.behaviour = options.behaviour ?? "documented";
    this.#options = options;
    this.#table = table;
    this.#knownEndPoints = options.endPoints ? new Set(options.endPoints) : undefined;
    this.#slowMs = options.slowMs ?? 200;
    this.#deployed = this.behaviour === "deployed"
      ? new DeployedControlApi({
        table,
        knownEndPoints: this.#knownEndPoints,
        crash: (reason) => this.#crash(reason),
        malformed: (reason) => this.#malformedReasons.push(reason),
        updated: (update, request) =>
          this.#report({
            at: performance.now(),
            ...update,
            status: 200,
            authorization: request.authorization,
            contentType: request.contentType,
            remotePort: request.remotePort,
            halfClosed: request.halfClosed,
          }),
        configured: (record) => {
          for (const listener of [...this.#pushListeners]) {
            try {
              listener(record);
            } catch (error) {
              reportError(error);
            }
          }
        },
      }, options)
      : undefined;
  }

  /**
   * Starts the stand-in on a free port of 127.0.0.1, in mode `ok`, with no services (deployed:
   * those of `config`). `behaviour` defaults to the environment's `STAND_IN_BEHAVIOUR`, else
   * `documented`.
   *
   * @throws {TypeError} when `config` is not a configuration the proxy could start with.
   */
  static async start(options: StandInAsabruOptions = {}): Promise<StandInAsabru> {
    const behaviour = options.behaviour ?? standInBehaviourFromEnv();
    let endPoints = options.endPoints;
    let table = new RoundRobinTable();
    if (options.config !== undefined) {
      const reading = readConfiguration(options.config);
      if (reading.kind !== "configuration") {
        throw new TypeError(
          `config is not a configuration the proxy starts with (${reading.kind})`,
        );
      }
      table = new RoundRobinTable(reading.endPoints);
      endPoints ??= [...reading.endPoints.keys()];
    }
    const settled = { ...options, behaviour, endPoints };
    let standIn: StandInAsabru | undefined = undefined;
    const { server, listening } = listen(
      behaviour,
      options.port ?? 0,
      settled,
      (request, info) => standIn!.#handle(request, info),
      (request) => standIn!.#handleDeployed(request),
    );
    // The address is known as soon as the server exists; no request is handled before `await`.
    standIn = new StandInAsabru(server.port, settled, table);
    standIn.#server = server;
    await listening;
    return standIn;
  }

  /** The current mode. */
  get mode(): StandInAsabruMode {
    return this.#mode;
  }

  /**
   * Switches mode; resolves once it is in effect (for `refuse`: the listener is closed; leaving
   * `refuse`: it listens again on {@link port}). Held-back answers are released first.
   *
   * @throws `Deno.errors.AddrInUse` if another process took the port while refusing (unlikely).
   */
  setMode(mode: StandInAsabruMode, options: { slowMs?: number } = {}): Promise<void> {
    this.#transition = this.#transition.then(async () => {
      if (this.#closed) throw new Error("stand-in Asabru is closed");
      if (options.slowMs !== undefined) this.#slowMs = options.slowMs;
      this.#releaseHeld();
      this.#mode = mode;
      if (mode === "refuse") await this.#stopListening();
      else await this.#listenAgain();
    });
    return this.#transition;
  }

  /** The services of `endPoint`, in the proxy's order (a copy; empty for an unknown one). */
  list(endPoint: string): StandInEntry[] {
    return this.#table.list(endPoint);
  }

  /** Every end point that holds at least one service, with its list (a deep copy). */
  snapshot(): Map<string, StandInEntry[]> {
    return this.#table.snapshot();
  }

  /** The round-robin table now: the same as {@link snapshot}. */
  table(): Map<string, StandInEntry[]> {
    return this.#table.snapshot();
  }

  /** Every request (and crash, restart) handled, in order, with the table's changes of each. */
  get history(): readonly StandInHistoryRecord[] {
    return this.#table.history;
  }

  /** The table right after history record `index`. */
  tableAfter(index: number): Map<string, StandInEntry[]> {
    return this.#table.tableAfter(index);
  }

  /** Every well-formed update received, in arrival order (copies). */
  get requests(): StandInRequest[] {
    return this.#requests.map((request) => ({ ...request }));
  }

  /**
   * `endPoint/service` for every service name that holds more than one slot of its end point:
   * what a repeated add leaves behind. Sorted.
   */
  duplicates(): string[] {
    return this.#table.duplicates();
  }

  /**
   * `endPoint/service` for every name that held more than one slot after ANY request so far,
   * even if a later one cleaned it up. Sorted.
   */
  everDuplicated(): string[] {
    return this.#table.everDuplicated();
  }

  /**
   * Requests that the monitor should never send (answered 4xx or, deployed, one of the 500 parse
   * errors or a crash; not applied). Tests assert there are none.
   */
  get malformed(): number {
    return this.#malformedReasons.length;
  }

  /** Why each malformed request was refused, in arrival order. */
  get malformedReasons(): string[] {
    return [...this.#malformedReasons];
  }

  /** How many client connections (distinct client ports) sent requests so far. */
  get connections(): number {
    return this.#remotePorts.size;
  }

  /** Deployed: how many times the proxy crashed (or {@link restartEmpty} restarted it). */
  get crashes(): number {
    return this.#crashes;
  }

  /** Deployed: connects that overflowed the modelled listen backlog (each stalled 1 s). */
  get backlogOverflows(): number {
    return this.#overflows + (this.#oneShot()?.overflows ?? 0);
  }

  /**
   * Deployed: requests written to a connection after its answer, while the proxy closed it: lost.
   * A client that knows the proxy writes none.
   */
  get lostRequests(): number {
    return this.#lostRequests + (this.#oneShot()?.lostRequests ?? 0);
  }

  /** Deployed: the most connections that waited for the proxy's one worker at once. */
  get mostWaiting(): number {
    return Math.max(this.#mostWaiting, this.#oneShot()?.mostWaiting ?? 0);
  }

  /** Deployed: successful logins, refused logins, and other requests answered 401. */
  get auth(): { logins: number; refusedLogins: number; unauthorized: number } {
    return {
      logins: this.#deployed?.logins ?? 0,
      refusedLogins: this.#deployed?.refusedLogins ?? 0,
      unauthorized: this.#deployed?.unauthorized ?? 0,
    };
  }

  /**
   * Deployed, started with `users` (`{}` will do): `username` may log in from now on (each
   * monitor of a chaos run gets its own, so the history names who sent each request:
   * {@link StandInHistoryRecord.tokenSubject}).
   */
  addUser(username: string, password: string): void {
    this.#deployedApi("addUser").addUser(username, password);
  }

  /** Deployed: every token issued so far is expired from now on. */
  expireTokens(): void {
    this.#deployedApi("expireTokens").expireTokens();
  }

  /** Deployed: a token as `/auth/login` would issue it (to test a static token). */
  issueToken(username: string): Promise<string> {
    return this.#deployedApi("issueToken").issueToken(username);
  }

  /**
   * Deployed: whether `/configuration` left `endPoint` with an empty list, so that its next
   * data-plane request would crash the proxy (read without making one).
   */
  pushedEmpty(endPoint: string): boolean {
    return this.#deployedApi("pushedEmpty").armed(endPoint);
  }

  /**
   * Deployed: one data-plane request to `endPoint`, as a client of the proxied database would
   * make it: the slot the round robin picks, `undefined` when there is none, or `"crashed"` when
   * `/configuration` pushed the end point an empty list (the proxy crashes, then restarts).
   */
  dataPlaneRequest(endPoint: string): StandInEntry | "crashed" | undefined {
    const picked = this.#deployedApi("dataPlaneRequest").dataPlaneRequest(endPoint);
    if (picked === "crashed") this.#crash(`a data-plane request to ${endPoint}, pushed empty`);
    return picked;
  }

  /** Resolves once mode changes, crashes and restarts begun so far are over. */
  settled(): Promise<void> {
    return this.#transition.catch(() => {});
  }

  /**
   * Calls `listener` for every well-formed update, once it has been applied (or not) and before
   * it is answered. Returns a function that removes the listener. A listener that throws fails
   * the test (the error is reported as uncaught), not the request.
   */
  onRequest(listener: (request: StandInRequest) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Deployed: calls `listener` for every `/configuration` push that replaced the lists, once
   * applied and before it is answered (so a restart from the listener lands between the push
   * and its answer). Returns a function that removes the listener.
   */
  onPush(listener: (record: StandInHistoryRecord) => void): () => void {
    this.#pushListeners.add(listener);
    return () => this.#pushListeners.delete(listener);
  }

  /**
   * Resolves with the next update that matches `predicate` (every update by default), once it has
   * been applied. Call before what causes it; bound the wait with `withTimeout`.
   */
  nextRequest(
    predicate: (request: StandInRequest) => boolean = () => true,
  ): Promise<StandInRequest> {
    return new Promise((resolve) => {
      const stop = this.onRequest((request) => {
        if (!predicate(request)) return;
        stop();
        resolve(request);
      });
    });
  }

  /**
   * Forgets every service, as a restarted proxy does (its configuration's end points remain).
   * Deployed: the proxy really restarts, as after a crash: connections are refused for
   * `restartMs` ({@link settled} resolves when it is back).
   */
  restartEmpty(): void {
    if (this.#deployed) return this.#crash("restart");
    this.#table.apply({ kind: "reset" });
    this.#table.record({ kind: "restart", detail: "restartEmpty()", status: 0, answer: "" });
  }

  /**
   * Releases held-back answers and stops the server; resolves when it has shut down. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.resolve();
      await this.#transition.catch(() => {});
      this.#releaseHeld();
      await this.#stopListening();
    })();
    return this.#closed;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #deployedApi(what: string): DeployedControlApi {
    if (!this.#deployed) throw new TypeError(`${what}() needs the deployed behaviour`);
    return this.#deployed;
  }

  #oneShot(): OneShotHttpServer | undefined {
    return this.#server instanceof OneShotHttpServer ? this.#server : undefined;
  }

  /**
   * Closes the listener and every connection. A held-back answer (`slow`, `apply-then-hang`) is
   * released once the close has begun: both servers wait for their handlers, and a handler held
   * back would otherwise wait for a release that only a later mode change gives, itself queued
   * behind this close (a restart during `apply-then-hang` hung the chaos run's heal, seed 104).
   * The one-shot server writes no answer once closing, so the released request gets none, as
   * from a proxy that crashed.
   */
  async #stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    let closing: Promise<void> | undefined;
    if (server instanceof OneShotHttpServer) {
      this.#overflows += server.overflows;
      this.#lostRequests += server.lostRequests;
      this.#mostWaiting = Math.max(this.#mostWaiting, server.mostWaiting);
      closing = server.close();
    } else {
      closing = server?.shutdown();
    }
    this.#releaseHeld();
    await closing;
  }

  async #listenAgain(): Promise<void> {
    if (this.#server) return;
    const { server, listening } = listen(
      this.behaviour,
      this.port,
      this.#options,
      (request, info) => this.#handle(request, info),
      (request) => this.#handleDeployed(request),
    );
    this.#server = server;
    await listening;
  }

  /**
   * The proxy crashed: it forgets every run-time service now, refuses connections for
   * `restartMs`, then listens again (unless told to refuse meanwhile).
   */
  #crash(reason: string): void {
    this.#crashes++;
    this.#deployed?.restarted();
    this.#table.apply({ kind: "reset" });
    this.#table.record({ kind: "crash", detail: reason, status: 0, answer: "" });
    this.#transition = this.#transition.then(async () => {
      if (this.#closed) return;
      await this.#stopListening();
      await delay(this.#options.restartMs ?? 50, this.#closing.promise);
      if (this.#closed || this.#mode === "refuse") return;
      await this.#listenAgain();
      this.#table.record({ kind: "restart", detail: "listening again", status: 0, answer: "" });
    });
  }

  #releaseHeld(): void {
    this.#release.resolve();
    this.#release = Promise.withResolvers<void>();
  }

  #report(record: StandInRequest): void {
    this.#requests.push(record);
    for (const listener of [...this.#listeners]) {
      try {
        listener({ ...record });
      } catch (error) {
        reportError(error);
      }
    }
  }

  /** Deployed: one request on the one-shot server, through the faults of the current mode. */
  async #handleDeployed(request: OneShotRequest): Promise<OneShotAnswer | undefined> {
    this.#remotePorts.add(request.remotePort);
    const mode = this.#mode;
    const release = this.#release.promise;
    if (request.path !== "/auth/login" && (mode === "error500" || mode === "reject-all")) {
      // reject-all: an answer the monitor knows means "nothing applied"; error500: one it cannot.
      const body = mode === "error500" ? "Internal Server Error" : PARSE_ERRORS.element;
      this.#table.record({
        kind: request.path,
        detail: `mode ${mode}`,
        status: 500,
        answer: body,
        tokenSubject: this.#options.users ? tokenSubjectOf(request.authorization) : undefined,
      });
      return { status: 500, contentType: "text/plain", body };
    }
    const answer = await this.#deployed!.handle(request);
    if (answer !== undefined && mode === "slow") await delay(this.#slowMs, release);
    if (answer !== undefined && mode === "apply-then-hang") await release;
    return answer;
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const at = performance.now();
    this.#remotePorts.add(info.remoteAddr.port);
    const path = new URL(request.url).pathname;
    if (path !== "/updateService") {
      this.#malformedReasons.push(`${request.method} ${path}: no such path`);
      await request.body?.cancel();
      return json(404, { status: "error", message: `No route for ${path}` });
    }
    if (request.method !== "POST") {
      this.#malformedReasons.push(`${request.method} ${path}: not POST`);
      await request.body?.cancel();
      return json(405, { status: "error", message: "Method not allowed" });
    }
    const parsed = parseUpdateBody(await request.text());
    if ("error" in parsed) {
      this.#malformedReasons.push(parsed.error);
      return json(400, { status: "error", message: `Malformed update: ${parsed.error}` });
    }

    const mode = this.#mode;
    const release = this.#release.promise;
    let status = 200;
    let applied = false;
    let answer: Record<string, string>;
    if (mode === "error500") {
      status = 500;
      answer = { status: "error", message: "Internal Server Error" };
    } else if (mode === "reject-all") {
      answer = { status: "error", message: "Rejected by the stand-in (reject-all)." };
    } else if (this.#knownEndPoints && !this.#knownEndPoints.has(parsed.endPoint)) {
      answer = { status: "error", message: `Endpoint '${parsed.endPoint}' not found.` };
    } else {
      this.#apply(parsed);
      applied = true;
      answer = {
        status: "ok",
        message: parsed.op === "add" ? "Service added." : "Service deleted.",
      };
    }
    this.#table.record({
      at,
      kind: "/updateService",
      detail: `${parsed.op} ${parsed.endPoint}/${parsed.service} ${parsed.host}:${parsed.port}`,
      status,
      answer: JSON.stringify(answer),
    });

    const record: StandInRequest = {
      at,
      ...parsed,
      status: mode === "apply-then-hang" ? 0 : status,
      applied,
      authorization: request.headers.get("authorization"),
      contentType: request.headers.get("content-type"),
      remotePort: info.remoteAddr.port,
    };
    this.#report(record);
    // The record handed out is a copy: keep ours to fill in the status once it is answered.
    const kept = this.#requests[this.#requests.length - 1];

    if (mode === "slow") await delay(this.#slowMs, release);
    if (mode === "apply-then-hang") {
      await release;
      kept.status = status;
    }
    return json(status, answer);
  }

  #apply(update: ParsedUpdate): void {
    if (update.op === "add") {
      const entry = { service: update.service, host: update.host, port: update.port };
      this.#table.apply({ kind: "append", endPoint: update.endPoint, entry });
    } else {
      this.#table.apply({
        kind: "remove-service",
        endPoint: update.endPoint,
        service: update.service,
      });
    }
  }
}

/** `STAND_IN_BEHAVIOUR` (`documented` or `deployed`), so whole suites run against either. */
export function standInBehaviourFromEnv(): StandInBehaviour {
  const value = Deno.env.get("STAND_IN_BEHAVIOUR");
  if (value === undefined || value === "" || value === "documented") return "documented";
  if (value === "deployed") return "deployed";
  throw new TypeError(`STAND_IN_BEHAVIOUR: ${JSON.stringify(value)} is not documented|deployed`);
}

/** Either server the stand-in runs. */
type Server = Deno.HttpServer<Deno.NetAddr> | OneShotHttpServer;

function listen(
  behaviour: StandInBehaviour,
  port: number,
  options: StandInAsabruOptions,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  oneShotHandler: (request: OneShotRequest) => Promise<OneShotAnswer | undefined>,
): { server: Server & { port: number }; listening: Promise<void> } {
  if (behaviour === "documented") {
    const { server, listening } = serve(port, handler);
    return { server: Object.assign(server, { port: server.addr.port }), listening };
  }
  const server = OneShotHttpServer.listen({
    port,
    handle: oneShotHandler,
    idleMs: options.idleMs,
    firstByteMs: options.firstByteMs,
    backlog: options.backlog,
    overflowStallMs: options.overflowStallMs,
  });
  return { server, listening: Promise.resolve() };
}

function json(status: number, body: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function serve(
  port: number,
  handler: Deno.ServeHandler<Deno.NetAddr>,
): { server: Deno.HttpServer<Deno.NetAddr>; listening: Promise<void> } {
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => listening.resolve(),
    onError: () => new Response("Internal Server Error", { status: 500 }),
  }, handler);
  return { server, listening: listening.promise };
}

/** Resolves after `ms`, or as soon as `release` resolves; the timer never outlives it. */
async function delay(ms: number, release: Promise<void>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([release, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}
