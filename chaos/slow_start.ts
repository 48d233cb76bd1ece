/**
 * Starting ZooKeeper again when a start misses its bound: on a loaded machine a JVM can take
 * longer than its 30 s to serve (measured here: fresh ensembles and the heal's restart after a
 * quorum loss missed that bound at load averages of 27-45, while at 13-15 a quorum served again
 * 2-7 s after its restart). The chaos run's verdict is about the monitor, not about how fast the
 * machine starts Java: a world that cannot start, or a heal that gives up, ends the run without
 * one.
 *
 * @module
 */

/** Starts tried before giving up (each bounded by the server's own 30 s). */
export const SLOW_START_ATTEMPTS = 3;

/**
 * Runs `start`, again after a failure, up to `attempts` times; `onRetry` hears of each failed
 * attempt but the last, whose error is thrown.
 *
 * @example
 * ```ts
 * await startPatiently(() => member.restart(), (attempt, error) => note(attempt, error));
 * ```
 */
export async function startPatiently<T>(
  start: () => Promise<T>,
  onRetry: (attempt: number, error: unknown) => void,
  attempts = SLOW_START_ATTEMPTS,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts) throw error;
      onRetry(attempt, error);
    }
  }
}
