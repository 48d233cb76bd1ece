/**
 * The delivery queue of one proxy: drives what the proxy holds towards what the mirror wants.
 *
 * - Per service, one operation at a time, decided afresh from state when it is due
 *   ({@link nextOperation}): an add and a delete that both happen before delivery cancel out,
 *   a flapping service sends only what its latest state needs, and nothing is ever dropped.
 * - Unrelated services go concurrently, up to `concurrency` requests in flight.
 * - A proxy that cannot be reached (refused, timed out, 5xx) pauses the whole queue with capped
 *   exponential back-off and jitter, then probes with one request before opening up again, so a
 *   proxy that is down costs one request per back-off, not one per service.
 * - A proxy that refuses one change (`{"status":"error"}`: an end point it does not know yet)
 *   delays that service alone, on the same capped back-off, logged once per service and reason.
 * - A full resync (the proxy restarted and forgot) marks every service uncertain, so each gets a
 *   delete and then an add, paced at `resyncPerSecond`.
 * - Restart recovery: a proxy that could not be reached (refused, reset) and answers again may
 *   have restarted and forgotten every service added at run time: what it had acknowledged is
 *   resynced (on by default). A timeout or a clean close without an answer is no sign of a
 *   restart, and a proxy that had acknowledged nothing has nothing to forget.
 * - A proxy whose `delete` removes nothing (the deployed proxy, `deletesRemove`): no delete that
 *   only prepares an add is sent (it cannot help), and an add whose outcome is unknown is taken
 *   as applied: sending it again could give the service a second slot that nothing can remove,
 *   while a lost add is restored by restart recovery or a resync. (The deployed proxy applies an
 *   update before it answers; what it loses it loses by restarting, which recovery covers.)
 * - `unauthorized` (401, refused login) pauses the whole queue like an unreachable proxy, but
 *   nothing is uncertain: nothing was applied.
 *
 * @module
 */
import { FifoSet } from "../../shared/fifo.ts";
import { OutageReport } from "../../shared/outage_report.ts";
import { getLogger } from "@logtape/logtape";
import type { ServiceRef } from "../../asabru/wire.ts";
import type { DeliveryOutcome } from "../../asabru/sender.ts";
import { type DeliveryState, nextOperation, type Wanted } from "./decide.ts";
import { backoffMs } from "../../shared/backoff.ts";
import { BulkSummary } from "./bulk_summary.ts";
import { ResyncPacing } from "./resync_pacing.ts";
import { afterOutcome, type OutcomeLine } from "./outcome.ts";

const log = getLogger(["zkcm", "delivery"]);

/** Sends one operation to the proxy. */
export type Send = (op: "add" | "delete", ref: ServiceRef) => Promise<DeliveryOutcome>;

/** Options of {@link ProxyQueue}. */
export interface ProxyQueueOptions {
  /** The proxy, for logs and metrics (its URL). */
  proxy: string;
  send: Send;
  /** Requests in flight at most. Default 32. */
  concurrency?: number;
  /** First back-off. Default 250 ms. */
  retryBaseMs?: number;
  /** Longest back-off. Default 30 s. */
  retryMaxMs?: number;
  /** Operations per second during a full resync. Default 500. */
  resyncPerSecond?: number;
  /** Asked before every send; `false` holds everything (a monitor that is not the leader). */
  mayDeliver?: () => boolean;
  /**
   * Resync a proxy that was unreachable (refused, reset) once it answers again: it may have
   * restarted and forgotten every run-time service. Default true.
   */
  restartRecovery?: boolean;
  /** Whether the proxy's `delete` removes anything; asked at every decision. Default: yes. */
  deletesRemove?: () => boolean;
  /** Told every decision about one service (for the decision journal). */
  onDecision?: (decision: {
    decision: "sent" | "retried" | "rejected" | "uncertain";
    key: string;
    op: "add" | "delete";
    reason?: string;
  }) => void;
  /** Called when a service's change reached the proxy: its latency from the mirror's change. */
  onConverged?: (key: string, latencyMs: number) => void;
  /** Randomness for jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Monotonic milliseconds. Default `performance.now`. */
  now?: () => number;
}

/** What a queue has done, for metrics. */
export interface QueueCounters {
  sent: { add: number; delete: number };
  ok: number;
  rejected: number;
  notSent: number;
  uncertain: number;
  /** Operations sent again after a failure. */
  retried: number;
  resyncs: number;
  /** Answers saying the URL is not the proxy's update route (404, 405). */
  misconfigured: number;
  /** Answers 401, and refused logins. */
  unauthorized: number;
  /** Sent, closed without an answer by a deployed proxy that read nothing: sent again. */
  notApplied: number;
  /** Resyncs after the proxy answered again following refused or reset connections. */
  restartRecoveries: number;
  /** Adds of unknown outcome taken as applied (a proxy whose delete removes nothing). */
  assumedApplied: number;
}

interface Entry extends DeliveryState {
  key: string;
  inFlight: boolean;
  /** Failures in a row of this service alone (refusals). */
  failures: number;
  retryTimer?: ReturnType<typeof setTimeout>;
  /** When the wanted state last changed and is not delivered yet. */
  changedAt?: number;
  /** Part of a resync: its operations are paced. */
  resyncing: boolean;
  /** The last refusal logged, so each is logged once. */
  loggedRefusal?: string;
  /** The last operation failed: the next one is a retry. */
  retrying: boolean;
  /** A resync began while a request was in flight: its answer must not undo the resync. */
  resyncedInFlight: boolean;
  /** Its last operation was acknowledged: the next one (an add after its delete) goes first. */
  continuing?: boolean;
  /** Part of a start-up or a resync: its requests are logged in the summary, not one by one. */
  bulk?: boolean;
  /** Why its last operation failed (for the status page); cleared by the next success. */
  lastFailure?: string;
}

/** Where one proxy stands, for the status page. */
export interface ProxyQueueStatus {
  /** Requests sent and not answered yet. */
  inFlight: number;
  /** Services whose proxy state differs from the wanted one. */
  pending: number;
  /** How long the oldest undelivered change has waited, in ms (0 when none). */
  oldestPendingMs: number;
  /** Operations sent again after a failure, since start. */
  retries: number;
  /** Whether the proxy is unreachable right now (paused, probing). */
  unreachable: boolean;
  /** The last failure of any request, and when (wall clock, ms since the epoch) when known. */
  lastError?: { reason: string; atMs?: number };
}

/** Where one service stands towards one proxy, for the status page. */
export type ServiceDelivery =
  | { state: "delivered" }
  /** `op` absent: the whole state goes at once (whole-state delivery). */
  | { state: "pending"; op?: "add" | "delete" }
  | { state: "retrying"; op: "add" | "delete"; reason: string };

/** The delivery queue of one proxy. */
export class ProxyQueue {
  /** How it delivers (tells it from a whole-state pusher without importing either class). */
  readonly delivery = "per request";
  readonly proxy: string;
  readonly counters: QueueCounters = {
    sent: { add: 0, delete: 0 },
    ok: 0,
    rejected: 0,
    notSent: 0,
    uncertain: 0,
    retried: 0,
    resyncs: 0,
    misconfigured: 0,
    unauthorized: 0,
    notApplied: 0,
    restartRecoveries: 0,
    assumedApplied: 0,
  };
  /**
   * Why the proxy's URL looks wrong (its last answer was a 404 or 405), until it answers
   * otherwise: a configuration error, shown on `/readyz`.
   */
  misconfiguration: string | undefined;
  readonly #send: Send;
  readonly #concurrency: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #pacing: ResyncPacing;
  readonly #mayDeliver: () => boolean;
  readonly #restartRecovery: boolean;
  readonly #deletesRemove: () => boolean;
  readonly #onConverged?: (key: string, latencyMs: number) => void;
  readonly #onDecision?: ProxyQueueOptions["onDecision"];
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  /** Keys whose proxy state differs from the wanted one. */
  readonly #unconverged = new Set<string>();
  /** Keys to look at, in arrival order. */
  readonly #ready = new FifoSet<string>();
  /**
   * Keys whose last operation was just acknowledged, taken before {@link #ready}: a service
   * deleted before its add (a start, a resync, an uncertain outcome) is back at the proxy one
   * round trip later, not after every other service's delete.
   */
  readonly #continuing = new FifoSet<string>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Proxy-wide failures in a row (unreachable); > 0 means probing with one request. */
  #proxyFailures = 0;
  /** What is said about the proxy being down: the first failure, then a reminder per 30 s. */
  readonly #outage: OutageReport<string>;
  /** During those failures, a connection was refused or reset: the proxy may have restarted. */
  #mayHaveRestarted = false;
  /** The proxy refuses our credentials (401): paused, not unreachable. */
  #authProblem: string | undefined;
  #pausedUntil = 0;
  #pumpTimer?: ReturnType<typeof setTimeout>;
  readonly #summary: BulkSummary;
  #startupOver = false;
  #stopped = false;
  #idle = new Set<() => void>();
  #lastError?: { reason: string; atMs: number };

  constructor(options: ProxyQueueOptions) {
    this.proxy = options.proxy;
    this.#send = options.send;
    this.#concurrency = options.concurrency ?? 32;
    this.#retryBaseMs = options.retryBaseMs ?? 250;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#pacing = new ResyncPacing(options.resyncPerSecond ?? 500);
    this.#mayDeliver = options.mayDeliver ?? (() => true);
    this.#restartRecovery = options.restartRecovery ?? true;
    this.#deletesRemove = options.deletesRemove ?? (() => true);
    this.#onConverged = options.onConverged;
    this.#onDecision = options.onDecision;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
    this.#outage = new OutageReport({ now: this.#now });
    this.#summary = new BulkSummary(this.proxy, this.#now);
  }

  /**
   * Sets what the proxy should hold for `key` (`undefined`: nothing). With `proxyMayHold`, a
   * service this queue has never dealt with is treated as unknown at the proxy (delete before
   * add): what a monitor that just started must assume, since an earlier monitor may have added
   * it and the proxy cannot be asked.
   */
  setWanted(
    key: string,
    wanted: Wanted | undefined,
    options: { proxyMayHold?: boolean } = {},
  ): void {
    const known = this.#entries.has(key);
    const entry = this.#entry(key);
    if (options.proxyMayHold && !known && wanted) {
      entry.uncertain = wanted.ref;
      if (!this.#startupOver) {
        this.#summary.startup();
        this.#summary.join(entry);
      }
    }
    if (!wanted && entry.wanted && !this.#mayDeliver()) {
      // A standby: the leader may have added this service, so whoever takes over must delete it.
      entry.uncertain ??= entry.wanted.ref;
    }
    entry.wanted = wanted;
    entry.changedAt ??= this.#now();
    this.#track(entry);
    this.#settleIfConverged(entry);
    this.#wake(entry);
  }

  /**
   * Full resync: every service the proxy holds or should hold gets a delete, then an add if it is
   * wanted, paced; whatever the proxy held before (it may have restarted empty, or held copies of
   * an earlier leader's adds) ends as exactly one copy per wanted service.
   */
  resync(reason = "resync", options: { onlyDelivered?: boolean } = {}): void {
    this.counters.resyncs++;
    // A start-up still in progress carries on inside the resync (one summary for both).
    this.#summary.resync();
    let count = 0;
    for (const entry of this.#entries.values()) {
      // Restart recovery: what never reached the proxy cannot have been forgotten by it.
      if (options.onlyDelivered && !entry.acknowledged && !entry.uncertain) continue;
      const ref = entry.acknowledged?.ref ?? entry.wanted?.ref;
      if (!ref) continue;
      entry.uncertain ??= ref;
      entry.acknowledged = undefined;
      entry.resyncing = true;
      if (entry.inFlight) entry.resyncedInFlight = true;
      entry.changedAt ??= this.#now();
      count++;
      this.#summary.join(entry);
      this.#track(entry);
    }
    log.info("full resync of {proxy} ({reason}): {count} services, {rate} operations/s", {
      proxy: this.proxy,
      reason,
      count,
      rate: this.#pacing.perSecond,
    });
    // Only now, with every entry marked: a pump in the middle would send a plain add for an
    // entry not marked yet.
    this.kick();
    this.#summary.summarizeIfDone();
  }

  /**
   * The services present at start-up have all been handed over (the mirror's first full read is
   * done): once they are delivered, the start-up's summary line is logged.
   */
  startupListed(): void {
    this.#startupOver = true; // later services are changes: a line each
    this.#summary.listed();
  }

  /** Services whose proxy state differs from the wanted one. */
  pending(): number {
    return this.#unconverged.size;
  }

  /** How long the oldest undelivered change has waited (0 when none). */
  oldestPendingMs(): number {
    let oldest = Infinity;
    for (const key of this.#unconverged) {
      const changedAt = this.#entries.get(key)?.changedAt;
      if (changedAt !== undefined) oldest = Math.min(oldest, changedAt);
    }
    return oldest === Infinity ? 0 : this.#now() - oldest;
  }

  /** Whether the proxy holds exactly what is wanted for `key`. */
  delivered(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry === undefined || this.#next(entry) === undefined;
  }

  /** Where this proxy stands (the status page's summary of it). */
  status(): ProxyQueueStatus {
    return {
      inFlight: this.#inFlight.size,
      pending: this.pending(),
      oldestPendingMs: this.oldestPendingMs(),
      retries: this.counters.retried,
      unreachable: this.unreachable,
      lastError: this.#lastError,
    };
  }

  /** Where `key` stands towards this proxy: delivered, pending, or retrying and why. */
  serviceDelivery(key: string): ServiceDelivery {
    const entry = this.#entries.get(key);
    const next = entry && this.#next(entry);
    if (!entry || !next) return { state: "delivered" };
    if (entry.retrying && entry.lastFailure !== undefined) {
      return { state: "retrying", op: next.op, reason: entry.lastFailure };
    }
    return { state: "pending", op: next.op };
  }

  /** Whether the proxy is unreachable right now (paused, probing). */
  get unreachable(): boolean {
    return this.#proxyFailures > 0 && this.#authProblem === undefined;
  }

  /** Resolves when nothing is pending nor in flight (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /** Looks at the queue again (after leadership was gained, for example). */
  kick(): void {
    for (const key of this.#unconverged) {
      const entry = this.#entries.get(key);
      if (entry && !entry.inFlight && entry.retryTimer === undefined) this.#ready.add(key);
    }
    this.#pump();
  }

  /** Stops sending; waits at most `graceMs` for requests in flight. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#pumpTimer);
    for (const entry of this.#entries.values()) clearTimeout(entry.retryTimer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.#inFlight),
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
  }

  /** Whether the proxy refuses our credentials now: one line, for `/readyz`. */
  get authProblem(): string | undefined {
    return this.#authProblem;
  }

  // ---- the pump ----

  #next(entry: Entry): ReturnType<typeof nextOperation> {
    return nextOperation(entry, { deletesRemove: this.#deletesRemove() });
  }

  #entry(key: string): Entry {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = {
        key,
        inFlight: false,
        failures: 0,
        resyncing: false,
        retrying: false,
        resyncedInFlight: false,
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  #wake(entry: Entry): void {
    if (this.#stopped) return;
    const current = this.#entries.get(entry.key) === entry;
    if (current && !entry.inFlight && entry.retryTimer === undefined) {
      if (entry.continuing) this.#continuing.add(entry.key);
      else this.#ready.add(entry.key);
    }
    entry.continuing = false;
    this.#pump();
  }

  /** Keeps {@link pending} exact after every change of an entry. */
  #track(entry: Entry): void {
    if (this.#next(entry)) this.#unconverged.add(entry.key);
    else this.#unconverged.delete(entry.key);
  }

  #pump(): void {
    if (this.#stopped || !this.#mayDeliver()) return;
    const now = this.#now();
    if (now < this.#pausedUntil) return this.#pumpLater(this.#pausedUntil - now);
    const limit = this.#proxyFailures > 0 ? 1 : this.#concurrency;
    for (let key = this.#nextReady(); key !== undefined; key = this.#nextReady()) {
      if (this.#inFlight.size >= limit) break;
      const entry = this.#entries.get(key);
      if (!entry) {
        this.#unready(key);
        continue;
      }
      const next = this.#next(entry);
      if (!next) {
        this.#unready(key);
        this.#settleIfConverged(entry);
        continue;
      }
      if (entry.resyncing && !this.#pacing.take(now)) {
        this.#pumpLater(1000 / this.#pacing.perSecond);
        break;
      }
      this.#unready(key);
      this.#dispatch(entry, next.op, next.ref, entry.wanted);
    }
    this.#notifyIdle();
  }

  #nextReady(): string | undefined {
    return this.#continuing.first() ?? this.#ready.first();
  }

  #unready(key: string): void {
    this.#continuing.delete(key);
    this.#ready.delete(key);
  }

  #pumpLater(ms: number): void {
    if (this.#pumpTimer !== undefined) return;
    this.#pumpTimer = setTimeout(() => {
      this.#pumpTimer = undefined;
      this.#pump();
    }, Math.max(1, ms));
  }

  /** Sends `op`; `wantedAtSend` is what an acknowledged add will mean the proxy holds. */
  #dispatch(
    entry: Entry,
    op: "add" | "delete",
    ref: ServiceRef,
    wantedAtSend: Wanted | undefined,
  ): void {
    entry.inFlight = true;
    this.counters.sent[op]++;
    if (entry.retrying) {
      this.counters.retried++;
      this.#onDecision?.({ decision: "retried", key: entry.key, op });
    }
    const task = this.#send(op, ref).then(
      (outcome) => this.#apply(entry, op, ref, wantedAtSend, outcome),
      (error) =>
        this.#apply(entry, op, ref, wantedAtSend, {
          kind: "uncertain",
          reason: String(error),
          ms: 0,
        }),
    ).finally(() => {
      this.#inFlight.delete(task);
      entry.inFlight = false;
      this.#track(entry);
      this.#settleIfConverged(entry);
      this.#wake(entry);
      this.#notifyIdle();
    });
    this.#inFlight.add(task);
  }

  /** Applies what {@link afterOutcome} decides about the answer to `op`. */
  #apply(
    entry: Entry,
    op: "add" | "delete",
    ref: ServiceRef,
    wantedAtSend: Wanted | undefined,
    outcome: DeliveryOutcome,
  ): void {
    // A resync that began meanwhile (the proxy may have forgotten everything, this included)
    // wins over the answer: the next operations are its delete and add.
    const decision = afterOutcome(
      { op, ref, wantedAtSend, resyncedInFlight: entry.resyncedInFlight, failures: entry.failures },
      outcome,
      { deletesRemove: this.#deletesRemove() },
    );
    entry.resyncedInFlight = false;
    entry.lastFailure = undefined;
    this.counters[decision.counter]++;
    if (decision.assumedApplied) this.counters.assumedApplied++;
    if (decision.mayHaveRestarted) this.#mayHaveRestarted = true;
    // First: an answer may end an outage, and its restart recovery re-marks this entry too.
    if (decision.proxy === "reachable") this.#proxyReachable();
    if (decision.service === "delivered") {
      entry.failures = 0;
      entry.loggedRefusal = undefined;
    }
    if (decision.holding) {
      entry.uncertain = decision.holding.uncertain;
      entry.acknowledged = decision.holding.acknowledged;
    }
    if (decision.nextGoesFirst) entry.continuing = true;
    if (decision.failure !== undefined) this.#failed(entry, decision.failure);
    if (decision.journal) {
      this.#onDecision?.({
        decision: decision.journal,
        key: entry.key,
        op,
        ...(decision.journal === "sent" ? {} : { reason: decision.failure }),
      });
    }
    if (decision.line) this.#say(decision.line, entry, op, ref, outcome);
    // Last: the outcome's own line (judged against the outage so far) comes before the outage's.
    switch (decision.proxy) {
      case "unreachable":
        this.#proxyUnreachable(decision.failure ?? "");
        break;
      case "unauthorized":
        this.#proxyUnauthorized(decision.failure ?? "");
        break;
      case "misconfigured":
        this.#proxyMisconfigured(decision.failure ?? "");
        break;
    }
    switch (decision.service) {
      case "delivered":
      case "taken-as-applied":
        entry.retrying = false;
        return;
      case "as-before":
        return;
      case "with-the-queue":
        entry.retrying = true;
        return;
      case "at-once":
        entry.failures++;
        entry.retrying = true;
        return;
      case "after-back-off":
        this.#retryService(entry);
        return;
    }
  }

  /** The one line about an answer; see {@link OutcomeLine}. */
  #say(
    line: OutcomeLine,
    entry: Entry,
    op: "add" | "delete",
    ref: ServiceRef,
    outcome: DeliveryOutcome,
  ): void {
    const properties = {
      proxy: this.proxy,
      key: entry.key,
      op,
      host: ref.host,
      port: ref.port,
      ms: Math.round(outcome.ms),
    };
    // Why it failed: a refusal's message or a failure's reason.
    const reason = "reason" in outcome
      ? outcome.reason
      : "message" in outcome
      ? outcome.message
      : undefined;
    switch (line) {
      case "sent-during-resync":
        // Part of the resync's summary line, as its other requests (one line per request
        // would be thousands when a resync begins under load).
        this.#summary.countRequest();
        log.debug(`sent ${op} {key} to {proxy} during a resync: resyncing it again`, properties);
        return;
      case "sent":
        // One line per change; a start-up or a resync (thousands of requests) gets one summary.
        if (entry.bulk && this.#summary.active) {
          this.#summary.countRequest();
          log.debug(`sent ${op} {key} to {proxy}`, properties);
        } else {
          log.info(`sent ${op} {key} to {proxy}`, properties);
        }
        return;
      case "nothing-to-delete":
        log.info("{proxy} has no end point for {key}: nothing to delete", properties);
        return;
      case "refused":
        this.#summary.leave(entry); // its refusals are warnings of their own
        if (entry.loggedRefusal === reason) return;
        entry.loggedRefusal = reason;
        log.warn(`{proxy} refused ${op} {key}: {reason}; retrying with back-off`, {
          ...properties,
          reason,
        });
        return;
      case "not-applied":
        log.debug(`{proxy} closed the connection of ${op} {key} without an answer: sending again`, {
          ...properties,
          reason,
        });
        return;
      case "taken-as-applied":
        log.warn(
          `outcome of ${op} {key} at {proxy} unknown ({reason}); its delete removes nothing, ` +
            "so it is taken as applied rather than risk a second slot",
          { ...properties, reason },
        );
        return;
      case "uncertain": {
        // Once the proxy is known to be down, each probe's unknown outcome is not news: the
        // outage's own lines (first, then a reminder per 30 s) say it.
        const message =
          `outcome of ${op} {key} at {proxy} unknown ({reason}): deleting before adding`;
        if (this.#proxyFailures === 0) log.warn(message, { ...properties, reason });
        else log.debug(message, { ...properties, reason });
        return;
      }
    }
  }

  /** Remembers why a request failed, for {@link status} and {@link serviceDelivery}. */
  #failed(entry: Entry, reason: string): void {
    entry.lastFailure = reason;
    this.#lastError = { reason, atMs: Date.now() };
  }

  #retryService(entry: Entry): void {
    entry.failures++;
    entry.retrying = true;
    const delay = this.#backoff(entry.failures);
    clearTimeout(entry.retryTimer);
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      this.#wake(entry);
    }, delay);
  }

  #proxyUnreachable(reason: string, explained = false): void {
    this.#proxyFailures++;
    const delay = this.#backoff(this.#proxyFailures);
    this.#pausedUntil = this.#now() + delay;
    const properties = { proxy: this.proxy, reason, retryInMs: Math.round(delay) };
    const notice = this.#outage.failed(reason);
    // A failure the caller explained in its own line (a wrong route) is not called unreachable.
    if (explained) log.debug("{proxy} still misconfigured ({reason})", properties);
    else if (notice?.first) {
      log.warn(
        notice.flaps > 0
          ? "{proxy} unreachable ({reason}); pausing; it came back and failed {flaps} times since the last warning"
          : "{proxy} unreachable ({reason}); pausing",
        { ...properties, flaps: notice.flaps },
      );
    } else if (notice) {
      log.warn(
        "{proxy} still unreachable after {seconds} s and {failures} failures; the last: {reason}",
        {
          ...properties,
          seconds: Math.round(notice.downForMs / 1000),
          failures: notice.attempts,
        },
      );
    } else log.debug("{proxy} still unreachable ({reason})", properties);
  }

  /** A 404 or 405: the URL is not the update route; paused and probed as if unreachable. */
  #proxyMisconfigured(reason: string): void {
    const first = this.misconfiguration !== reason;
    this.misconfiguration = reason;
    // Nothing was applied: the queue pauses as for an unreachable proxy and probes at the
    // capped back-off, in case the route appears (a proxy still starting, say).
    this.#proxyUnreachable(reason, true);
    if (first) {
      log.error(
        "{proxy} answers {reason}: the URL is not the proxy's update route; check the path " +
          "of ASABRU_API_URL (retrying with back-off)",
        { proxy: this.proxy, reason },
      );
    }
  }

  /** A 401 or a refused login: hold everything, probe with one request per back-off. */
  #proxyUnauthorized(message: string): void {
    this.#proxyFailures++;
    const delay = this.#backoff(this.#proxyFailures);
    this.#pausedUntil = this.#now() + delay;
    if (this.#authProblem !== message) {
      // The credentials have logged the line already; this says what the queue does about it.
      log.warn("{proxy} holds every change until it accepts the credentials: {problem}", {
        proxy: this.proxy,
        problem: message,
        retryInMs: Math.round(delay),
      });
    }
    this.#authProblem = message;
  }

  #proxyReachable(): void {
    this.misconfiguration = undefined;
    this.#authProblem = undefined;
    if (this.#proxyFailures === 0) return;
    const ended = this.#outage.recovered();
    // A flap's recovery is counted in the next warning instead (see OutageReport).
    (ended?.quiet ? log.debug : log.info).bind(log)(
      "{proxy} reachable again after {seconds} s and {failures} failures",
      {
        proxy: this.proxy,
        failures: this.#proxyFailures,
        seconds: Math.round((ended?.downForMs ?? 0) / 1000),
      },
    );
    this.#proxyFailures = 0;
    this.#pausedUntil = 0;
    if (this.#mayHaveRestarted && this.#restartRecovery && this.#anythingDelivered()) {
      this.#mayHaveRestarted = false;
      this.counters.restartRecoveries++;
      log.warn(
        "{proxy} answers again after refused or broken connections: it may have restarted and " +
          "forgotten every service added at run time; re-filling it (restart recovery)",
        { proxy: this.proxy },
      );
      this.resync("restart recovery", { onlyDelivered: true });
      return;
    }
    this.#mayHaveRestarted = false;
    this.kick();
  }

  /** Whether the proxy may hold anything of ours: what a restart could have made it forget. */
  #anythingDelivered(): boolean {
    for (const entry of this.#entries.values()) {
      if (entry.acknowledged || entry.uncertain) return true;
    }
    return false;
  }

  #backoff(failures: number): number {
    return backoffMs(failures, {
      baseMs: this.#retryBaseMs,
      maxMs: this.#retryMaxMs,
      random: this.#random,
    });
  }

  #settleIfConverged(entry: Entry): void {
    if (entry.inFlight || this.#next(entry)) return;
    if (entry.changedAt !== undefined) {
      this.#onConverged?.(entry.key, this.#now() - entry.changedAt);
      entry.changedAt = undefined;
    }
    entry.resyncing = false;
    this.#summary.leave(entry);
    if (!entry.wanted && !entry.acknowledged && entry.retryTimer === undefined) {
      this.#entries.delete(entry.key);
      this.#unready(entry.key);
    }
  }

  #isIdle(): boolean {
    return this.#inFlight.size === 0 && this.#unconverged.size === 0;
  }

  #notifyIdle(): void {
    if (this.#idle.size === 0 || !this.#isIdle()) return;
    for (const resolve of this.#idle) resolve();
    this.#idle.clear();
  }
}
