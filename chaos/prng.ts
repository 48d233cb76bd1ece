/**
 * The chaos run's only source of randomness: mulberry32, a tiny seeded PRNG, so that a seed
 * replays the same sequence of decisions.
 *
 * @example
 * ```ts
 * const random = new Prng(42);
 * random.next(); // 0.6011037519201636, on every machine
 * ```
 *
 * @module
 */

/** mulberry32: 32 bits of state, uniform doubles in [0, 1). */
export class Prng {
  #state: number;

  /** @param seed any number; only its low 32 bits count */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** `count` numbers at once: every step draws the same count, whatever it decides. */
  draw(count: number): number[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** A fresh seed for a run without `--seed` (printed, so the run can be replayed). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Maps `r` in [0, 1) onto [min, max). */
export function between(r: number, min: number, max: number): number {
  return min + r * (max - min);
}

/** Maps `r` in [0, 1) onto an index of a list of `length` (> 0) elements. */
export function pickIndex(r: number, length: number): number {
  return Math.min(length - 1, Math.floor(r * length));
}

/** Maps `r` in [0, 1) onto one of `choices`, each as likely as its weight. */
export function pickWeighted<T>(r: number, choices: readonly { weight: number; value: T }[]): T {
  const total = choices.reduce((sum, choice) => sum + choice.weight, 0);
  let left = r * total;
  for (const choice of choices) {
    if (left < choice.weight) return choice.value;
    left -= choice.weight;
  }
  return choices[choices.length - 1].value;
}
