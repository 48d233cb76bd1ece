/**
 * What a monitor does when the election makes it the leader: go on delivering when nothing can
 * have changed behind its back, or take over. Taking over waits until the old leader's last
 * requests are over (they are bounded by the proxy timeout), then has every proxy resynced so it
 * holds exactly one copy of each service. Until then the monitor sends nothing ({@link
 * Takeover.pending}), which the delivery's fencing asks before every request.
 *
 * A takeover is due after this monitor saw another one lead (it was a standby), or when its new
 * candidate's epoch does not follow the one it last led with: its session expired in between, and
 * a monitor it never saw may have led and sent meanwhile.
 *
 * @example
 * ```ts
 * const takeover = new Takeover({
 *   monitorId: "m1",
 *   drainMs: 10_000,
 *   onContinue: () => queues.forEach((queue) => queue.kick()),
 *   onTakeover: () => queues.forEach((queue) => queue.resync()),
 * });
 * const election = new LeaderElection({ ..., onChange: (l) => takeover.onLeadership(l) });
 * const mayDeliver = () => election.leader && !takeover.pending;
 * ```
 *
 * @module
 */
import type { Leadership } from "./leader_election.ts";

/** Options of {@link Takeover}. */
export interface TakeoverOptions {
  /** This monitor's id: a leader of that id is this monitor, not another one. */
  monitorId: string;
  /** How long the old leader's requests may still run: the proxy timeout. */
  drainMs: number;
  /** Leading on as before: what the proxies hold is what this monitor sent. */
  onContinue: () => void;
  /** The old leader's requests are over: make every proxy hold exactly what ZooKeeper holds. */
  onTakeover: (epoch: number | undefined) => void;
}

/** The takeover policy of one monitor; fed every change of its leadership. */
export class Takeover {
  readonly #options: TakeoverOptions;
  /** Another monitor led since this one last led (or since it started). */
  #sawOtherLeader = false;
  /** The epoch this monitor last led with. */
  #ledEpoch: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pending = false;

  constructor(options: TakeoverOptions) {
    this.#options = options;
  }

  /** `true` from winning a takeover until the old leader's requests are over. */
  get pending(): boolean {
    return this.#pending;
  }

  /** What the election decided, each time it decides. */
  onLeadership(leadership: Leadership): void {
    if (!leadership.leader) {
      if (leadership.leaderId && leadership.leaderId !== this.#options.monitorId) {
        this.#sawOtherLeader = true;
      }
      return;
    }
    // A monitor we never saw lead created its candidate after our old one (it was not lower
    // while we led), so it cannot exist when our new sequence number follows the old one's.
    const othersMayHaveLed = this.#ledEpoch !== undefined && leadership.epoch !== undefined &&
      leadership.epoch - this.#ledEpoch > 1;
    this.#ledEpoch = leadership.epoch;
    if (!this.#sawOtherLeader && !othersMayHaveLed) {
      this.#options.onContinue();
      return;
    }
    this.#sawOtherLeader = false;
    this.#pending = true;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#pending = false;
      this.#options.onTakeover(leadership.epoch);
    }, this.#options.drainMs);
  }

  /** Cancels a takeover that waits (shutdown). */
  stop(): void {
    clearTimeout(this.#timer);
  }
}
