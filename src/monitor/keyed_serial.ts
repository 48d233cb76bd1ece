/**
 * One task at a time per key: a run asked for while one is going runs once more after it, with
 * every request in between folded into that one run (re-reading a level twice is as good as ten
 * times). A {@link Rerun} per key, and a way to tell when every key is idle.
 *
 * @module
 */
import { Rerun } from "../shared/rerun.ts";

interface Slot {
  runs: Rerun;
  /** The task of the next run: the latest asked for. */
  task: () => Promise<void>;
}

/** Serialises async tasks per key and tells when every key is idle. */
export class KeyedSerial {
  readonly #slots = new Map<string, Slot>();
  #idle?: PromiseWithResolvers<void>;

  /**
   * Runs `task` for `key` now, or after the running one (the latest `task` wins). Resolves or
   * rejects with the run that covers this request.
   */
  run(key: string, task: () => Promise<void>): Promise<void> {
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      const created: Slot = {
        task,
        runs: new Rerun({
          run: () => created.task(),
          onIdle: () => {
            this.#slots.delete(key);
            if (this.#slots.size === 0 && this.#idle) {
              this.#idle.resolve();
              this.#idle = undefined;
            }
          },
        }),
      };
      slot = created;
      this.#slots.set(key, slot);
    }
    slot.task = task;
    return slot.runs.ask();
  }

  /** Resolves when no task runs or waits, for any key. */
  settled(): Promise<void> {
    if (this.#slots.size === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /** Whether a task for `key` runs or waits. */
  pending(key: string): boolean {
    return this.#slots.has(key);
  }

  /** Keys with a task running. */
  get busy(): number {
    return this.#slots.size;
  }
}
