/**
 * Sends one update to one Asabru proxy and says what became of it. The four outcomes are what the
 * delivery queue decides on: `ok` (applied), `rejected` (refused, not applied), `not-sent` (the
 * request certainly never reached the proxy) and `uncertain` (it may or may not have been applied,
 * so the queue sends a delete before the next add).
 *
 * An `http:` proxy is reached over kept-alive HTTP/1.1 connections of our own
 * (`http1_pool.ts`), a few of them, with requests beyond pipelined: a failure is `not-sent` only
 * when no byte of the request was written. An `https:` proxy is
 * reached through `fetch`, whose failures are classified from its messages.
 *
 * How Deno 2.9 reports failures, measured: every network failure of `fetch` is a
 * `TypeError("fetch failed")` whose `cause` is an `Error` with hyper's message. A failure before
 * the connection existed reads `... client error (Connect): tcp connect error: Connection refused
 * (os error 111)` (or `... (Connect): dns error: ...`); once the request may have been written it
 * reads `... client error (SendRequest): connection closed before message completed` (or
 * `invalid HTTP version parsed`, ...). A timeout from `AbortSignal.timeout` is a `DOMException`
 * named `TimeoutError`. Only the `(Connect)` phase is "not sent"; everything else is uncertain.
 *
 * @example
 * ```ts
 * using sender = new AsabruSender({ url: "http://proxy:8080/updateService", token: "s3cret" });
 * const outcome = await sender.send("add", {
 *   endPoint: "ch_http_node1",
 *   service: "ch_http_service2",
 *   host: "localhost",
 *   port: 2023,
 * });
 * if (outcome.kind === "uncertain") queue.markUncertain(ref); // delete before the next add
 * ```
 *
 * @module
 */

import { Http1Error, Http1Pool } from "./http1_pool.ts";
import { Http1NoAnswerError } from "./_http1_wire.ts";
import { OneShotClient } from "./one_shot.ts";
import { AsabruLoginError, ProxyCredentials } from "./login.ts";
import {
  classifyResponse,
  InvalidServiceRefError,
  isDeployedTextAnswer,
  type Operation,
  renderUpdate,
  type ServiceRef,
} from "./wire.ts";
import { innermostMessage } from "../shared/log_text.ts";

/**
 * What became of one update, and how long it took (`ms`, from the call to the outcome):
 *
 * - `ok`: the proxy applied it.
 * - `rejected`: the proxy answered that it refused it (`{"status":"error",...}`); not applied.
 * - `unauthorized`: the proxy answered 401 (after one new login, with login credentials), or the
 *   login was refused: nothing was applied. `message` is one line naming the proxy and its answer.
 * - `not-applied`: a proxy of the deployed kind (it answered in text, or `one-shot` was set)
 *   closed a fresh connection cleanly without a byte of answer: it read nothing (it answers
 *   whatever it read, and stops reading after 10 ms idle) or went down and forgot everything.
 *   Safe to send again as is.
 * - `not-sent`: the request certainly did not reach the proxy (connection refused, DNS failure,
 *   an invalid ref, the sender closed before sending). Safe to send again as is.
 * - `uncertain`: the proxy may have applied it (timeout, connection reset after sending, 5xx, an
 *   answer we do not recognise).
 * - `misconfigured`: the server answered 404 or 405: the URL is not the proxy's update route (a
 *   wrong path, a query string), a configuration error. Nothing was applied.
 */
export type DeliveryOutcome =
  | { kind: "ok"; ms: number }
  | { kind: "rejected"; message: string; ms: number }
  | { kind: "unauthorized"; message: string; ms: number }
  | { kind: "not-applied"; reason: string; ms: number }
  | {
    kind: "not-sent";
    reason: string;
    ms: number;
    /**
     * Our deadline passed before a byte was written (every connection busy, a connect that hung,
     * a login that did not answer): the proxy is slow or far, not a sign that it restarted.
     */
    timedOut?: boolean;
  }
  | {
    kind: "uncertain";
    reason: string;
    ms: number;
    /** No answer within the timeout: the proxy is slow, not necessarily restarted. */
    timedOut?: boolean;
    /** The connection was reset or broke: the proxy may have gone down (and restarted). */
    connectionBroke?: boolean;
  }
  | { kind: "misconfigured"; reason: string; ms: number };

/** Answers that say the URL is not the update route at all: 404 Not Found, 405 Method Not Allowed. */
const WRONG_ROUTE = new Set([404, 405]);

/** Options of {@link AsabruSender}. */
export interface AsabruSenderOptions {
  /** The proxy's update URL, `http://` or `https://`, e.g. `http://proxy:8080/updateService`. */
  url: string;
  /** When set, every request carries `Authorization: Bearer TOKEN`. */
  token?: string;
  /** Where tokens come from (a login, or a static token); overrides `token`. */
  credentials?: ProxyCredentials;
  /**
   * `http:` proxies: how requests travel. `keep-alive`: kept-alive connections of a pool
   * (pipelined beyond `maxConnections`); `one-shot`: one request per connection, the write side
   * shut after it (the deployed proxy answers once and closes); `auto` (default): keep-alive
   * until the proxy answers in the deployed proxy's text format, one-shot from then on.
   */
  transport?: AsabruTransport;
  /**
   * Told once, at the first answer in the deployed proxy's text format ({@link
   * AsabruSender.answersInText}); `auto` has switched to `one-shot` by then.
   */
  onTextAnswers?: () => void;
  /** How long one request may take, answer body included. Default 5000 ms. */
  timeoutMs?: number;
  /**
   * `http:` proxies: connections kept open at most; more requests in flight are pipelined on
   * them (HTTP/1.1, answers in order). Default 4; at least the caller's concurrency: no pipelining.
   */
  maxConnections?: number;
}

/** How requests reach an `http:` proxy (see {@link AsabruSenderOptions.transport}). */
export type AsabruTransport = "auto" | "keep-alive" | "one-shot";

// deno-lint-ignore no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;

/** A request in flight: its deadline, and how to end it. */
interface InFlight {
  deadline: number;
  controller: AbortController;
  timedOut: boolean;
}

/** Why a request's signal was aborted. */
type Aborted = "timed out" | "closed";
/** An answer, before it is classified. */
type Answer = { status: number; body: string };
/** A request that got no usable answer. */
type Failure = {
  kind: "not-sent" | "not-applied" | "uncertain";
  reason: string;
  /** No answer within the timeout (the proxy is slow, not necessarily restarted). */
  timedOut?: boolean;
  /** Reset or broken, not a clean close nor a timeout: the proxy may have gone down. */
  connectionBroke?: boolean;
};

/** Where a request goes: `/updateService` (the URL given) or `/configuration` at its origin. */
type Route = "update" | "configuration";

/** The most of an answer's body we read; the proxy's answers are a few dozen bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Sends updates to one proxy over keep-alive HTTP/1.1 connections: its own pool for `http:`, its
 * own `Deno.HttpClient` for `https:`.
 * {@link AsabruSender.send} never throws; {@link AsabruSender.close} releases the connections and
 * ends requests in flight (their outcome is `uncertain`).
 */
export class AsabruSender implements Disposable {
  /** The proxy's update URL. */
  readonly url: string;
  /** The proxy's whole-configuration URL: `/configuration` at the update URL's origin. */
  readonly configurationUrl: string;
  /** The per-request timeout in milliseconds. */
  readonly timeoutMs: number;

  readonly #credentials: ProxyCredentials;
  /** The head up to the Authorization line, and the one last built for a token. */
  readonly #headStart: string;
  /** The same for `POST /configuration`. */
  readonly #configurationHeadStart: string;
  #head: { token: string | undefined; text: string } | undefined;
  #transport: AsabruTransport;
  readonly #onTextAnswers: (() => void) | undefined;
  #textAnswers = false;
  /** `auto`: the proxy's answers have told which transport it needs. */
  #decided = false;
  /** `auto`, undecided: the one request in flight whose answer will tell; the others wait. */
  #probing: Promise<void> | undefined;
  #closed = false;
  readonly #inFlight = new Set<InFlight>();
  #deadlineTimer: ReturnType<typeof setInterval> | undefined;
  /** `http:` proxies: our own kept-alive connections. */
  readonly #pool: Http1Pool | undefined;
  /** `http:` proxies that answer once and close: a connection per request. */
  readonly #oneShot: OneShotClient | undefined;
  readonly #encoder = new TextEncoder();
  /** `https:` proxies: fetch's client, made at the first send. */
  #client: Deno.HttpClient | undefined;

  /**
   * Checks the options; opens no connection (the HTTP client is made at the first send).
   *
   * @throws {TypeError} when `url` is not an absolute `http:`/`https:` URL, `token` holds
   * characters a header cannot carry, or `timeoutMs` is not a positive number: configuration
   * errors, found at start-up rather than at the first send.
   */
  constructor(options: AsabruSenderOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`proxy URL ${JSON.stringify(options.url)} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`proxy URL ${JSON.stringify(options.url)} is not http: or https:`);
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new TypeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    this.url = url.href;
    this.configurationUrl = new URL("/configuration", url).href;
    this.timeoutMs = timeoutMs;
    if (options.token !== undefined && !/^[A-Za-z0-9\-._~+/]+=*$/.test(options.token)) {
      // RFC 6750 b64token, so the header cannot be split or refused by fetch.
      throw new TypeError("token must be a non-empty RFC 6750 bearer token (b64token)");
    }
    this.#credentials = options.credentials ??
      new ProxyCredentials({ proxyUrl: url.href, token: options.token, timeoutMs });
    this.#transport = options.transport ?? "auto";
    this.#onTextAnswers = options.onTextAnswers;
    this.#headStart = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
      `Content-Type: application/xml\r\n`;
    this.#configurationHeadStart = `POST /configuration HTTP/1.1\r\nHost: ${url.host}\r\n` +
      `Content-Type: application/xml\r\n`;
    this.#pool = url.protocol === "http:"
      ? new Http1Pool({
        // URL keeps an IPv6 literal's brackets; a socket wants the address without them.
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port || 80),
        maxBodyBytes: MAX_BODY_BYTES,
        maxConnections: options.maxConnections,
        connectTimeoutMs: timeoutMs,
        // Only a JSON answer (the documented proxy's) lets a connection be used again: the
        // deployed proxy closes after its text answer without saying so.
        reuseAfter: (answer) => answer.body.trimStart().startsWith("{"),
      })
      : undefined;
    this.#oneShot = url.protocol === "http:"
      ? new OneShotClient({
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port || 80),
        maxBodyBytes: MAX_BODY_BYTES,
        // Never more connections than the pool would open; and the deployed proxy's backlog is 5.
        maxConnections: Math.min(4, options.maxConnections ?? 4),
      })
      : undefined;
  }

  /**
   * How requests travel now: `auto` until the proxy's answers told (then `one-shot`), or what was
   * set. `https:` proxies always go through `fetch` (kept alive).
   */
  get transport(): AsabruTransport {
    return this.#transport;
  }

  /**
   * Whether the proxy answered in the deployed proxy's text format at least once: its `delete`
   * removes nothing (DESIGN.md, "Deployed").
   */
  get answersInText(): boolean {
    return this.#textAnswers;
  }

  /** The proxy's credentials (for `/readyz` and metrics). */
  get credentials(): ProxyCredentials {
    return this.#credentials;
  }

  /** Connections to an `http:` proxy open now, idle or busy (0 for `https:`: fetch pools those). */
  get openConnections(): number {
    return (this.#pool?.openConnections ?? 0) + (this.#oneShot?.openConnections ?? 0);
  }

  /**
   * Sends `op` for `ref` and resolves with what became of it. Never throws: an invalid ref
   * resolves `not-sent` without touching the network, and every network failure is classified.
   * The answer's body is always read (at most 64 KiB) or cancelled, so the connection goes back
   * to the pool.
   */
  async send(op: Operation, ref: ServiceRef): Promise<DeliveryOutcome> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;

    let body: string;
    try {
      body = renderUpdate(op, ref); // validates the ref first
    } catch (error) {
      if (!(error instanceof InvalidServiceRefError)) throw error;
      return { kind: "not-sent", reason: `invalid service ref: ${error.reason}`, ms: elapsed() };
    }
    return await this.#post("update", body, started);
  }

  /**
   * Sends a whole configuration document to `POST /configuration` at the proxy's origin
   * (whole-state delivery) and resolves with what became of it, as {@link send} does: same
   * transport, same login.
   */
  async sendConfiguration(document: string): Promise<DeliveryOutcome> {
    return await this.#post("configuration", document, performance.now());
  }

  async #post(route: Route, body: string, started: number): Promise<DeliveryOutcome> {
    const elapsed = () => performance.now() - started;
    if (this.#closed) {
      return { kind: "not-sent", reason: "sender closed", ms: elapsed() };
    }

    const request: InFlight = {
      deadline: performance.now() + this.timeoutMs,
      controller: new AbortController(),
      timedOut: false,
    };
    this.#track(request);
    const signal = request.controller.signal;
    const aborted = (): Aborted => request.timedOut ? "timed out" : "closed";

    try {
      // A 401 applied nothing: once more with a new login token may help; a second 401 not.
      for (let attempt = 0;; attempt++) {
        let token: string | undefined;
        try {
          token = await this.#credentials.token();
        } catch (error) {
          if (!(error instanceof AsabruLoginError)) throw error;
          const ms = elapsed();
          if (error.refused) return { kind: "unauthorized", message: error.message, ms };
          return { kind: "not-sent", reason: error.message, ms, timedOut: error.timedOut };
        }
        const answer = this.#pool
          ? await this.#probeFirst(() =>
            this.#overSocket(this.#pool!, route, body, token, signal, aborted)
          )
          : await this.#overFetch(route, body, token, signal, aborted);
        const ms = elapsed();
        if ("kind" in answer) return { ...answer, ms };
        const verdict = classifyResponse(answer.status, answer.body);
        if (verdict.kind === "unauthorized") {
          if (attempt === 0 && this.#credentials.unauthorized(token)) continue;
          const problem = this.#credentials.report().problem;
          return { kind: "unauthorized", message: problem ?? verdict.message, ms };
        }
        if (verdict.kind === "ok") {
          this.#credentials.accepted();
          return { kind: "ok", ms };
        }
        if (verdict.kind === "rejected") return { kind: "rejected", message: verdict.message, ms };
        if (WRONG_ROUTE.has(answer.status)) {
          return { kind: "misconfigured", reason: verdict.reason, ms };
        }
        return { kind: "uncertain", reason: verdict.reason, ms };
      }
    } finally {
      this.#untrack(request);
    }
  }

  /**
   * `auto`, until an answer has told the transport: one request at a time (queued on a kept-alive
   * connection, hundreds of requests would each wait out the deployed proxy's 10 ms idle time).
   */
  async #probeFirst(send: () => Promise<Answer | Failure>): Promise<Answer | Failure> {
    while (this.#transport === "auto" && !this.#decided && this.#probing) await this.#probing;
    if (this.#transport !== "auto" || this.#decided) return this.#learnFrom(await send());
    const probe = Promise.withResolvers<void>();
    this.#probing = probe.promise;
    try {
      return this.#learnFrom(await send());
    } finally {
      this.#probing = undefined;
      probe.resolve();
    }
  }

  #learnFrom(answer: Answer | Failure): Answer | Failure {
    if ("kind" in answer) return answer;
    this.#learn(answer);
    // A JSON answer: the documented proxy, which keeps connections alive.
    if (answer.body.trimStart().startsWith("{")) this.#decided = true;
    return answer;
  }

  /**
   * The first answer in the deployed proxy's text format: it answers once per connection (`auto`
   * switches to `one-shot`, for good) and its delete removes nothing.
   */
  #learn(answer: Answer): void {
    if (this.#textAnswers || !isDeployedTextAnswer(answer.status, answer.body)) return;
    this.#textAnswers = true;
    if (this.#transport === "auto" && this.#oneShot !== undefined) this.#transport = "one-shot";
    this.#decided = true;
    this.#onTextAnswers?.();
  }

  /** The request head up to the Content-Length value, for `token`. */
  #requestHead(route: Route, token: string | undefined): string {
    if (route === "configuration") {
      const authorization = token === undefined ? "" : `Authorization: Bearer ${token}\r\n`;
      return `${this.#configurationHeadStart}${authorization}Content-Length: `;
    }
    if (this.#head === undefined || this.#head.token !== token) {
      const authorization = token === undefined ? "" : `Authorization: Bearer ${token}\r\n`;
      this.#head = { token, text: `${this.#headStart}${authorization}Content-Length: ` };
    }
    return this.#head!.text;
  }

  /**
   * Watches the request's deadline. One timer serves every request in flight (a timer per
   * request cost more than the rest of the request at thousands a second): it ticks every tenth
   * of the timeout (5–50 ms) while requests are in flight, so a request is aborted at most one
   * tick after its deadline.
   */
  #track(request: InFlight): void {
    this.#inFlight.add(request);
    if (this.#deadlineTimer !== undefined) return;
    const tickMs = Math.min(50, Math.max(5, this.timeoutMs / 10));
    this.#deadlineTimer = setInterval(() => {
      const now = performance.now();
      for (const pending of this.#inFlight) {
        if (now < pending.deadline || pending.timedOut) continue;
        pending.timedOut = true;
        pending.controller.abort();
      }
    }, tickMs);
  }

  #untrack(request: InFlight): void {
    this.#inFlight.delete(request);
    if (this.#inFlight.size === 0) {
      clearInterval(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
    }
  }

  /**
   * `http:`: the request in one write, on a kept-alive connection of our own pool or (one-shot) on
   * a connection of its own, shut for writing after it.
   */
  async #overSocket(
    pool: Http1Pool,
    route: Route,
    body: string,
    token: string | undefined,
    signal: AbortSignal,
    aborted: () => Aborted,
  ): Promise<Answer | Failure> {
    // Content-Length counts UTF-8 bytes: the string's length when it is all ASCII (the usual case).
    const length = ASCII.test(body) ? body.length : this.#encoder.encode(body).length;
    const head = this.#requestHead(route, token);
    const request = this.#encoder.encode(`${head}${length}\r\n\r\n${body}`);
    try {
      if (this.#transport === "one-shot" && this.#oneShot) {
        return await this.#oneShot.request(request, signal);
      }
      return await pool.request(request, signal);
    } catch (error) {
      const failure = error instanceof Http1Error
        ? error
        : new Http1Error(describeCause(error), true, { cause: error });
      if (!signal.aborted) {
        // Only from a proxy known (or declared) to be the deployed kind: another server may have
        // read and applied the request before it hung up.
        if (
          failure instanceof Http1NoAnswerError &&
          (this.#textAnswers || this.#transport === "one-shot")
        ) {
          return { kind: "not-applied", reason: failure.reason };
        }
        if (!failure.sent) return { kind: "not-sent", reason: failure.reason };
        return { kind: "uncertain", reason: failure.reason, connectionBroke: broke(failure) };
      }
      if (failure.sent) {
        const why = aborted();
        return { kind: "uncertain", reason: this.#abortReason(why), timedOut: why === "timed out" };
      }
      const why = aborted();
      const reason = why === "closed"
        ? "sender closed"
        : `not sent within ${this.timeoutMs} ms (no connection to the proxy, or every one busy)`;
      return { kind: "not-sent", reason, timedOut: why === "timed out" };
    }
  }

  /** `https:`: through `fetch` and a `Deno.HttpClient` of our own (HTTP/1.1 only). */
  async #overFetch(
    route: Route,
    body: string,
    token: string | undefined,
    signal: AbortSignal,
    aborted: () => Aborted,
  ): Promise<Answer | Failure> {
    let response: Response;
    try {
      response = await fetch(route === "update" ? this.url : this.configurationUrl, {
        method: "POST",
        headers: token === undefined
          ? { "Content-Type": "application/xml" }
          : { "Content-Type": "application/xml", "Authorization": `Bearer ${token}` },
        body,
        signal,
        redirect: "manual",
        client: this.#httpClient(),
      });
    } catch (error) {
      if (signal.aborted) {
        const why = aborted();
        return { kind: "uncertain", reason: this.#abortReason(why), timedOut: why === "timed out" };
      }
      return classifyFetchFailure(error);
    }
    try {
      const length = Number(response.headers.get("content-length") ?? NaN);
      // The proxy's answers are a few dozen bytes: read them whole when their size is known.
      const text = length <= MAX_BODY_BYTES
        ? await response.text()
        : await readBounded(response, MAX_BODY_BYTES);
      return { status: response.status, body: text };
    } catch (error) {
      const reason = signal.aborted
        ? this.#abortReason(aborted())
        : `HTTP ${response.status}, then the answer broke off: ${describeCause(error)}`;
      return { kind: "uncertain", reason };
    }
  }

  /**
   * Ends requests in flight (they resolve `uncertain`), refuses further sends (`not-sent`) and
   * closes the HTTP client and its pooled connections. Idempotent.
   */
  close(): void {
    this.#closed = true;
    for (const request of this.#inFlight) request.controller.abort();
    this.#pool?.close();
    this.#oneShot?.close();
    this.#client?.close();
    this.#client = undefined;
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #abortReason(why: Aborted): string {
    return why === "timed out"
      ? `no complete answer within ${this.timeoutMs} ms`
      : "sender closed while waiting for the answer";
  }

  #httpClient(): Deno.HttpClient {
    // Made on first use, so a sender that never sends holds no resource. HTTP/1.1 only: the
    // proxy's control API speaks nothing else, and ALPN must not pick h2 over TLS.
    this.#client ??= Deno.createHttpClient({ http2: false });
    return this.#client;
  }
}

/**
 * Classifies an error thrown by `fetch` (other than our own abort) into `not-sent`, when the
 * request certainly did not leave (hyper's `client error (Connect)` phase: connection refused,
 * DNS failure, TLS handshake failure; or no network permission), or `uncertain`. The reason is one
 * line naming the cause without the URL.
 *
 * @example
 * ```ts
 * classifyFetchFailure(
 *   new TypeError("fetch failed", {
 *     cause: new Error(
 *       "error sending request for url (http://127.0.0.1:1/): client error (Connect): " +
 *         "tcp connect error: Connection refused (os error 111)",
 *     ),
 *   }),
 * ); // { kind: "not-sent", reason: "connection refused" }
 * ```
 */
export function classifyFetchFailure(
  error: unknown,
): { kind: "not-sent" | "uncertain"; reason: string } {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return { kind: "not-sent", reason: `no permission to connect: ${describeCause(error)}` };
  }
  const message = describeCause(error);
  const hyper = /client error \((\w+)\): (.*)$/.exec(message);
  if (hyper?.[1] === "Connect") {
    const detail = hyper[2];
    if (/connection refused|os error 111/i.test(detail)) {
      return { kind: "not-sent", reason: "connection refused" };
    }
    if (/dns error/i.test(detail)) {
      return { kind: "not-sent", reason: `DNS lookup failed: ${detail}` };
    }
    return { kind: "not-sent", reason: `could not connect: ${detail}` };
  }
  if (hyper !== null) return { kind: "uncertain", reason: `${hyper[1]}: ${hyper[2]}` };
  return { kind: "uncertain", reason: message };
}

/**
 * Whether a failure was the connection breaking (reset, broken pipe, aborted), which a proxy going
 * down causes, rather than a clean close without an answer (the deployed proxy reading nothing in
 * its 10 ms) or a malformed answer.
 */
function broke(failure: Http1Error): boolean {
  if (failure instanceof Http1NoAnswerError) return false;
  for (let cause: unknown = failure; cause instanceof Error; cause = cause.cause) {
    if (
      cause instanceof Deno.errors.ConnectionReset || cause instanceof Deno.errors.BrokenPipe ||
      cause instanceof Deno.errors.ConnectionAborted
    ) return true;
  }
  return /reset|broken pipe|connection aborted/i.test(failure.reason);
}

/** The innermost useful message of an error chain (Deno's fetch puts hyper's in `cause`), one line. */
function describeCause(error: unknown): string {
  return innermostMessage(error, 300);
}

/** Reads at most `limit` bytes of the body as UTF-8 and cancels the rest. */
async function readBounded(response: Response, limit: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      received += value.byteLength;
      if (received > limit) {
        await reader.cancel();
        return text + decoder.decode(value.subarray(0, value.byteLength - (received - limit)));
      }
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
}
