import { Fifo } from "../shared/fifo.ts";

/**
 * At most `limit` tasks at once; the others wait their turn in order. The mirror uses it so a
 * resync of a large tree does not put every read (and its promise, packet and watch) in flight
 * at once: memory stays flat and deliveries start while the tree is still being read.
 */
export class Limiter {
  readonly #limit: number;
  #running = 0;
  readonly #waiting = new Fifo<() => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Runs `task` when a slot is free. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); // the slot passes straight to the next task
      else this.#running--;
    }
  }
}
