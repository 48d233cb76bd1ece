/**
 * Whole-state delivery to one proxy: instead of one `/updateService` request per change, the
 * proxy's whole configuration (its template, each end point's services replaced) is pushed to
 * `POST /configuration`, which replaces every end point's list. Removals take effect (the deployed
 * proxy's delete does not), and the same push twice is the same state, so a retry or a push after
 * a restart simply sends the latest state.
 *
 * - Changes close together go out together ({@link nextPush}): at most one push in flight; what
 *   changes meanwhile goes in the next one. A lone change on an idle monitor goes out at the end
 *   of the event-loop turn that brought it; after a push, the next one waits as long as that
 *   push's render took, so pushes never take more than half of the event loop.
 * - Nothing is pushed before the first full read of ZooKeeper ({@link startupListed}): a partial
 *   state would remove from the proxy the services not read yet.
 * - A failed push is retried with the latest state on capped exponential back-off with jitter; the
 *   first push that succeeds after refused or broken connections has re-filled a proxy that may
 *   have restarted (counted as a restart recovery, as the per-request queue counts its resyncs).
 * - {@link resync} (SIGHUP, `POST /v1/resync`, `RESYNC_INTERVAL`, a takeover) pushes the state
 *   again even when nothing changed.
 *
 * It answers the same questions as the per-request queue (`pending`, `delivered`,
 * `oldestPendingMs`, `unreachable`, counters), so status routes and metrics read both alike.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { DeliveryOutcome } from "../../asabru/sender.ts";
import type { ConfigTemplate } from "../../asabru/config_template.ts";
import { ConfigDocument } from "../../asabru/config_document.ts";
import type { Wanted } from "./decide.ts";
import { backoffMs } from "../../shared/backoff.ts";
import { nextPush, type PushDecision } from "./push_schedule.ts";
import { planWholeState, sameWanted, type WholeStatePlan } from "./whole_state_plan.ts";

const log = getLogger(["zkcm", "delivery"]);

/** Sends one whole configuration document to the proxy. */
export type PushConfiguration = (document: string) => Promise<DeliveryOutcome>;

/** Options of {@link WholeStatePusher}. */
export interface WholeStatePusherOptions {
  /** The proxy, for logs and metrics (its update URL). */
  proxy: string;
  /** The proxy's own configuration, validated. */
  template: ConfigTemplate;
  push: PushConfiguration;
  /** First back-off. Default 250 ms. */
  retryBaseMs?: number;
  /** Longest back-off. Default 30 s. */
  retryMaxMs?: number;
  /** Asked before every push; `false` holds everything (a monitor that is not the leader). */
  mayDeliver?: () => boolean;
  /** Told every push's outcome (for the decision journal). */
  onDecision?: (decision: {
    decision: "sent" | "retried" | "rejected" | "uncertain";
    key: string;
    op: "configuration";
    reason?: string;
  }) => void;
  /** Called for each service whose change the proxy now holds: its latency from the change. */
  onConverged?: (key: string, latencyMs: number) => void;
  /** Randomness for jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Monotonic milliseconds. Default `performance.now`. */
  now?: () => number;
}

/** What a pusher has done, for metrics (the per-request queue's shape, `sent` by operation). */
export interface PusherCounters {
  sent: { configuration: number };
  ok: number;
  rejected: number;
  notSent: number;
  uncertain: number;
  /** 401 or a refused login: nothing applied. */
  unauthorized: number;
  /** The proxy closed the connection without an answer: it read nothing. */
  notApplied: number;
  retried: number;
  resyncs: number;
  /** Pushes that re-filled a proxy answering again after refused or broken connections. */
  restartRecoveries: number;
  /** Always 0: a push of unknown outcome is simply pushed again (the queue's shape). */
  assumedApplied: number;
  /** 404 or 405: the URL is not the proxy's (nothing applied). */
  misconfigured: number;
}

/** The last push, for the status routes. */
export interface PushRecord {
  /** Wall-clock time the push began, ISO 8601. */
  at: string;
  /** How it ended: `ok`, `rejected`, `not-sent`, `uncertain`. */
  result: DeliveryOutcome["kind"];
  /** Round trip, ms. */
  ms: number;
  /** Services in the document (static and from ZooKeeper). */
  services: number;
  /** The document's size in characters. */
  bytes: number;
}

/** A pusher's state for `/v1/services`. */
export interface PusherStatus {
  mode: "whole state";
  /** Services whose proxy state differs from ZooKeeper's. */
  pending: number;
  /** The proxy is unreachable (backing off). */
  unreachable: boolean;
  lastPush?: PushRecord;
  /** The last failure's reason, until a push succeeds. */
  lastError?: string;
  /** End points one of whose last pushed services stays because nothing else is left for them. */
  kept: string[];
}

/** Whole-state delivery to one proxy. See the module doc. */
export class WholeStatePusher {
  /** How it delivers (tells it from a {@link ProxyQueue} without importing either class). */
  readonly delivery = "whole state";
  readonly proxy: string;
  readonly counters: PusherCounters = {
    sent: { configuration: 0 },
    ok: 0,
    rejected: 0,
    notSent: 0,
    uncertain: 0,
    unauthorized: 0,
    notApplied: 0,
    retried: 0,
    resyncs: 0,
    restartRecoveries: 0,
    assumedApplied: 0,
    misconfigured: 0,
  };
  /** A 404 or 405 from the proxy (the URL is not its control API), until a push succeeds. */
  misconfiguration: string | undefined;
  readonly #template: ConfigTemplate;
  /** The document of the pushes, edited where the lists change (see ConfigDocument). */
  readonly #document: ConfigDocument;
  readonly #push: PushConfiguration;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #mayDeliver: () => boolean;
  readonly #onDecision?: WholeStatePusherOptions["onDecision"];
  readonly #onConverged?: (key: string, latencyMs: number) => void;
  readonly #random: () => number;
  readonly #now: () => number;

  /** What ZooKeeper holds that may be sent, by service key. */
  readonly #wanted = new Map<string, Wanted>();
  /** What the proxy acknowledged holding: the ZooKeeper services of the last successful push. */
  #acknowledged = new Map<string, Wanted>();
  /** What the last push carried (successful or not): the kept lists come from it. */
  #lastCarried = new Map<string, Wanted>();
  /** Services held on purpose (an end point's last service, kept): not pending. */
  #held = new Set<string>();
  /** Services that differ from what the proxy acknowledged, with when they first did. */
  readonly #changedAt = new Map<string, number>();
  /** End points warned about (kept or left as the template has them), so each is warned once. */
  readonly #warned = new Map<string, string>();

  #dirty = false;
  #startupOver = false;
  #inFlight?: Promise<void>;
  #failures = 0;
  #lastFailure?: string;
  /** During the failures, a connection was refused or broken: the proxy may have restarted. */
  #mayHaveRestarted = false;
  /** The last push got a 401 (or the login was refused). */
  #unauthorized = false;
  #retryAt = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;
  #lastPush?: PushRecord;
  #lastPushEndedAt = 0;
  #lastPushCostMs = 0;
  #idle = new Set<() => void>();

  constructor(options: WholeStatePusherOptions) {
    this.proxy = options.proxy;
    this.#template = options.template;
    this.#document = new ConfigDocument(options.template);
    this.#push = options.push;
    this.#retryBaseMs = options.retryBaseMs ?? 250;
    this.#retryMaxMs = options.retryMaxMs ?? 30_000;
    this.#mayDeliver = options.mayDeliver ?? (() => true);
    this.#onDecision = options.onDecision;
    this.#onConverged = options.onConverged;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Sets what the proxy should hold for `key` (`undefined`: nothing). The caller passes only
   * services that may be sent (valid, their end point in the template).
   */
  setWanted(key: string, wanted: Wanted | undefined): void {
    if (sameWanted(this.#wanted.get(key), wanted)) return;
    if (wanted) this.#wanted.set(key, wanted);
    else this.#wanted.delete(key);
    if (sameWanted(wanted, this.#acknowledged.get(key))) this.#changedAt.delete(key);
    else if (!this.#changedAt.has(key)) this.#changedAt.set(key, this.#now());
    this.#dirty = true;
    this.#schedule();
  }

  /** Pushes the whole state again, even if nothing changed (the proxy may have restarted). */
  resync(reason = "resync"): void {
    this.counters.resyncs++;
    log.info("full resync of {proxy} ({reason}): pushing its whole configuration again", {
      proxy: this.proxy,
      reason,
    });
    this.#dirty = true;
    this.#retryAt = 0; // a resync is asked for now, not after the back-off
    this.#schedule();
  }

  /** The first full read of ZooKeeper is done: pushing may begin. */
  startupListed(): void {
    this.#startupOver = true;
    this.#dirty = true; // the proxy may hold an earlier monitor's state: push ours
    this.#schedule();
  }

  /** Looks again whether a push is due (after leadership was gained, for example). */
  kick(): void {
    this.#schedule();
  }

  /** Services whose proxy state differs from ZooKeeper's (held ones excepted). */
  pending(): number {
    return this.#changedAt.size;
  }

  /** How long the oldest undelivered change has waited (0 when none). */
  oldestPendingMs(): number {
    let oldest = Infinity;
    for (const at of this.#changedAt.values()) oldest = Math.min(oldest, at);
    return oldest === Infinity ? 0 : this.#now() - oldest;
  }

  /** Whether the proxy acknowledged exactly what is wanted for `key`. */
  delivered(key: string): boolean {
    return !this.#changedAt.has(key);
  }

  /** Whether the proxy is unreachable right now (backing off after failures, credentials aside). */
  get unreachable(): boolean {
    return this.#failures > 0 && !this.#unauthorized;
  }

  /** The state the status routes show. */
  status(): PusherStatus {
    const kept = [...this.#warned].filter(([, why]) => why === "kept").map(([name]) => name);
    return {
      mode: "whole state",
      pending: this.pending(),
      unreachable: this.unreachable,
      lastPush: this.#lastPush,
      lastError: this.#lastFailure,
      kept,
    };
  }

  /** Resolves when nothing is pending nor in flight (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /** Stops pushing; waits at most `graceMs` for a push in flight. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#inFlight,
      new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
    ]);
    clearTimeout(timer);
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const decision = this.#decide();
    if (decision.kind === "none") return this.#notifyIdle();
    // "push": at the end of this turn, so the changes of one ZooKeeper answer go together.
    const delay = decision.kind === "wait" ? decision.ms : 0;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#decide().kind === "push") this.#startPush();
      else this.#schedule();
    }, delay);
  }

  #decide(): PushDecision {
    return nextPush({
      dirty: this.#dirty,
      inFlight: this.#inFlight !== undefined,
      allowed: !this.#stopped && this.#startupOver && this.#mayDeliver(),
      retryAt: this.#retryAt,
      now: this.#now(),
      lastPushEndedAt: this.#lastPushEndedAt,
      lastPushCostMs: this.#lastPushCostMs,
    });
  }

  #startPush(): void {
    const began = this.#now();
    this.#dirty = false;
    const plan = planWholeState(this.#template, this.#wanted, this.#lastCarried);
    this.#warnAboutEmptyEndPoints(plan);
    let document: string;
    try {
      document = this.#document.render(plan.lists);
    } catch (error) {
      // A bug (the caller passes only sendable services): never push it, never crash on it.
      log.error("not pushing to {proxy}: {error}", { proxy: this.proxy, error: String(error) });
      this.#inFlight = Promise.resolve().then(() =>
        this.#apply(plan, { kind: "not-sent", reason: String(error), ms: 0 }, false, 0)
      ).finally(() => {
        this.#inFlight = undefined;
        this.#schedule();
      });
      return;
    }
    this.#lastCarried = plan.carried;
    this.#lastPushCostMs = this.#now() - began;
    const retry = this.#failures > 0;
    this.counters.sent.configuration++;
    if (retry) this.counters.retried++;
    const started = Date.now();
    const pushedAt = this.#now();
    const services = [...plan.lists.values()].reduce((sum, list) => sum + list.length, 0);
    this.#inFlight = this.#push(document).then(
      (outcome) => outcome,
      (error): DeliveryOutcome => ({ kind: "uncertain", reason: String(error), ms: 0 }),
    ).then((outcome) => {
      this.#lastPush = {
        at: new Date(started).toISOString(),
        result: outcome.kind,
        ms: Math.round(outcome.ms * 10) / 10,
        services,
        bytes: document.length,
      };
      this.#apply(plan, outcome, retry, pushedAt);
    }).finally(() => {
      this.#lastPushEndedAt = this.#now();
      this.#inFlight = undefined;
      this.#schedule();
    });
  }

  #apply(
    plan: WholeStatePlan,
    outcome: DeliveryOutcome,
    retry: boolean,
    pushedAt: number,
  ): void {
    const properties = {
      proxy: this.proxy,
      services: this.#lastPush?.services,
      bytes: this.#lastPush?.bytes,
      ms: Math.round(outcome.ms),
    };
    if (outcome.kind === "ok") {
      this.counters.ok++;
      if (this.#mayHaveRestarted) {
        // The same restart recovery as the per-request queue's, for free: this push re-filled it.
        this.counters.restartRecoveries++;
        log.warn(
          "{proxy} answers again after refused or broken connections: it may have restarted and " +
            "forgotten every service added at run time; this push re-filled it (restart recovery)",
          { ...properties, failures: this.#failures },
        );
      } else if (this.#failures > 0) {
        log.info("{proxy} took the configuration again after {failures} failures", {
          ...properties,
          failures: this.#failures,
        });
      }
      this.#mayHaveRestarted = false;
      this.#unauthorized = false;
      this.misconfiguration = undefined;
      this.#failures = 0;
      this.#retryAt = 0;
      this.#lastFailure = undefined;
      this.#acknowledged = plan.carried;
      this.#held = new Set([...plan.kept.values()].flat());
      const changes = this.#settle(pushedAt);
      log.info("pushed the configuration to {proxy}: {services} services, {changes} changes", {
        ...properties,
        changes,
      });
      this.#onDecision?.({ decision: retry ? "retried" : "sent", key: "*", op: "configuration" });
      return;
    }
    const reason = "message" in outcome ? outcome.message : outcome.reason;
    const refused = outcome.kind === "rejected" || outcome.kind === "unauthorized" ||
      outcome.kind === "misconfigured";
    this.#unauthorized = outcome.kind === "unauthorized";
    switch (outcome.kind) {
      case "rejected":
        this.counters.rejected++;
        break;
      case "unauthorized":
        this.counters.unauthorized++;
        break;
      case "not-applied":
        this.counters.notApplied++;
        break;
      case "misconfigured":
        this.counters.misconfigured++;
        this.misconfiguration = outcome.reason;
        break;
      case "not-sent":
        this.counters.notSent++;
        // Our deadline passing before the push was written (a login that hung) is a slow proxy.
        if (!outcome.timedOut) this.#mayHaveRestarted = true;
        break;
      case "uncertain":
        this.counters.uncertain++;
        // A timeout or an answer we do not know says the proxy is slow or odd, not that it
        // restarted; a connection that broke may have been the proxy going down.
        if (outcome.connectionBroke) this.#mayHaveRestarted = true;
    }
    this.#onDecision?.({
      decision: refused ? "rejected" : "uncertain",
      key: "*",
      op: "configuration",
      reason,
    });
    this.#failures++;
    const delay = backoffMs(this.#failures, {
      baseMs: this.#retryBaseMs,
      maxMs: this.#retryMaxMs,
      random: this.#random,
    });
    this.#retryAt = this.#now() + delay;
    this.#dirty = true; // the next push carries the latest state
    const line = `push to {proxy} ${outcome.kind} ({reason}); pushing the latest state again ` +
      `in {retryInMs} ms`;
    const detail = { ...properties, reason, retryInMs: Math.round(delay) };
    if (this.#lastFailure !== reason) log.warn(line, detail);
    else log.debug(line, detail);
    this.#lastFailure = reason;
  }

  /**
   * After an acknowledged push: the changes it delivered leave the pending set, and what it
   * carried that is no longer wanted (it changed while the push was in flight) joins it.
   */
  #settle(pushedAt: number): number {
    const now = this.#now();
    let settled = 0;
    for (const [key, carried] of this.#acknowledged) {
      if (this.#held.has(key) || this.#changedAt.has(key)) continue;
      if (!sameWanted(this.#wanted.get(key), carried)) this.#changedAt.set(key, pushedAt);
    }
    for (const [key, since] of this.#changedAt) {
      const wanted = this.#wanted.get(key);
      const held = wanted === undefined && this.#held.has(key);
      if (!held && !sameWanted(wanted, this.#acknowledged.get(key))) continue;
      this.#changedAt.delete(key);
      this.#onConverged?.(key, now - since);
      settled++;
    }
    return settled;
  }

  #warnAboutEmptyEndPoints(plan: WholeStatePlan): void {
    const states = new Map<string, string>();
    for (const endPoint of plan.kept.keys()) states.set(endPoint, "kept");
    for (const endPoint of plan.leftOut) states.set(endPoint, "left out");
    for (const [endPoint, state] of states) {
      if (this.#warned.get(endPoint) === state) continue;
      this.#warned.set(endPoint, state);
      if (state === "kept") {
        log.warn(
          "end point {endPoint} has no service left (none in the template, none valid in " +
            "ZooKeeper): {services}, one of its last pushed services, stays at {proxy}, since an " +
            "empty list crashes the proxy",
          { proxy: this.proxy, endPoint, services: plan.kept.get(endPoint) },
        );
      } else {
        log.warn(
          "end point {endPoint} has no service (none in the template, none valid in ZooKeeper, " +
            "none pushed before): left out of the document pushed to {proxy}, since an empty list " +
            "crashes the proxy",
          { proxy: this.proxy, endPoint },
        );
      }
    }
    for (const endPoint of this.#warned.keys()) {
      if (!states.has(endPoint)) this.#warned.delete(endPoint);
    }
  }

  #isIdle(): boolean {
    return this.#inFlight === undefined && !this.#dirty && this.#changedAt.size === 0;
  }

  #notifyIdle(): void {
    if (this.#idle.size === 0 || !this.#isIdle()) return;
    for (const resolve of this.#idle) resolve();
    this.#idle.clear();
  }
}
