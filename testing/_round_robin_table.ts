/**
 * The stand-in proxy's round-robin table (end point → ordered service slots) and its history:
 * every request the stand-in handled, in order, with what it changed. Tests check histories, not
 * only end states: a duplicate slot that a later request cleaned up is still a bug, so every slot
 * that ever shared its name with another of its end point is remembered
 * ({@link RoundRobinTable.everDuplicated}), and the table after any request can be rebuilt
 * ({@link RoundRobinTable.tableAfter}).
 *
 * Keeping a copy of the table after each request would cost quadratic memory at thousands of
 * services (a 10,000-service sync: 50 million slots); the history keeps each request's changes
 * instead and replays them on demand.
 *
 * @module
 */

/** One slot of an end point's balancer list. */
export interface StandInEntry {
  /** The service's name (`<service name>`). */
  service: string;
  /** The host as sent (`<host>`, entities decoded). */
  host: string;
  /** The port as sent (`<port>`). */
  port: number;
}

/** One change to the table. */
export type TableChange =
  | { kind: "append"; endPoint: string; entry: StandInEntry }
  | { kind: "remove-service"; endPoint: string; service: string }
  | { kind: "replace"; endPoint: string; entries: StandInEntry[] }
  | { kind: "reset" };

/** One request (or event: a crash, a restart) the stand-in handled, in order. */
export interface StandInHistoryRecord {
  /** Its place in {@link RoundRobinTable.history}. */
  index: number;
  /** `performance.now()` when it was handled. */
  at: number;
  /** What it was: a request's path (`/updateService`, `/auth/login`, ...), or `crash`/`restart`. */
  kind: string;
  /** One line: what it asked, e.g. `add e1/s1 h:1`, or why the proxy crashed. */
  detail: string;
  /** The HTTP status answered (0: none, e.g. a crash). */
  status: number;
  /** The answer's body (empty: none). */
  answer: string;
  /** The table's changes it caused, in order (empty: nothing changed). */
  changes: TableChange[];
  /** `endPoint/service` of every name that held more than one slot right after it. Sorted. */
  duplicatesAfter: string[];
  /**
   * Deployed with users: the `sub` of the bearer token the request carried, read without
   * checking it (an expired token's too), so a request answered 401 still names who sent it.
   */
  tokenSubject?: string;
}

/**
 * End point → ordered slots, the static configuration it restarts with, and the history.
 *
 * @example
 * ```ts
 * const table = new RoundRobinTable(new Map([["e", [{ service: "s0", host: "h", port: 1 }]]]));
 * table.apply({ kind: "append", endPoint: "e", entry: { service: "s1", host: "h", port: 2 } });
 * table.record({ kind: "/updateService", detail: "add e/s1 h:2", status: 200, answer: "..." });
 * table.everDuplicated(); // []
 * ```
 */
export class RoundRobinTable {
  readonly #static: ReadonlyMap<string, readonly StandInEntry[]>;
  readonly #lists = new Map<string, StandInEntry[]>();
  /** Per end point: slots per service name, so a duplicate is seen without scanning a list. */
  readonly #counts = new Map<string, Map<string, number>>();
  readonly #history: StandInHistoryRecord[] = [];
  #pendingChanges: TableChange[] = [];
  #pendingEndPoints = new Set<string>();
  readonly #everDuplicated = new Set<string>();

  /** Starts with `staticConfiguration` (copied), which {@link reset} restores. */
  constructor(staticConfiguration: ReadonlyMap<string, readonly StandInEntry[]> = new Map()) {
    this.#static = new Map(
      [...staticConfiguration].map(([endPoint, entries]) => [endPoint, entries.map(copy)]),
    );
    this.#restoreStatic();
  }

  /** Applies `change` now; the next {@link record} files it under its request. */
  apply(change: TableChange): void {
    this.#pendingChanges.push(copyChange(change));
    switch (change.kind) {
      case "append": {
        const list = this.#lists.get(change.endPoint);
        if (list) list.push(copy(change.entry));
        else this.#lists.set(change.endPoint, [copy(change.entry)]);
        const counts = this.#countsOf(change.endPoint);
        counts.set(change.entry.service, (counts.get(change.entry.service) ?? 0) + 1);
        this.#pendingEndPoints.add(change.endPoint);
        return;
      }
      case "remove-service": {
        const list = this.#lists.get(change.endPoint);
        if (!list) return;
        this.#lists.set(change.endPoint, list.filter((entry) => entry.service !== change.service));
        this.#countsOf(change.endPoint).delete(change.service);
        return;
      }
      case "replace":
        this.#lists.set(change.endPoint, change.entries.map(copy));
        this.#recount(change.endPoint);
        this.#pendingEndPoints.add(change.endPoint);
        return;
      case "reset":
        this.#restoreStatic();
        return;
    }
  }

  /**
   * Files a request with the changes applied since the last one, and notes every duplicate slot
   * it left. Returns the record (the stored one: callers may not change it).
   */
  record(
    request: Omit<StandInHistoryRecord, "index" | "changes" | "duplicatesAfter" | "at"> & {
      at?: number;
    },
  ): StandInHistoryRecord {
    const duplicatesAfter: string[] = [];
    for (const endPoint of this.#pendingEndPoints) {
      for (const [service, count] of this.#counts.get(endPoint) ?? []) {
        if (count > 1) duplicatesAfter.push(`${endPoint}/${service}`);
      }
    }
    duplicatesAfter.sort();
    for (const key of duplicatesAfter) this.#everDuplicated.add(key);
    const record: StandInHistoryRecord = {
      index: this.#history.length,
      at: request.at ?? performance.now(),
      kind: request.kind,
      detail: request.detail,
      status: request.status,
      answer: request.answer,
      changes: this.#pendingChanges,
      duplicatesAfter,
      ...(request.tokenSubject === undefined ? {} : { tokenSubject: request.tokenSubject }),
    };
    this.#pendingChanges = [];
    this.#pendingEndPoints = new Set();
    this.#history.push(record);
    return record;
  }

  /** The slots of `endPoint`, in order (a copy; empty for an unknown one). */
  list(endPoint: string): StandInEntry[] {
    return (this.#lists.get(endPoint) ?? []).map(copy);
  }

  /** Whether `endPoint` has a list (possibly empty: pushed empty by `/configuration`). */
  has(endPoint: string): boolean {
    return this.#lists.has(endPoint);
  }

  /** Every end point that holds at least one slot, with its list (a deep copy). */
  snapshot(): Map<string, StandInEntry[]> {
    const table = new Map<string, StandInEntry[]>();
    for (const [endPoint, entries] of this.#lists) {
      if (entries.length > 0) table.set(endPoint, entries.map(copy));
    }
    return table;
  }

  /** `endPoint/service` for every name holding more than one slot of its end point now. Sorted. */
  duplicates(): string[] {
    const found: string[] = [];
    for (const [endPoint, counts] of this.#counts) {
      for (const [service, count] of counts) if (count > 1) found.push(`${endPoint}/${service}`);
    }
    return found.sort();
  }

  /** `endPoint/service` for every name that held more than one slot after any request. Sorted. */
  everDuplicated(): string[] {
    return [...this.#everDuplicated].sort();
  }

  /** Every request and event, in order (the stored records: do not change them). */
  get history(): readonly StandInHistoryRecord[] {
    return this.#history;
  }

  /** The table (as {@link snapshot} shows it) right after history record `index`. */
  tableAfter(index: number): Map<string, StandInEntry[]> {
    if (!(index >= 0 && index < this.#history.length)) {
      throw new RangeError(`no history record ${index} (${this.#history.length} recorded)`);
    }
    const replay = new RoundRobinTable(this.#static);
    for (const record of this.#history.slice(0, index + 1)) {
      for (const change of record.changes) replay.apply(change);
    }
    return replay.snapshot();
  }

  #restoreStatic(): void {
    this.#lists.clear();
    this.#counts.clear();
    for (const [endPoint, entries] of this.#static) {
      this.#lists.set(endPoint, entries.map(copy));
      this.#recount(endPoint);
    }
  }

  #recount(endPoint: string): void {
    const counts = new Map<string, number>();
    for (const { service } of this.#lists.get(endPoint) ?? []) {
      counts.set(service, (counts.get(service) ?? 0) + 1);
    }
    this.#counts.set(endPoint, counts);
  }

  #countsOf(endPoint: string): Map<string, number> {
    let counts = this.#counts.get(endPoint);
    if (!counts) this.#counts.set(endPoint, counts = new Map());
    return counts;
  }
}

function copyChange(change: TableChange): TableChange {
  switch (change.kind) {
    case "append":
      return { ...change, entry: copy(change.entry) };
    case "replace":
      return { ...change, entries: change.entries.map(copy) };
    default:
      return { ...change };
  }
}

function copy(entry: StandInEntry): StandInEntry {
  return { service: entry.service, host: entry.host, port: entry.port };
}
