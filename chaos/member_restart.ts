/**
 * The heal's restart of a ZooKeeper member, tried again when a start misses its bound: on a
 * loaded machine a member's JVM can take longer than its 30 s to serve (measured here: ensembles
 * started from nothing missed the same bound at load averages of 27-45, while at 13-15 a member
 * served again 1-7 s after its restart), and a heal that gives up ends the run without a verdict
 * on the monitor.
 *
 * @module
 */
import type { LocalZooKeeper } from "../src/dev/local_zookeeper.ts";

/** Starts of a member the heal tries before giving up (each bounded by the member's own 30 s). */
export const HEAL_RESTART_ATTEMPTS = 3;

/**
 * Restarts `member`, up to `attempts` times; `onRetry` hears of each failed attempt but the last,
 * whose error is thrown.
 */
export async function restartMember(
  member: Pick<LocalZooKeeper, "restart">,
  onRetry: (attempt: number, error: unknown) => void,
  attempts = HEAL_RESTART_ATTEMPTS,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      return await member.restart();
    } catch (error) {
      if (attempt >= attempts) throw error;
      onRetry(attempt, error);
    }
  }
}
