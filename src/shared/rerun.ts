/**
 * "Run again if asked while running": a task that runs one at a time, where every ask that
 * arrives during a run folds into one more run after it (reading a level twice is as good as ten
 * times; one more election pass sees every change that woke it). The task itself may ask, to look
 * again once it is done. The tree mirror's per-key reads ({@link KeyedSerial}), each registration
 * of the client's registrar and the leader election's passes all run this way.
 *
 * @example
 * ```ts
 * const passes = new Rerun({ run: () => election.pass() });
 * void passes.ask(); // starts a run
 * void passes.ask(); // one more after it
 * void passes.ask(); // folded into that same one
 * await passes.settled();
 * ```
 *
 * @module
 */

/** Options of {@link Rerun}. */
export interface RerunOptions {
  /** One run. */
  run: () => Promise<void>;
  /** When it says `true`, no further run starts (asks already made resolve). */
  stopped?: () => boolean;
  /** After the last run of a series: nothing runs and nothing was asked for. */
  onIdle?: () => void;
}

/** A task run one at a time, asks during a run folded into one more run; see the module. */
export class Rerun {
  readonly #options: RerunOptions;
  #current?: Promise<void>;
  #next?: PromiseWithResolvers<void>;
  #idle?: PromiseWithResolvers<void>;

  constructor(options: RerunOptions) {
    this.#options = options;
  }

  /** Whether a run is going. */
  get running(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Starts a run now, or asks for one more after the current one. Resolves (or rejects) with the
   * run that covers this ask; a run that fails does not stop the one asked for after it.
   */
  ask(): Promise<void> {
    if (this.#current === undefined) return this.#start();
    this.#next ??= Promise.withResolvers<void>();
    return this.#next.promise;
  }

  /** Resolves when nothing runs and nothing was asked for. */
  settled(): Promise<void> {
    if (this.#current === undefined) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  #start(): Promise<void> {
    let ended = false;
    const run = (async () => {
      try {
        await this.#options.run();
      } finally {
        ended = true;
        this.#current = undefined;
        const next = this.#next;
        this.#next = undefined;
        if (next !== undefined && !this.#options.stopped?.()) {
          this.#start().then(next.resolve, next.reject);
        } else {
          next?.resolve();
          this.#options.onIdle?.();
          this.#idle?.resolve();
          this.#idle = undefined;
        }
      }
    })();
    // A run that threw before its first await has ended already (and may have started the next).
    if (!ended) this.#current = run;
    return run;
  }
}
