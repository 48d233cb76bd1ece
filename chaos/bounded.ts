/**
 * Bounds on the chaos run's waits after the schedule (the heal, the checks, the teardown), so a
 * step that never ends becomes a named failure in the verdict instead of a run that never gives
 * one (seed 104 once waited forever for the stand-in's `setMode("ok")`).
 *
 * @example
 * ```ts
 * await bounded(standIn.setMode("ok"), 10_000, "the heal: the stand-in's setMode(ok)");
 * // ChaosHangError: the heal: the stand-in's setMode(ok) did not end within 10000 ms
 * ```
 *
 * @module
 */

/** A step of the run that did not end within its bound. */
export class ChaosHangError extends Error {
  /** What was awaited, in words. */
  readonly step: string;
  /** How long it was given. */
  readonly boundMs: number;

  constructor(step: string, boundMs: number) {
    super(`${step} did not end within ${boundMs} ms`);
    this.name = "ChaosHangError";
    this.step = step;
    this.boundMs = boundMs;
  }
}

/**
 * `promise`, or a {@link ChaosHangError} naming `step` once `boundMs` have passed. The promise
 * itself goes on (nothing can cancel it); its later failure is ignored. The timer never outlives
 * the wait.
 */
export async function bounded<T>(promise: Promise<T>, boundMs: number, step: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChaosHangError(step, boundMs)), boundMs);
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}
