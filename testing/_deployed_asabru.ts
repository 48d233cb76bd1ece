/**
 * The deployed Asabru proxy's control API, request by request (DESIGN.md, "Deployed"; issue 15):
 * `POST /auth/login`, `POST /updateService`, `POST /configuration`, behind a bearer JWT when
 * users are configured. Its owner ({@link StandInAsabru} in `stand_in_asabru.ts`) runs the server
 * and carries out crashes; this module decides what each request does to the round-robin table
 * and what is answered.
 *
 * Answers, as the proxy gives them: `200 text/plain "Configuration Updated Successfully!"` for an
 * add, a delete (which removes nothing: the proxy compares service names with the end point's
 * name), an unknown end point and an unknown operation; `500` with one of
 * `PARSE_ERRORS` (`_deployed_xml.ts`); `401 "Unauthorized"`.
 *
 * @module
 */
import { decodeJwt, jwtVerify, SignJWT } from "jose";
import type { OneShotAnswer, OneShotRequest } from "./_one_shot_http_server.ts";
import { readConfiguration, readUpdate } from "./_deployed_xml.ts";
import type { RoundRobinTable, StandInEntry, StandInHistoryRecord } from "./_round_robin_table.ts";

/** The proxy's answer to every change it accepts, and to many it ignores. */
export const UPDATED = "Configuration Updated Successfully!";

/** What the API needs of the stand-in that runs it. */
export interface DeployedHooks {
  table: RoundRobinTable;
  /** The end points the proxy's configuration has; `undefined`: every name. */
  knownEndPoints: ReadonlySet<string> | undefined;
  /** Crashes the proxy (it restarts with its static configuration only); no answer goes out. */
  crash: (reason: string, request: OneShotRequest) => void;
  /** A request that is not one the monitor should ever send (counted as malformed). */
  malformed: (reason: string) => void;
  /** A well-formed add or delete, after it took effect (or not). */
  updated: (update: DeployedUpdate, request: OneShotRequest) => void;
  /** A `/configuration` push that replaced the lists, before it is answered. */
  configured?: (record: StandInHistoryRecord) => void;
}

/** A well-formed add or delete. */
export interface DeployedUpdate {
  op: "add" | "delete";
  endPoint: string;
  service: string;
  host: string;
  port: number;
  /** Whether the table changed (an add to a known end point). */
  applied: boolean;
}

/** Authentication of the control API. */
export interface DeployedAuthOptions {
  /**
   * username → password; with none, every request is let through (no auth). `{}`: auth on, with
   * users to come ({@link DeployedControlApi.addUser}).
   */
  users?: Record<string, string>;
  /** The HMAC secret of the tokens. Default: random, kept across restarts. */
  secret?: string;
  /** A token's life. Default one hour. */
  tokenTtlMs?: number;
}

const text = (status: number, body: string): OneShotAnswer => ({
  status,
  contentType: "text/plain",
  body,
});

/** See the module documentation. */
export class DeployedControlApi {
  readonly #hooks: DeployedHooks;
  readonly #users: Map<string, string> | undefined;
  readonly #key: Uint8Array;
  readonly #tokenTtlMs: number;
  /** Tokens {@link expireTokens} declared expired. */
  readonly #expired = new Set<string>();
  readonly #issued = new Set<string>();
  /** End points pushed with an empty list: their next data-plane request crashes the proxy. */
  readonly #armed = new Set<string>();
  readonly #roundRobin = new Map<string, number>();
  #logins = 0;
  #refusedLogins = 0;
  #unauthorized = 0;

  constructor(hooks: DeployedHooks, auth: DeployedAuthOptions = {}) {
    this.#hooks = hooks;
    this.#users = auth.users ? new Map(Object.entries(auth.users)) : undefined;
    this.#key = new TextEncoder().encode(auth.secret ?? crypto.randomUUID());
    this.#tokenTtlMs = auth.tokenTtlMs ?? 3_600_000;
  }

  /** Successful logins so far. */
  get logins(): number {
    return this.#logins;
  }

  /** Logins refused so far. */
  get refusedLogins(): number {
    return this.#refusedLogins;
  }

  /** Requests answered 401 so far (logins aside). */
  get unauthorized(): number {
    return this.#unauthorized;
  }

  /**
   * A user who may log in from now on (a password given again replaces the old one).
   *
   * @throws {TypeError} when auth is off (started without `users`)
   */
  addUser(username: string, password: string): void {
    if (!this.#users) throw new TypeError("addUser() needs auth on: start with users (even {})");
    this.#users.set(username, password);
  }

  /** Every token issued so far is from now on expired (as after its `exp`). */
  expireTokens(): void {
    for (const token of this.#issued) this.#expired.add(token);
  }

  /** A token as `/auth/login` would issue it for `username` (tests of static tokens). */
  issueToken(username: string): Promise<string> {
    return this.#sign(username);
  }

  /** The proxy restarted: nothing pushed before is armed any more. */
  restarted(): void {
    this.#armed.clear();
    this.#roundRobin.clear();
  }

  /**
   * One data-plane request to `endPoint`: the slot the round robin picks next, `undefined` when
   * the end point holds none, or a crash when `/configuration` pushed it an empty list.
   */
  dataPlaneRequest(endPoint: string): StandInEntry | "crashed" | undefined {
    if (this.#armed.has(endPoint)) return "crashed";
    const list = this.#hooks.table.list(endPoint);
    if (list.length === 0) return undefined;
    const next = this.#roundRobin.get(endPoint) ?? 0;
    this.#roundRobin.set(endPoint, (next + 1) % list.length);
    return list[next % list.length];
  }

  /** Whether `/configuration` left `endPoint` with an empty list (it crashes at the next use). */
  armed(endPoint: string): boolean {
    return this.#armed.has(endPoint);
  }

  /** Answers one request (`undefined`: the proxy crashed on it). */
  async handle(request: OneShotRequest): Promise<OneShotAnswer | undefined> {
    const { table } = this.#hooks;
    const route = request.method === "POST" ? request.path : "";
    if (!["/auth/login", "/updateService", "/configuration"].includes(route)) {
      this.#hooks.malformed(`${request.method} ${request.path}: no such route`);
      table.record({ kind: request.path, detail: request.method, status: 404, answer: "" });
      return text(404, "Not Found");
    }
    if (route === "/auth/login") return await this.#login(request);
    const tokenSubject = this.#users === undefined
      ? undefined
      : tokenSubjectOf(request.authorization);
    if (!(await this.#authorized(request.authorization))) {
      this.#unauthorized++;
      table.record({
        kind: route,
        detail: "no valid token",
        status: 401,
        answer: "Unauthorized",
        tokenSubject,
      });
      return text(401, "Unauthorized");
    }
    return route === "/updateService"
      ? this.#update(request, tokenSubject)
      : this.#configure(request, tokenSubject);
  }

  #update(request: OneShotRequest, tokenSubject: string | undefined): OneShotAnswer | undefined {
    const { table, knownEndPoints } = this.#hooks;
    const reading = readUpdate(request.body);
    if (reading.kind === "crash") {
      this.#hooks.malformed(`crash: ${reading.reason}`);
      this.#hooks.crash(reading.reason, request);
      return undefined;
    }
    if (reading.kind === "error") {
      this.#hooks.malformed(reading.answer);
      table.record({
        kind: "/updateService",
        detail: "unreadable",
        status: 500,
        ...answer(reading),
        tokenSubject,
      });
      return text(500, reading.answer);
    }
    const { op, endPoint, service, host, port } = reading;
    const known = knownEndPoints === undefined || knownEndPoints.has(endPoint);
    const applied = op === "add" && known;
    if (applied) table.apply({ kind: "append", endPoint, entry: { service, host, port } });
    table.record({
      kind: "/updateService",
      detail: `${op} ${endPoint}/${service} ${host}:${port}${known ? "" : " (unknown end point)"}`,
      status: 200,
      answer: UPDATED,
      tokenSubject,
    });
    if (op === "add" || op === "delete") {
      this.#hooks.updated({ op, endPoint, service, host, port, applied }, request);
    }
    return text(200, UPDATED);
  }

  #configure(request: OneShotRequest, tokenSubject: string | undefined): OneShotAnswer | undefined {
    const { table, knownEndPoints } = this.#hooks;
    const reading = readConfiguration(request.body);
    if (reading.kind === "unparseable") {
      table.record({
        kind: "/configuration",
        detail: reading.reason,
        status: 200,
        answer: UPDATED,
        tokenSubject,
      });
      return text(200, UPDATED);
    }
    if (reading.kind === "error") {
      this.#hooks.malformed(reading.answer);
      table.record({
        kind: "/configuration",
        detail: "unreadable",
        status: 500,
        ...answer(reading),
        tokenSubject,
      });
      return text(500, reading.answer);
    }
    const unknown = reading.kind === "configuration" && knownEndPoints !== undefined
      ? [...reading.endPoints.keys()].find((name) => !knownEndPoints.has(name))
      : undefined;
    if (reading.kind === "crash" || unknown !== undefined) {
      const reason = reading.kind === "crash"
        ? reading.reason
        : `an end point the proxy does not have: ${JSON.stringify(unknown)}`;
      this.#hooks.malformed(`crash: ${reason}`);
      this.#hooks.crash(reason, request);
      return undefined;
    }
    let services = 0;
    for (const [endPoint, entries] of reading.endPoints) {
      table.apply({ kind: "replace", endPoint, entries });
      services += entries.length;
      if (entries.length === 0) this.#armed.add(endPoint);
      else this.#armed.delete(endPoint);
    }
    const record = table.record({
      kind: "/configuration",
      detail: `${reading.endPoints.size} end points, ${services} services`,
      status: 200,
      answer: UPDATED,
      tokenSubject,
    });
    this.#hooks.configured?.(record);
    return text(200, UPDATED);
  }

  async #login(request: OneShotRequest): Promise<OneShotAnswer> {
    const { table } = this.#hooks;
    let credentials: unknown;
    try {
      credentials = JSON.parse(request.body);
    } catch {
      credentials = undefined;
    }
    const { username, password } =
      (typeof credentials === "object" && credentials !== null ? credentials : {}) as Record<
        string,
        unknown
      >;
    const valid = typeof username === "string" && typeof password === "string" &&
      this.#users?.get(username) === password;
    const who = typeof username === "string" ? username : "(no username)";
    if (!valid) {
      this.#refusedLogins++;
      table.record({ kind: "/auth/login", detail: who, status: 401, answer: "Unauthorized" });
      return text(401, "Unauthorized");
    }
    this.#logins++;
    const body = JSON.stringify({ token: await this.#sign(username as string) });
    table.record({ kind: "/auth/login", detail: who, status: 200, answer: "(a token)" });
    return { status: 200, contentType: "application/json", body };
  }

  async #sign(username: string): Promise<string> {
    const now = Date.now();
    // A token id of its own: two logins within one second are still two tokens.
    const token = await new SignJWT({ sub: username, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.ceil((now + this.#tokenTtlMs) / 1000))
      .sign(this.#key);
    this.#issued.add(token);
    return token;
  }

  async #authorized(authorization: string | null): Promise<boolean> {
    if (this.#users === undefined) return true;
    const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
    if (token === undefined || this.#expired.has(token)) return false;
    try {
      await jwtVerify(token, this.#key, { algorithms: ["HS256"] });
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * The `sub` of a bearer token, read without checking its signature or expiry (who the request
 * says sent it); `undefined` without a readable token.
 */
export function tokenSubjectOf(authorization: string | null): string | undefined {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (token === undefined) return undefined;
  try {
    const { sub } = decodeJwt(token);
    return typeof sub === "string" ? sub : undefined;
  } catch {
    return undefined;
  }
}

function answer(reading: { answer: string }): { answer: string } {
  return { answer: reading.answer };
}
