/**
 * When to say that something the program depends on (ZooKeeper, a proxy) cannot be reached: the
 * first failure of an outage at once, then a reminder at most every 30 s with the number of
 * attempts and the last reason, never a line per attempt; and how long it lasted when it ends.
 *
 * A dependency that flaps (a session established, then dropped, again and again) stays within
 * the same bound: a recovery does not reset the limit on warnings, so the next outage's first
 * line waits for the interval since the last warning and says how many recoveries went unsaid;
 * and a recovery that follows the previous one within the interval, from an outage that said
 * nothing, is itself not said (`quiet`). At most a warning and a recovery per interval.
 *
 * Decisions only, over plain data and an injected clock: the caller writes the lines.
 *
 * @example
 * ```ts
 * const outage = new OutageReport<{ reason: string }>();
 * const say = outage.failed({ reason: "connect ECONNREFUSED 127.0.0.1:2181" });
 * if (say) log.warn(say.first ? "cannot connect: {reason}" : "still cannot connect: {reason}", {
 *   reason: say.last.reason,
 *   attempts: say.attempts,
 * });
 * const ended = outage.recovered(); // { downForMs, attempts, last, quiet } or undefined
 * ```
 *
 * @module
 */

/** The reminder interval of both programs. */
export const OUTAGE_REMINDER_MS = 30_000;

/** Options of {@link OutageReport}. */
export interface OutageReportOptions {
  /** The least time between two lines of one outage. Default {@link OUTAGE_REMINDER_MS}. */
  reminderEveryMs?: number;
  /** Monotonic clock in milliseconds. Default `performance.now`. */
  now?: () => number;
}

/** An outage as it stands: since when, how many failed attempts, the last one. */
export interface Outage<F> {
  /** When it began, on the report's clock. */
  since: number;
  /** Failed attempts since it began. */
  attempts: number;
  /** The last failure, if any attempt failed yet. */
  last?: F;
}

/** What to say about a failure: the outage as it stands, and whether this is its first line. */
export interface OutageNotice<F> {
  /** `true` for the first line of the outage, `false` for a reminder. */
  first: boolean;
  /** Failed attempts so far, this one included. */
  attempts: number;
  /** How long the outage has lasted. */
  downForMs: number;
  /** This failure. */
  last: F;
  /** Recoveries not said (see {@link OutageEnd.quiet}) since the last warning: the flaps. */
  flaps: number;
}

/** How an outage ended. */
export interface OutageEnd<F> {
  /** From its beginning to the recovery. */
  downForMs: number;
  /** Failed attempts during it (0 when it ended before any attempt failed). */
  attempts: number;
  /** The last failure, if any. */
  last?: F;
  /**
   * `true` when the recovery is not worth a line: the outage said nothing (its warnings held back
   * by the limit) and the previous recovery was less than the interval before. It is counted in
   * the next warning's {@link OutageNotice.flaps}.
   */
  quiet: boolean;
}

/** The rate-limited account of one dependency's outages. See the module doc. */
export class OutageReport<F> {
  readonly #reminderEveryMs: number;
  readonly #now: () => number;
  #outage?: Outage<F>;
  /** When the last warning was said, of any outage (`undefined`: none yet). */
  #saidAt?: number;
  /** Whether the current outage said a warning. */
  #outageSaid = false;
  /** When the last recovery was (`undefined`: none yet). */
  #recoveredAt?: number;
  /** Quiet recoveries since the last warning. */
  #unsaidRecoveries = 0;

  constructor(options: OutageReportOptions = {}) {
    this.#reminderEveryMs = options.reminderEveryMs ?? OUTAGE_REMINDER_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The current outage, or `undefined` while the dependency is available. */
  get outage(): Readonly<Outage<F>> | undefined {
    return this.#outage;
  }

  /**
   * The dependency is unavailable from now on (start-up, a lost connection), before any attempt
   * failed: the time a recovery is measured from. No-op during an outage.
   */
  lost(): void {
    this.#outage ??= { since: this.#now(), attempts: 0 };
  }

  /**
   * Counts a failed attempt (starting an outage if none is under way); returns what to say, or
   * `undefined` when the last line of this outage is younger than the reminder interval.
   */
  failed(failure: F): OutageNotice<F> | undefined {
    this.lost();
    const outage = this.#outage!;
    outage.attempts++;
    outage.last = failure;
    const now = this.#now();
    if (this.#saidAt !== undefined && now - this.#saidAt < this.#reminderEveryMs) return undefined;
    const first = !this.#outageSaid;
    const flaps = this.#unsaidRecoveries;
    this.#saidAt = now;
    this.#outageSaid = true;
    this.#unsaidRecoveries = 0;
    return {
      first,
      attempts: outage.attempts,
      downForMs: now - outage.since,
      last: failure,
      flaps,
    };
  }

  /** The dependency is available again: how the outage ended, or `undefined` if there was none. */
  recovered(): OutageEnd<F> | undefined {
    const outage = this.#outage;
    if (!outage) return undefined;
    const now = this.#now();
    const quiet = !this.#outageSaid && this.#recoveredAt !== undefined &&
      now - this.#recoveredAt < this.#reminderEveryMs;
    if (quiet) this.#unsaidRecoveries++;
    this.#outage = undefined;
    this.#outageSaid = false;
    this.#recoveredAt = now;
    return { downForMs: now - outage.since, attempts: outage.attempts, last: outage.last, quiet };
  }
}
