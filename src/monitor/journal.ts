/**
 * The decision journal: the monitor's recent decisions (sent, retried, held, released,
 * rejected...) in a bounded ring buffer, for `GET /v1/events`; each is also one log line.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["zkcm", "journal"]);

/** One decision. */
export interface Decision {
  /** Wall-clock time, ISO 8601. */
  at: string;
  decision:
    | "sent"
    | "retried"
    | "rejected"
    | "uncertain"
    | "held"
    | "released"
    | "returned"
    | "invalid"
    | "leader"
    | "standby";
  /** `endPoint/service`, when about one service. */
  key?: string;
  /** The proxy, when about one. */
  proxy?: string;
  op?: "add" | "delete" | "configuration";
  reason?: string;
  /** The leadership epoch of the monitor that decided. */
  epoch?: number;
}

/** A decision as kept: its time as a number (formatted only when someone reads it). */
type Kept = Omit<Decision, "at"> & { atMs: number };

/** A ring buffer of the last `capacity` decisions. */
export class DecisionJournal {
  readonly #entries: Kept[] = [];
  readonly #capacity: number;
  #next = 0;
  #epoch: () => number | undefined;

  constructor(capacity = 1000, epoch: () => number | undefined = () => undefined) {
    this.#capacity = capacity;
    this.#epoch = epoch;
  }

  /** Where the current epoch comes from (set once the election exists). */
  set epochSource(source: () => number | undefined) {
    this.#epoch = source;
  }

  /** Records a decision and logs it. */
  record(decision: Omit<Decision, "at" | "epoch">): void {
    const entry: Kept = { atMs: Date.now(), epoch: this.#epoch(), ...decision };
    if (this.#entries.length < this.#capacity) this.#entries.push(entry);
    else this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#capacity;
    // Built only when debug lines are wanted: thousands of decisions a second at start-up.
    log.debug(`${entry.decision}{detail}`, () => ({
      ...toDecision(entry),
      detail: entry.key ? ` ${entry.op ?? ""} ${entry.key}`.replace("  ", " ") : "",
    }));
  }

  /** The most recent decisions, oldest first. */
  recent(limit = this.#capacity): Decision[] {
    const ordered = this.#entries.length < this.#capacity
      ? [...this.#entries]
      : [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)];
    return ordered.slice(-limit).map(toDecision);
  }
}

function toDecision({ atMs, ...rest }: Kept): Decision {
  return { at: new Date(atMs).toISOString(), ...rest };
}
