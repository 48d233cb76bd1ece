/**
 * The chaos run's record: every operation, fault, heal and consequence, with the time it happened
 * (seconds since the run began) and the services it touches, so a divergence can be traced back to
 * what led to it.
 *
 * @module
 */

/**
 * - `op`: an operation of the system's users (a client starts or stops, the driver writes a znode).
 * - `fault`: a fault injected (a member killed, a connection blackholed, the proxy misbehaving).
 * - `heal`: a fault ended.
 * - `skip`: a step whose kind had no target at that moment (nothing happened).
 * - `note`: what the harness observed (an operation failed, a process exited, a duplicate).
 */
export type HistoryCategory = "op" | "fault" | "heal" | "skip" | "note";

/** One entry of the history. */
export interface HistoryEntry {
  /** Milliseconds since the run began. */
  t: number;
  category: HistoryCategory;
  /** What happened, e.g. `client.kill9`, `zk.kill`, `proxy.fault`. */
  kind: string;
  /** The rest, in words: which target, which mode, for how long. */
  details: string;
  /** The services touched, as `endPoint/service`; empty for faults of the whole system. */
  keys: string[];
}

/** An append-only history with the clock of one run. */
export class History {
  readonly entries: HistoryEntry[] = [];
  readonly #started = performance.now();
  readonly #onRecord?: (entry: HistoryEntry) => void;

  /** @param onRecord called with every entry as it is recorded (live output) */
  constructor(onRecord?: (entry: HistoryEntry) => void) {
    this.#onRecord = onRecord;
  }

  /** `performance.now()` when the run began: turns other clocks' readings into history time. */
  get startedAt(): number {
    return this.#started;
  }

  /** Milliseconds since the run began. */
  elapsed(): number {
    return performance.now() - this.#started;
  }

  /** Appends an entry and returns it. */
  record(
    category: HistoryCategory,
    kind: string,
    details: string,
    keys: readonly string[] = [],
  ): HistoryEntry {
    const entry = { t: this.elapsed(), category, kind, details, keys: [...keys] };
    this.entries.push(entry);
    this.#onRecord?.(entry);
    return entry;
  }

  /** How many entries of `categories` each kind has, sorted by kind. */
  countsByKind(categories: readonly HistoryCategory[]): [string, number][] {
    const counts = new Map<string, number>();
    for (const entry of this.entries) {
      if (categories.includes(entry.category)) {
        counts.set(entry.kind, (counts.get(entry.kind) ?? 0) + 1);
      }
    }
    return [...counts].sort(([a], [b]) => a.localeCompare(b));
  }

  /** The last `limit` entries touching service `key`. */
  touching(key: string, limit: number): HistoryEntry[] {
    return this.entries.filter((entry) => entry.keys.includes(key)).slice(-limit);
  }

  /** The last `limit` entries of the whole system (no service named): faults, heals. */
  global(limit: number): HistoryEntry[] {
    return this.entries.filter((entry) => entry.keys.length === 0 && entry.category !== "skip")
      .slice(-limit);
  }
}

/** One line: `  12.345s fault  zk.kill          member 2 (127.0.0.1:4711) [ep0/c1-s0]`. */
export function formatEntry(entry: HistoryEntry): string {
  const keys = entry.keys.length > 0 ? ` [${entry.keys.join(", ")}]` : "";
  return `${(entry.t / 1000).toFixed(3).padStart(8)}s ${entry.category.padEnd(5)} ` +
    `${entry.kind.padEnd(24)} ${entry.details}${keys}`;
}
