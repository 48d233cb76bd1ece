/**
 * The one summary line of a start-up or a resync: thousands of requests go out, so instead of a
 * line each (logged at debug), one info line says when the proxy is in step again, how many
 * requests it took and how long. A start-up is over once its services have all been listed and
 * settled; a resync started during a start-up carries it on (one summary for both). A service the
 * proxy refuses leaves the count: its refusals are warnings of their own.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

// The delivery's category: the summary is the queue's line.
const log = getLogger(["zkcm", "delivery"]);

/** A start-up or resync in progress: what its summary line will say, and when. */
interface BulkWork {
  reason: "start-up" | "resync";
  since: number;
  requests: number;
  /** Its services not settled yet. */
  outstanding: number;
  /** A start-up's services are still being listed ({@link BulkSummary.listed} ends it). */
  listing: boolean;
}

/** A service as the summary counts it: whether it belongs to the bulk work in progress. */
export interface BulkMember {
  bulk?: boolean;
}

/** The summary of one proxy's start-up or resync; see the module. */
export class BulkSummary {
  readonly #proxy: string;
  readonly #now: () => number;
  #work?: BulkWork;

  constructor(proxy: string, now: () => number) {
    this.#proxy = proxy;
    this.#now = now;
  }

  /** Whether a start-up or resync is in progress. */
  get active(): boolean {
    return this.#work !== undefined;
  }

  /** A start-up begins, unless one is in progress already. */
  startup(): void {
    this.#work ??= {
      reason: "start-up",
      since: this.#now(),
      requests: 0,
      outstanding: 0,
      listing: true,
    };
  }

  /** A resync begins; a start-up still in progress carries on inside it. */
  resync(): void {
    const open = this.#work;
    this.#work = {
      reason: "resync",
      since: this.#now(),
      requests: open?.requests ?? 0,
      outstanding: open?.outstanding ?? 0,
      listing: open?.listing ?? false,
    };
  }

  /** Every service present at start-up has been handed over. */
  listed(): void {
    if (!this.#work?.listing) return;
    this.#work.listing = false;
    this.summarizeIfDone();
  }

  /** `member` is part of the work in progress until it settles. */
  join(member: BulkMember): void {
    if (member.bulk || !this.#work) return;
    member.bulk = true;
    this.#work.outstanding++;
  }

  /** `member` settled (or was refused). */
  leave(member: BulkMember): void {
    if (!member.bulk) return;
    member.bulk = false;
    if (this.#work) this.#work.outstanding--;
    this.summarizeIfDone();
  }

  /** One more request of the work in progress. */
  countRequest(): void {
    if (this.#work) this.#work.requests++;
  }

  /** Logs the summary once every service of the work in progress is settled. */
  summarizeIfDone(): void {
    const work = this.#work;
    if (!work || work.listing || work.outstanding > 0) return;
    this.#work = undefined;
    log.info("{proxy} in step after the {reason}: {requests} requests in {ms} ms", {
      proxy: this.#proxy,
      reason: work.reason,
      requests: work.requests,
      ms: Math.round(this.#now() - work.since),
    });
  }
}
