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
 * A create whose answer is lost with its connection may still have been made: the retry then
 * makes a second candidate, and the first, of the same session, sits ahead of it. Such a node is
 * removed when found ahead of ours (its owner is our session), or every monitor would wait behind
 * it, this one too, for as long as the session lives (seen in the chaos run, seed 710).
 *
 * Anyone with write access can leave nodes in the election path (a tool, a person with zkCli).
 * What can never be a monitor's candidate is ignored, with a warning, and never deleted (it is not
 * ours): a name other than `candidate-` and ten digits (what a sequential create makes) and a
 * persistent node. An ephemeral node ahead of ours whose data cannot be a monitor's id (empty, not
 * UTF-8) cannot be told from a live monitor's safely, so the monitors wait behind it, and say so:
 * a warning naming it, and {@link Leadership.problem} for `/readyz` of every monitor when it is
 * the lowest (no monitor leads).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  childPath,
  formatSessionId,
  type SessionStateChange,
  ZkNodeExistsError,
  ZkNoNodeError,
  type ZkSession,
} from "../zookeeper/mod.ts";
import { backoffMs } from "../shared/backoff.ts";
import { Rerun } from "../shared/rerun.ts";

/** Between failed election passes while connected (a pass is a few requests). */
const RETRY_BACKOFF = { baseMs: 1000, maxMs: 10_000 };

const log = getLogger(["zkcm", "election"]);
const PREFIX = "candidate-";
/** The name of a node made by our sequential create: the prefix and ten digits. */
const CANDIDATE_NAME = /^candidate-\d{10}$/;
/** A failed pass that fails the same way again is logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Leadership as {@link LeaderElection} reports it. */
export interface Leadership {
  leader: boolean;
  /** The candidate's sequence number: grows with every new candidate, so it orders leaders. */
  epoch?: number;
  /** Data of the current leader's candidate (its monitor id), when known. */
  leaderId?: string;
  /** The node of the current leader's candidate (`candidate-0000000003`), when known. */
  leaderNode?: string;
  /** Why no monitor can lead (the lowest candidate is not a monitor's), for `/readyz`. */
  problem?: string;
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
  /** Election passes, one at a time; a wake-up during a pass runs one more. */
  readonly #passes = new Rerun({
    run: () => this.#passOrBackOff(),
    // Disconnected, a pass cannot succeed; the reconnection asks for one.
    stopped: () => this.#stopped || this.#session.state !== "connected",
  });
  /** Nodes already warned about, with what was said, so each is logged once. */
  readonly #warned = new Map<string, string>();
  #lastFailure?: { text: string; at: number };
  /** Failed passes in a row, for the back-off. */
  #failures = 0;

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
    await this.#passes.settled();
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
    void this.#passes.ask();
  }

  /** One pass; after a failure while connected, a back-off and then one more pass. */
  async #passOrBackOff(): Promise<void> {
    try {
      await this.#pass();
      this.#lastFailure = undefined;
      this.#failures = 0;
    } catch (error) {
      if (this.#stopped || this.#session.state !== "connected") return;
      this.#logFailure(String(error));
      this.#check();
      const delayMs = backoffMs(++this.#failures, RETRY_BACKOFF);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
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
    const children = (await this.#session.getChildren(this.#path)).children;
    const candidates: string[] = [];
    for (const name of children) {
      if (CANDIDATE_NAME.test(name)) candidates.push(name);
      else await this.#ignore(name, "its name is not a candidate's (candidate- and ten digits)");
    }
    candidates.sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const position = candidates.indexOf(candidate.name);
    if (position === -1) {
      // Our candidate is gone (deleted by hand?): join again.
      this.#candidate = undefined;
      this.#check();
      return;
    }
    const ahead = await this.#liveCandidates(candidates.slice(0, position));
    if (ahead.length === 0) {
      if (!this.#leadership.leader) {
        log.info("leading, epoch {epoch}", { epoch: candidate.epoch });
      }
      this.#set({
        leader: true,
        epoch: candidate.epoch,
        leaderId: this.#id,
        leaderNode: candidate.name,
      });
      return;
    }
    const leader = ahead[0];
    const predecessor = ahead[ahead.length - 1];
    const leaderProblem = notAMonitorsId(leader.data);
    const problem = leaderProblem === undefined ? undefined : `no monitor leads: the lowest ` +
      `candidate ${this.#nodeText(leader.name, leader.data)} is an ephemeral node of another ` +
      `session whose data ${leaderProblem}, not a monitor's id; every monitor waits behind it ` +
      `until it goes (its session ends, or delete it if nothing uses it)`;
    if (leader.name !== this.#leadership.leaderNode) {
      log.info("standing by (epoch {epoch}): {leader} leads", {
        epoch: candidate.epoch,
        leader: this.#nodeText(leader.name, leader.data),
      });
    }
    if (problem !== undefined) this.#warnOnce(leader.name, problem);
    else if (notAMonitorsId(predecessor.data) !== undefined) {
      this.#warnOnce(
        predecessor.name,
        `the candidate ahead of ours, ${this.#nodeText(predecessor.name, predecessor.data)}, ` +
          `is not a monitor's (its data ${notAMonitorsId(predecessor.data)}); waiting behind it`,
      );
    }
    this.#set({
      leader: false,
      epoch: candidate.epoch,
      leaderId: leaderProblem === undefined ? strictUtf8.decode(leader.data) : undefined,
      leaderNode: leader.name,
      ...(problem === undefined ? {} : { problem }),
    });
    const watched = await this.#session.exists(childPath(this.#path, predecessor.name), () => {
      if (!this.#stopped) this.#check();
    });
    if (!watched) this.#check(); // gone between the listing and the watch
    if (problem !== undefined && leader !== predecessor) {
      // The problem is the leader's node, not our predecessor's: look again when it goes, so that
      // /readyz does not keep reporting it.
      const stillThere = await this.#session.exists(childPath(this.#path, leader.name), () => {
        if (!this.#stopped) this.#check();
      });
      if (!stillThere) this.#check();
    }
  }

  /**
   * The candidates of `names` (lowest first) that may be a live monitor's: persistent nodes are
   * ignored (a monitor's candidate is always ephemeral), and so are nodes gone meanwhile.
   */
  async #liveCandidates(names: string[]): Promise<{ name: string; data: Uint8Array }[]> {
    const live: { name: string; data: Uint8Array }[] = [];
    for (const name of names) {
      let read;
      try {
        read = await this.#session.getData(childPath(this.#path, name));
      } catch (error) {
        if (error instanceof ZkNoNodeError) continue; // gone: no longer ahead of us
        throw error;
      }
      const owner = read.stat.ephemeralOwner;
      if (owner !== 0n && owner === this.#session.sessionId) {
        // Ours, but not our candidate: a create whose answer was lost with its connection (the
        // server made the node, we made another). Left there it would lead, and we, standing by
        // behind our own session's node, would never lead while the session lives.
        await this.#session.delete(childPath(this.#path, name)).catch((error) => {
          if (!(error instanceof ZkNoNodeError)) throw error;
        });
        log.info(
          "removed {node}: a candidate of this session left by a create whose answer was lost",
          {
            node: childPath(this.#path, name),
          },
        );
        continue;
      }
      if (read.stat.ephemeralOwner === 0n) {
        this.#warnOnce(
          name,
          `ignoring ${this.#nodeText(name, read.data)} in the election path: it is persistent, ` +
            "so no monitor's candidate (those are ephemeral); delete it if nothing uses it",
        );
        continue;
      }
      live.push({ name, data: read.data });
    }
    return live;
  }

  /** Warns once about a node that is not a candidate at all (read for its data). */
  async #ignore(name: string, why: string): Promise<void> {
    if (this.#warned.has(name)) return;
    const data = await this.#session.getData(childPath(this.#path, name))
      .then(({ data }) => data, () => new Uint8Array());
    this.#warnOnce(
      name,
      `ignoring ${this.#nodeText(name, data)} in the election path: ${why}; delete it if ` +
        "nothing uses it",
    );
  }

  #warnOnce(name: string, line: string): void {
    if (this.#warned.get(name) === line) return;
    this.#warned.set(name, line);
    // The line holds the node's data: a property, never the template (braces in it would be read
    // as placeholders).
    log.warn("{line}", { line, path: this.#path, node: name });
  }

  /** A node and its data as a log line shows them: `/e/candidate-0 (data "junk")`. */
  #nodeText(name: string, data: Uint8Array): string {
    let text: string;
    try {
      text = JSON.stringify(strictUtf8.decode(data.subarray(0, 100)));
    } catch {
      text = `of ${data.length} bytes, not UTF-8`;
    }
    return `${childPath(this.#path, name)} (data ${text}${data.length > 100 ? "…" : ""})`;
  }

  /** Logs a failed pass: a new failure at once, the same one again at most once a minute. */
  #logFailure(text: string): void {
    const now = performance.now();
    const last = this.#lastFailure;
    if (last?.text === text && now - last.at < FAILURE_LOG_INTERVAL_MS) {
      log.debug("election pass failed again: {error}; retrying", { error: text });
      return;
    }
    this.#lastFailure = { text, at: now };
    log.warn("election pass failed: {error}; retrying", { error: text });
  }

  /** Why no monitor can lead, when that is so (for `/readyz`). */
  get problem(): string | undefined {
    return this.#leadership.problem;
  }

  #set(leadership: Leadership): void {
    const before = this.#leadership;
    this.#leadership = leadership;
    if (
      before.leader !== leadership.leader || before.leaderId !== leadership.leaderId ||
      before.leaderNode !== leadership.leaderNode
    ) {
      try {
        this.#onChange(this.leadership);
      } catch (error) {
        log.error("a leadership listener failed: {error}", { error: String(error) });
      }
    }
  }
}

/**
 * Why `data` cannot be a monitor's id (monitors store a non-empty UTF-8 id), or `undefined`.
 */
function notAMonitorsId(data: Uint8Array): string | undefined {
  if (data.length === 0) return "is empty";
  try {
    strictUtf8.decode(data);
  } catch {
    return "is not UTF-8";
  }
  return undefined;
}

function sequenceOf(name: string): number {
  return Number(name.slice(name.lastIndexOf("-") + 1));
}
