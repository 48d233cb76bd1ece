/**
 * What one answer of the proxy means, as a pure function: given the operation that was sent and
 * what became of it ({@link DeliveryOutcome}), what the proxy now holds for that service, what
 * happens to the service next (settled, retried at once or with back-off, or left to the paused
 * queue's probe), and what the answer says about the proxy as a whole (reachable, unreachable,
 * refusing our credentials, misconfigured). The delivery queue (`proxy_queue.ts`) applies the
 * decision: its counters, timers, pauses and log lines.
 *
 * @module
 */
import type { ServiceRef } from "../../asabru/wire.ts";
import type { DeliveryOutcome } from "../../asabru/sender.ts";
import type { Wanted } from "./decide.ts";

/** One operation sent to the proxy, and what the queue knew about its service meanwhile. */
export interface SentOperation {
  op: "add" | "delete";
  ref: ServiceRef;
  /** What an acknowledged add means the proxy holds (the wanted state when it was sent). */
  wantedAtSend: Wanted | undefined;
  /** A resync began while it was in flight: its answer must not undo the resync. */
  resyncedInFlight: boolean;
  /** Failures in a row of this service alone, before this answer. */
  failures: number;
}

/** What the queue needs to know of the proxy to judge an answer. */
export interface ProxyFacts {
  /** Whether the proxy's `delete` removes anything (not on the deployed proxy). */
  deletesRemove: boolean;
}

/** What the proxy holds for the service after the answer, as far as the queue can know. */
export interface Holding {
  /** Exactly one copy of this (absent: nothing, unless `uncertain`). */
  acknowledged?: Wanted;
  /** Any number of copies of this ref may be there: a delete comes first. */
  uncertain?: ServiceRef;
}

/** What happens to the service next. */
export type ServiceNext =
  /** It went through: its failures and logged refusal are forgotten. */
  | "delivered"
  /** Its outcome is unknown, but it counts as applied (a proxy whose delete removes nothing). */
  | "taken-as-applied"
  /** Nothing to retry, nothing forgotten (a delete of an end point the proxy does not know). */
  | "as-before"
  /** Retried when the paused queue probes the proxy again. */
  | "with-the-queue"
  /** Retried at once, one more failure counted. */
  | "at-once"
  /** Retried after its own back-off, one more failure counted. */
  | "after-back-off";

/** What the answer says about the proxy as a whole. */
export type ProxyVerdict =
  /** It answered: any pause ends. */
  | "reachable"
  /** No answer: the whole queue pauses with back-off, then probes with one request. */
  | "unreachable"
  /** It refuses our credentials: paused the same way, but nothing is uncertain. */
  | "unauthorized"
  /** The URL is not its update route (404, 405): paused the same way, logged as an error. */
  | "misconfigured";

/** The one line the queue logs about this answer (absent: none, or the proxy verdict's own). */
export type OutcomeLine =
  | "sent"
  | "sent-during-resync"
  | "nothing-to-delete"
  | "refused"
  | "not-applied"
  | "taken-as-applied"
  | "uncertain";

/** The queue's counters (`QueueCounters`) an answer adds one to. */
export type OutcomeCounter =
  | "ok"
  | "rejected"
  | "misconfigured"
  | "notSent"
  | "notApplied"
  | "unauthorized"
  | "uncertain";

/** What the queue does after one answer; see {@link afterOutcome}. */
export interface OutcomeDecision {
  counter: OutcomeCounter;
  /** An add of unknown outcome taken as applied. */
  assumedApplied: boolean;
  /** What the proxy holds now; absent: unchanged. */
  holding?: Holding;
  service: ServiceNext;
  /** Its next operation (an add after its delete) goes before the services waiting. */
  nextGoesFirst: boolean;
  proxy?: ProxyVerdict;
  /** A connection was refused or broke: the proxy may have restarted (and forgotten). */
  mayHaveRestarted: boolean;
  /** Why it failed, for the status page; absent: no failure. */
  failure?: string;
  /** What the decision journal records. */
  journal?: "sent" | "rejected" | "uncertain";
  line?: OutcomeLine;
}

/**
 * Decides what the queue does after the proxy's answer to `sent`.
 *
 * - `ok`: the proxy holds exactly what was sent, unless a resync began meanwhile (it may have
 *   forgotten everything, this included): then the resync's delete and add come next.
 * - `rejected`: retried on its own with back-off; a delete the proxy refuses because it does not
 *   know the end point is done (it holds none of the end point's services).
 * - `misconfigured`, `not-sent`, `unauthorized`: nothing was applied; the queue pauses.
 * - `not-applied` (closed unread): sent again at once the first time, then with back-off.
 * - `uncertain`: the proxy may hold any number of copies: delete before adding again; where its
 *   delete removes nothing, the add is taken as applied instead (a second slot could never go).
 *
 * A refused connection (`not-sent` not timed out) or a broken one (`uncertain` with
 * `connectionBroke`) may be a restart; a timeout or a clean close is not.
 */
export function afterOutcome(
  sent: SentOperation,
  outcome: DeliveryOutcome,
  proxy: ProxyFacts,
): OutcomeDecision {
  const { op, ref, wantedAtSend, resyncedInFlight } = sent;
  const unchanged = { assumedApplied: false, mayHaveRestarted: false, nextGoesFirst: false };
  switch (outcome.kind) {
    case "ok":
      if (resyncedInFlight) {
        return {
          ...unchanged,
          counter: "ok",
          holding: { uncertain: ref },
          service: "delivered",
          proxy: "reachable",
          line: "sent-during-resync",
        };
      }
      return {
        ...unchanged,
        counter: "ok",
        holding: { acknowledged: op === "add" ? wantedAtSend : undefined },
        service: "delivered",
        nextGoesFirst: true,
        proxy: "reachable",
        journal: "sent",
        line: "sent",
      };
    case "rejected":
      if (op === "delete" && /not found/i.test(outcome.message) && !resyncedInFlight) {
        // The proxy does not know the end point, so it holds none of its services.
        return {
          ...unchanged,
          counter: "rejected",
          holding: {},
          service: "as-before",
          proxy: "reachable",
          line: "nothing-to-delete",
        };
      }
      return {
        ...unchanged,
        counter: "rejected",
        service: "after-back-off",
        proxy: "reachable",
        failure: outcome.message,
        journal: "rejected",
        line: "refused",
      };
    case "misconfigured":
      return {
        ...unchanged,
        counter: "misconfigured",
        service: "with-the-queue",
        proxy: "misconfigured",
        failure: outcome.reason,
      };
    case "not-sent":
      return {
        ...unchanged,
        counter: "notSent",
        service: "with-the-queue",
        proxy: "unreachable",
        // Refused (or no connection at all): the proxy may be restarting. Our own deadline
        // passing while every connection was busy is a slow proxy, as a timeout is.
        mayHaveRestarted: !outcome.timedOut,
        failure: outcome.reason,
      };
    case "not-applied":
      // A request the proxy did not read in time (a busy client): at once the first time, with
      // back-off if it keeps happening.
      return {
        ...unchanged,
        counter: "notApplied",
        service: sent.failures === 0 ? "at-once" : "after-back-off",
        line: "not-applied",
      };
    case "unauthorized":
      return {
        ...unchanged,
        counter: "unauthorized",
        service: "with-the-queue",
        proxy: "unauthorized",
        failure: outcome.message,
      };
    case "uncertain": {
      const lost = {
        nextGoesFirst: false,
        counter: "uncertain",
        proxy: "unreachable",
        // A reset may be a restart; a timeout (slow) or a clean close without an answer (the
        // deployed proxy read nothing in its 10 ms) is not: recovering then would, on a proxy
        // whose delete removes nothing, add a second slot of every service.
        mayHaveRestarted: outcome.connectionBroke === true,
        failure: outcome.reason,
        journal: "uncertain",
      } as const;
      if (!proxy.deletesRemove) {
        // Nothing can remove a second copy: take it as applied (see proxy_queue.ts's module doc).
        return {
          ...lost,
          assumedApplied: op === "add",
          holding: { acknowledged: op === "add" ? wantedAtSend : undefined },
          service: "taken-as-applied",
          line: "taken-as-applied",
        };
      }
      // Applied or not, we cannot know: the proxy may now hold an extra copy.
      return {
        ...lost,
        assumedApplied: false,
        holding: { uncertain: ref },
        service: "with-the-queue",
        line: "uncertain",
      };
    }
  }
}
