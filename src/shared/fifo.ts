/**
 * First-in-first-out containers whose removal from the front costs O(1), for queues that hold
 * tens of thousands of entries: `Array.prototype.shift` moves every other element, and iterating a
 * `Set` from its start walks over every entry deleted since it was last compacted. Both made a
 * cold sync of 50,000 services quadratic (measured: 4.2 s and 2.6 s of CPU, issue 7).
 *
 * @module
 */

/** A queue of values. */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many values wait. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `value` at the back. */
  push(value: T): void {
    this.#items.push(value);
  }

  /** The value at the front, without removing it. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the value at the front. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Drop the consumed front once it is most of the array: amortised O(1) per value.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }
}

/**
 * A set of keys kept in the order they were added, whose first key is found and removed in O(1)
 * amortised time, also after keys were deleted from its middle.
 */
export class FifoSet<K> {
  /** Each key's current turn: an entry of the queue whose turn differs is stale. */
  readonly #turns = new Map<K, number>();
  readonly #queue = new Fifo<{ key: K; turn: number }>();
  #nextTurn = 0;

  /** How many keys it holds. */
  get size(): number {
    return this.#turns.size;
  }

  /** Whether it holds `key`. */
  has(key: K): boolean {
    return this.#turns.has(key);
  }

  /** Adds `key` at the back; a key already held keeps its place. */
  add(key: K): void {
    if (this.#turns.has(key)) return;
    const turn = this.#nextTurn++;
    this.#turns.set(key, turn);
    this.#queue.push({ key, turn });
  }

  /** Removes `key` wherever it is. */
  delete(key: K): boolean {
    const deleted = this.#turns.delete(key);
    // Keys deleted away from the front leave stale entries behind; keep them from piling up
    // (a key deleted and added again many times while nothing is taken from the front).
    if (deleted && this.#queue.size > 2 * this.#turns.size + 1024) this.#compact();
    return deleted;
  }

  #compact(): void {
    const live: { key: K; turn: number }[] = [];
    for (let entry = this.#queue.shift(); entry !== undefined; entry = this.#queue.shift()) {
      if (this.#turns.get(entry.key) === entry.turn) live.push(entry);
    }
    for (const entry of live) this.#queue.push(entry);
  }

  /** The first key, without removing it. */
  first(): K | undefined {
    for (;;) {
      const front = this.#queue.peek();
      if (front === undefined) return undefined;
      if (this.#turns.get(front.key) === front.turn) return front.key;
      this.#queue.shift(); // deleted (or deleted and added again further back)
    }
  }
}
