/**
 * The project's one back-off rule (the delivery queue and pusher, the client's registrar, the
 * leader election, the tree mirror's re-reads): capped exponential with equal jitter (half fixed,
 * half random), so retries of many monitors, clients or services spread out but never come sooner
 * than half the step.
 *
 * @example
 * ```ts
 * backoffMs(1, { baseMs: 250, maxMs: 30_000 }); // 125–250
 * backoffMs(20, { baseMs: 250, maxMs: 30_000 }); // 15,000–30,000
 * ```
 *
 * @module
 */

/** The bounds of {@link backoffMs}. */
export interface BackoffBounds {
  /** The first step (before jitter). */
  baseMs: number;
  /** The longest step (before jitter). */
  maxMs: number;
  /** Randomness in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** How long to wait after `failures` failures in a row (1 for the first). */
export function backoffMs(failures: number, bounds: BackoffBounds): number {
  const random = bounds.random ?? Math.random;
  const capped = Math.min(bounds.maxMs, bounds.baseMs * 2 ** Math.min(failures - 1, 20));
  return capped / 2 + random() * capped / 2;
}
