/**
 * Replies and watch events handed to callers in the order the server sent them. Settling a
 * reply's promise runs its reader later, in a microtask; an event that arrives after a reply
 * therefore waits for a macrotask, so the reader of the reply runs before the watcher of the
 * event (the Java client gets the same from its single event thread). "After a reply" means until
 * a macrotask has passed, not until the next read from the socket: a read whose bytes are already
 * there resolves within two microtasks, before a reader a few awaits deep has run.
 *
 * @module
 */

/** What is being delivered: a reply (settles a promise) or an event (calls watchers). */
export type DeliveryKind = "reply" | "event";

/** One connection's queue of deliveries. */
export class OrderedDelivery {
  #waiting: (() => void)[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  /** Set while a delivered reply's readers may not have run yet: until a macrotask has passed. */
  #replySettling?: ReturnType<typeof setTimeout>;

  /** Runs `delivery` now, or after those waiting when order requires it. */
  deliver(delivery: () => void, kind: DeliveryKind = "reply"): void {
    if (this.#timer !== undefined || (kind === "event" && this.#replySettling !== undefined)) {
      this.#waiting.push(delivery);
      this.#timer ??= setTimeout(() => this.drain(), 0);
      return;
    }
    if (kind === "reply") {
      this.#replySettling ??= setTimeout(() => this.#replySettling = undefined, 0);
    }
    delivery();
  }

  /** Runs every waiting delivery now (also on close, so no promise is left hanging). */
  drain(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const delivery of waiting) delivery();
  }

  /** Clears the timers (the connection is gone) after delivering what waits. */
  dispose(): void {
    this.drain();
    clearTimeout(this.#replySettling);
    this.#replySettling = undefined;
  }
}
