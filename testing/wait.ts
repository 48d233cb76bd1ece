/**
 * Waiting in tests on conditions, never on the clock alone: every wait has a deadline that fails
 * the test with what it was waiting for, and every timer is cleared.
 */
import type { SessionStateChange, ZkSession } from "../src/zookeeper/mod.ts";

/** Rejects with `what` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every `intervalMs` until it holds; fails after `ms`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  intervalMs = 20,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Resolves with the next state change of `session` that matches `predicate`. Call before the
 * action that causes it.
 */
export function nextStateChange(
  session: ZkSession,
  predicate: (change: SessionStateChange) => boolean,
  ms: number,
  what: string,
): Promise<SessionStateChange> {
  let stop = () => {};
  const seen = new Promise<SessionStateChange>((resolve) => {
    stop = session.onStateChange((change) => {
      if (predicate(change)) resolve(change);
    });
  });
  return withTimeout(seen, ms, what).finally(stop);
}

/** A promise with its resolver, for callbacks a test waits on. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}
