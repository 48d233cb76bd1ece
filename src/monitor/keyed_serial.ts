/**
 * One task at a time per key: a run asked for while one is going runs once more after it, with
 * every request in between folded into that one run (re-reading a level twice is as good as ten
 * times).
 *
 * @module
 */

interface Slot {
  current: Promise<void>;
  next?: { task: () => Promise<void>; done: PromiseWithResolvers<void> };
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
    const slot = this.#slots.get(key);
    if (slot) {
      slot.next ??= { task, done: Promise.withResolvers<void>() };
      slot.next.task = task;
      return slot.next.done.promise;
    }
    return this.#start(key, task);
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

  #start(key: string, task: () => Promise<void>): Promise<void> {
    const slot: Slot = { current: Promise.resolve() };
    this.#slots.set(key, slot);
    slot.current = (async () => {
      try {
        await task();
      } finally {
        const next = slot.next;
        this.#slots.delete(key);
        if (next) {
          this.#start(key, next.task).then(next.done.resolve, next.done.reject);
        } else if (this.#slots.size === 0 && this.#idle) {
          this.#idle.resolve();
          this.#idle = undefined;
        }
      }
    })();
    return slot.current;
  }
}
