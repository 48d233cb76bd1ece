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
 * action that causes it: the change is listened for at once, so none is missed.
 *
 * The `ms` deadline runs from the moment the result is first awaited, not from this call: a test
 * listens before `await zk.restart()` and awaits after it, and the restart's JVM start (seconds
 * on a loaded machine, up to the harness's own 30 s bound) is not the client's time to
 * reconnect. A deadline that ran meanwhile also rejected with nobody awaiting it yet, which
 * failed the whole file as an uncaught error instead of the step.
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
  let awaited: Promise<SessionStateChange> | undefined;
  const deadline = () => awaited ??= withTimeout(seen, ms, what).finally(stop);
  return {
    then: (onFulfilled, onRejected) => deadline().then(onFulfilled, onRejected),
    catch: (onRejected) => deadline().catch(onRejected),
    finally: (onFinally) => deadline().finally(onFinally),
    [Symbol.toStringTag]: "Promise",
  };
}

/** A promise with its resolver, for callbacks a test waits on. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}
