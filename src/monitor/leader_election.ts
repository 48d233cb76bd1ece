/**
 * Leader election among monitors through ZooKeeper (the classic recipe): every monitor creates
 * an EPHEMERAL_SEQUENTIAL candidate under the election path; the lowest sequence leads; the
 * others watch only their predecessor, so a leader's departure wakes one standby, not all.
 *
 * Leadership is fenced by the session: a monitor leads only while its session is connected and
 * its candidate is the lowest. It stops leading the moment its connection drops (suspended),
 * which the watchdog notices within 2/3 of the session timeout, before the server can expire the
 * session and let a standby take over.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  childPath,
  formatSessionId,
  type SessionStateChange,
  ZkNodeExistsError,
  type ZkSession,
} from "../zookeeper/mod.ts";

const log = getLogger(["zkcm", "election"]);
const PREFIX = "candidate-";

/** Leadership as {@link LeaderElection} reports it. */
export interface Leadership {
  leader: boolean;
  /** The candidate's sequence number: grows with every new candidate, so it orders leaders. */
  epoch?: number;
  /** Data of the current leader's candidate (its monitor id), when known. */
  leaderId?: string;
}

/** Options of {@link LeaderElection}. */
export interface LeaderElectionOptions {
  session: ZkSession;
  /** The election znode, e.g. `/cluster1-election` (created if missing). */
  path: string;
  /** This monitor's id, stored in its candidate (host and pid, say). */
  id: string;
  /** Called on every change of leadership. */
  onChange: (leadership: Leadership) => void;
}

/** Runs this monitor's candidacy. */
export class LeaderElection {
  readonly #session: ZkSession;
  readonly #path: string;
  readonly #id: string;
  readonly #onChange: (leadership: Leadership) => void;
  #candidate?: { name: string; epoch: number; sessionId: bigint };
  #leadership: Leadership = { leader: false };
  #stopped = false;
  #unsubscribe?: () => void;
  #running?: Promise<void>;
  #again = false;

  constructor(options: LeaderElectionOptions) {
    this.#session = options.session;
    this.#path = options.path;
    this.#id = options.id;
    this.#onChange = options.onChange;
  }

  /** Joins the election: now if connected, and again in every new session. */
  start(): void {
    this.#unsubscribe = this.#session.onStateChange((change) => this.#onSession(change));
    if (this.#session.state === "connected") this.#check();
  }

  /** True only while this monitor leads: connected, with the lowest candidate. */
  get leader(): boolean {
    return this.#leadership.leader && this.#session.state === "connected";
  }

  /** The current leadership. */
  get leadership(): Leadership {
    return { ...this.#leadership, leader: this.leader };
  }

  /** Leaves the election: deletes the candidate so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    await this.#running;
    this.#set({ leader: false, epoch: this.#leadership.epoch });
    const candidate = this.#candidate;
    if (candidate && this.#session.state === "connected") {
      await this.#session.delete(childPath(this.#path, candidate.name)).catch(() => {});
    }
  }

  #onSession(change: SessionStateChange): void {
    if (this.#stopped) return;
    if (change.state !== "connected") {
      // Fencing: without a connection we cannot know we still lead, so we do not.
      if (this.#leadership.leader) {
        log.warn("ZooKeeper connection {state}: no longer leading (epoch {epoch})", {
          state: change.state,
          epoch: this.#leadership.epoch,
        });
      }
      this.#set({ ...this.#leadership, leader: false });
      return;
    }
    this.#check();
  }

  /** Runs one election pass at a time; a request during a pass runs one more. */
  #check(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#pass();
        } catch (error) {
          if (this.#stopped || this.#session.state !== "connected") break;
          log.warn("election pass failed: {error}; retrying", { error: String(error) });
          this.#again = true;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => this.#running = undefined);
  }

  async #pass(): Promise<void> {
    const sessionId = this.#session.sessionId;
    if (this.#candidate?.sessionId !== sessionId) {
      // A new session: the old candidate went with the old one.
      await this.#session.ensurePath(this.#path).catch((error) => {
        if (!(error instanceof ZkNodeExistsError)) throw error;
      });
      const created = await this.#session.create(
        childPath(this.#path, PREFIX),
        new TextEncoder().encode(this.#id),
        { mode: "ephemeral_sequential" },
      );
      const name = created.slice(created.lastIndexOf("/") + 1);
      this.#candidate = { name, epoch: sequenceOf(name), sessionId };
      log.info("joined the election as {candidate}", {
        candidate: name,
        sessionId: formatSessionId(sessionId),
      });
    }
    const candidate = this.#candidate;
    const children = (await this.#session.getChildren(this.#path)).children
      .filter((name) => name.startsWith(PREFIX))
      .sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const position = children.indexOf(candidate.name);
    if (position === -1) {
      // Our candidate is gone (deleted by hand?): join again.
      this.#candidate = undefined;
      this.#again = true;
      return;
    }
    if (position === 0) {
      if (!this.#leadership.leader) {
        log.info("leading, epoch {epoch}", { epoch: candidate.epoch });
      }
      this.#set({ leader: true, epoch: candidate.epoch, leaderId: this.#id });
      return;
    }
    const predecessor = children[position - 1];
    const leaderId = await this.#session.getData(childPath(this.#path, children[0]))
      .then(({ data }) => new TextDecoder().decode(data), () => undefined);
    this.#set({ leader: false, epoch: candidate.epoch, leaderId });
    const watched = await this.#session.exists(childPath(this.#path, predecessor), () => {
      if (!this.#stopped) this.#check();
    });
    if (!watched) this.#again = true; // gone between the listing and the watch
  }

  #set(leadership: Leadership): void {
    const before = this.#leadership;
    this.#leadership = leadership;
    if (before.leader !== leadership.leader || before.leaderId !== leadership.leaderId) {
      try {
        this.#onChange(this.leadership);
      } catch (error) {
        log.error("a leadership listener failed: {error}", { error: String(error) });
      }
    }
  }
}

function sequenceOf(name: string): number {
  return Number(name.slice(name.lastIndexOf("-") + 1));
}
