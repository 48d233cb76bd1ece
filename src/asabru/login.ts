/**
 * The bearer token of one Asabru proxy: a static one (`ASABRU_API_TOKEN`), or one obtained from
 * `POST /auth/login` at the proxy's origin with `{"username", "password"}` (`ASABRU_USERNAME`,
 * `ASABRU_PASSWORD`), answered `{"token": "<JWT>"}`. A login token is reused until shortly before
 * its `exp` (read from the JWT's payload with `jose`'s `decodeJwt`, imported at the first login,
 * as only a monitor that logs in needs it: the monitor does not hold the proxy's secret, so it
 * decodes without verifying), and renewed then or after a 401.
 *
 * What went wrong with the credentials is kept as one line ({@link ProxyCredentials.problem}) for
 * `/readyz`, the metrics and the log. The password is never logged nor put into a message.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { OneShotClient } from "./one_shot.ts";
import { Http1NoAnswerError } from "./_http1_wire.ts";
import { innermostMessage, oneLine } from "../shared/log_text.ts";

const log = getLogger(["zkcm", "asabru", "login"]);

/** Login failed: refused by the proxy (`refused`), or it could not be asked. */
export class AsabruLoginError extends Error {
  /** `true` when the proxy answered and refused (wrong credentials); `false` when unreachable. */
  readonly refused: boolean;
  /** The login did not end within its time: the proxy is slow, not necessarily down. */
  readonly timedOut: boolean;

  /** Makes the error; `message` is one line naming the proxy and its answer. */
  constructor(
    message: string,
    refused: boolean,
    options?: ErrorOptions & { timedOut?: boolean },
  ) {
    super(message, options);
    this.name = new.target.name;
    this.refused = refused;
    this.timedOut = options?.timedOut ?? false;
  }
}

/** Options of {@link ProxyCredentials}. */
export interface ProxyCredentialsOptions {
  /** The proxy's update URL; its origin serves `/auth/login`. */
  proxyUrl: string;
  /** A static token, sent as is. */
  token?: string;
  /** With `password`: log in for a token. */
  username?: string;
  password?: string;
  /** Bound of one login. Default 5 s. */
  timeoutMs?: number;
  /** Wall-clock milliseconds (a JWT's `exp` is wall-clock). Default `Date.now`. */
  now?: () => number;
}

/** What the credentials' state is, for `/readyz` and metrics. */
export interface CredentialsReport {
  /** `none` (no auth), `static`, or `login`. */
  kind: "none" | "static" | "login";
  /** One line when the credentials do not work now; `undefined` when they do (or are untried). */
  problem: string | undefined;
  /** Logins that got a token. */
  logins: number;
  /** Logins the proxy refused. */
  refusedLogins: number;
  /** 401 answers to updates. */
  unauthorized: number;
}

/** Renew this long before `exp` at most... */
const RENEW_BEFORE_MS = 60_000;
/** ...and at least this share of the token's life before it. */
const RENEW_SHARE = 0.1;

/**
 * The token to send to one proxy.
 *
 * @example
 * ```ts
 * const credentials = new ProxyCredentials({
 *   proxyUrl: "http://proxy:18080/updateService",
 *   username: "monitor",
 *   password: Deno.env.get("ASABRU_PASSWORD"),
 * });
 * const token = await credentials.token(); // logs in once, then reuses it until near its exp
 * ```
 */
export class ProxyCredentials {
  /** Where logins go. */
  readonly loginUrl: string;
  readonly #proxy: string;
  readonly #static: string | undefined;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #token: string | undefined;
  /** Wall-clock ms after which the token is renewed before use. */
  #renewAt = Infinity;
  #loggingIn: Promise<string> | undefined;
  #problem: string | undefined;
  #logins = 0;
  #refusedLogins = 0;
  #unauthorized = 0;

  /** @throws {TypeError} when only one of username and password is given. */
  constructor(options: ProxyCredentialsOptions) {
    const url = new URL(options.proxyUrl);
    this.#proxy = url.origin;
    this.loginUrl = new URL("/auth/login", url.origin).href;
    if ((options.username === undefined) !== (options.password === undefined)) {
      throw new TypeError("a login needs both a username and a password");
    }
    this.#static = options.token;
    this.#username = options.username;
    this.#password = options.password;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  /** Whether requests carry a token at all. */
  get enabled(): boolean {
    return this.#static !== undefined || this.#username !== undefined;
  }

  /** The state, for `/readyz` and metrics. */
  report(): CredentialsReport {
    return {
      kind: this.#username !== undefined ? "login" : this.#static !== undefined ? "static" : "none",
      problem: this.#problem,
      logins: this.#logins,
      refusedLogins: this.#refusedLogins,
      unauthorized: this.#unauthorized,
    };
  }

  /**
   * The token to send now: the static one, or a login token (logging in first when there is none
   * or it is about to expire; concurrent callers share one login).
   *
   * @throws {AsabruLoginError} when the login fails.
   */
  token(): Promise<string | undefined> {
    if (this.#username === undefined) return Promise.resolve(this.#static);
    if (this.#token !== undefined && this.#now() < this.#renewAt) {
      return Promise.resolve(this.#token);
    }
    this.#loggingIn ??= this.#login().finally(() => this.#loggingIn = undefined);
    return this.#loggingIn;
  }

  /**
   * The proxy answered 401 to a request that carried `token`. Returns whether sending again with
   * a new token may help (a login token: it is dropped, the next {@link token} logs in again); a
   * static token that gets a 401 is reported as such, in one line, and not retried.
   */
  unauthorized(token: string | undefined): boolean {
    this.#unauthorized++;
    if (this.#username === undefined) {
      const problem = token === undefined
        ? `${this.#proxy} requires a token (HTTP 401): set ASABRU_USERNAME and ASABRU_PASSWORD, or ASABRU_API_TOKEN`
        : `${this.#proxy} refused ASABRU_API_TOKEN (HTTP 401 Unauthorized): expired or wrong; set a new one, or ASABRU_USERNAME and ASABRU_PASSWORD to log in`;
      this.#setProblem(problem);
      return false;
    }
    if (token !== undefined && token === this.#token) {
      log.info("{proxy} refused the token (HTTP 401): logging in again", { proxy: this.#proxy });
      this.#token = undefined;
    }
    return true;
  }

  /** An update was accepted: the credentials work. */
  accepted(): void {
    if (this.#problem !== undefined && this.#username === undefined) this.#setProblem(undefined);
  }

  async #login(): Promise<string> {
    const body = JSON.stringify({ username: this.#username, password: this.#password });
    let status: number;
    let text: string;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      ({ status, body: text } = await this.#post(body, signal));
    } catch (error) {
      const problem = `login at ${this.loginUrl} failed: ${innermostMessage(error, 200)}`;
      this.#setProblem(problem);
      throw new AsabruLoginError(problem, false, { cause: error, timedOut: signal.aborted });
    }
    const token = status === 200 ? tokenOf(text) : undefined;
    if (token === undefined) {
      this.#refusedLogins++;
      const answer = oneLine(text, 200);
      const problem = `login as ${JSON.stringify(this.#username)} at ${this.loginUrl} refused: ` +
        `HTTP ${status}${answer === "" ? "" : ` ${answer}`}`;
      this.#setProblem(problem);
      throw new AsabruLoginError(problem, true);
    }
    const expiry = await expiryOf(token);
    this.#logins++;
    this.#token = token;
    this.#renewAt = this.#renewTime(expiry);
    this.#setProblem(undefined);
    log.info("logged in at {url} as {username}; token valid until {until}", {
      url: this.loginUrl,
      username: this.#username,
      until: expiry === undefined ? "(no exp)" : new Date(expiry).toISOString(),
    });
    return token;
  }

  /**
   * POSTs the login. `http:`: on a connection of its own with the write side shut after it, as
   * the deployed proxy wants (it answers once and closes), once more if it closed without reading
   * (its 10 ms idle time, on a busy machine); `https:`: `fetch`, with a client of its own closed
   * after it (a pooled connection would be stale at the next login, an hour later).
   */
  async #post(body: string, signal: AbortSignal): Promise<{ status: number; body: string }> {
    const url = new URL(this.loginUrl);
    if (url.protocol === "http:") {
      const length = new TextEncoder().encode(body).length;
      const request = new TextEncoder().encode(
        `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n${body}`,
      );
      using client = new OneShotClient({
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port || 80),
        maxConnections: 1,
      });
      try {
        return await client.request(request, signal);
      } catch (error) {
        if (!(error instanceof Http1NoAnswerError)) throw error;
        return await client.request(request, signal);
      }
    }
    using client = Deno.createHttpClient({ http2: false });
    const response = await fetch(this.loginUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
      client,
      signal,
      redirect: "manual",
    });
    return { status: response.status, body: await response.text() };
  }

  /** When to renew: `RENEW_BEFORE_MS` before `exp`, or a tenth of a short token's life. */
  #renewTime(exp: number | undefined): number {
    if (exp === undefined) return Infinity;
    const life = Math.max(0, exp - this.#now());
    return exp - Math.min(RENEW_BEFORE_MS, life * RENEW_SHARE);
  }

  #setProblem(problem: string | undefined): void {
    if (problem === this.#problem) return;
    this.#problem = problem;
    if (problem !== undefined) log.warn("{problem}", { proxy: this.#proxy, problem });
  }
}

/** The `exp` of a JWT in wall-clock ms, or `undefined` when it has none or is not a JWT. */
async function expiryOf(token: string): Promise<number | undefined> {
  const { decodeJwt } = await import("jose");
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The `token` of a login answer, when it is a bearer token a header can carry. */
function tokenOf(text: string): string | undefined {
  try {
    const { token } = JSON.parse(text) as { token?: unknown };
    return typeof token === "string" && /^[A-Za-z0-9\-._~+/]+=*$/.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}
