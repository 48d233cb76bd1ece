/**
 * Replies and watch events handed to callers in the order the server sent them. Settling a
 * reply's promise runs its reader later, in a microtask; an event that arrives after a reply in
 * the same read therefore waits for a macrotask, so the reader of the reply runs before the
 * watcher of the event (the Java client gets the same from its single event thread).
 *
 * @module
 */

/** What is being delivered: a reply (settles a promise) or an event (calls watchers). */
export type DeliveryKind = "reply" | "event";

/** One connection's queue of deliveries. */
export class OrderedDelivery {
  #waiting: (() => void)[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  /** Whether a reply was delivered since the last read from the socket. */
  #replyInThisRead = false;

  /** Marks the start of a new read from the socket: replies before it have been read by now. */
  newRead(): void {
    this.#replyInThisRead = false;
  }

  /** Runs `delivery` now, or after those waiting when order requires it. */
  deliver(delivery: () => void, kind: DeliveryKind = "reply"): void {
    if (this.#timer !== undefined || (kind === "event" && this.#replyInThisRead)) {
      this.#waiting.push(delivery);
      this.#timer ??= setTimeout(() => this.drain(), 0);
      return;
    }
    if (kind === "reply") this.#replyInThisRead = true;
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
}
