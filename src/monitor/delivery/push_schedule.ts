/**
 * When the whole-state pusher pushes, as a pure function: changes close together go out together,
 * a lone change goes out at once.
 *
 * - Nothing new to push, or not allowed to (not leading, the first full read of ZooKeeper not
 *   done, stopped): nothing.
 * - A push in flight: wait for it; the changes that arrive meanwhile are all in the next push
 *   (at most one push in flight per proxy).
 * - Backing off after a failure: wait until the back-off ends; the push then carries the latest
 *   state (a whole state is idempotent, so a retry never needs the failed push's content).
 * - The last push ended less than its own cost ago (the time it took to plan and render, which
 *   blocks the event loop): wait that long, so that pushes take at most half of the monitor's
 *   time and the mirror's reads keep pace during a burst (at 10,000 services a render costs over
 *   100 ms; back-to-back pushes starved the reads, measured: a 10,000-service burst took 20 s).
 *   An idle monitor's last push ended long ago: a lone change goes out at once.
 * - Otherwise: push now.
 *
 * @example
 * ```ts
 * const idle = { dirty: true, inFlight: false, allowed: true, retryAt: 0, lastPushEndedAt: 0, lastPushCostMs: 0 };
 * nextPush({ ...idle, now: 5 }); // { kind: "push" }
 * nextPush({ ...idle, retryAt: 105, now: 5 }); // { kind: "wait", ms: 100 }
 * ```
 *
 * @module
 */

/** What {@link nextPush} decides from. */
export interface PushScheduleState {
  /** The wanted state changed (or a resync asked for a push) since the last push began. */
  dirty: boolean;
  /** A push is in flight. */
  inFlight: boolean;
  /** Pushing is allowed now (leading, the first full read done, not stopped). */
  allowed: boolean;
  /** No push before this time (the back-off after a failure); 0 when none. */
  retryAt: number;
  /** The current time, same clock as `retryAt`. */
  now: number;
  /** When the last push's answer came (0: none yet). */
  lastPushEndedAt: number;
  /** What the last push cost the event loop (plan and render), ms. */
  lastPushCostMs: number;
}

/** {@link nextPush}'s answer. */
export type PushDecision =
  | { kind: "push" }
  | { kind: "wait"; ms: number }
  | { kind: "none"; why: "clean" | "in flight" | "not allowed" };

/** Decides; see the module doc. */
export function nextPush(state: PushScheduleState): PushDecision {
  if (!state.dirty) return { kind: "none", why: "clean" };
  if (!state.allowed) return { kind: "none", why: "not allowed" };
  if (state.inFlight) return { kind: "none", why: "in flight" };
  if (state.now < state.retryAt) return { kind: "wait", ms: state.retryAt - state.now };
  const spacedUntil = state.lastPushEndedAt + state.lastPushCostMs;
  if (state.now < spacedUntil) return { kind: "wait", ms: spacedUntil - state.now };
  return { kind: "push" };
}
