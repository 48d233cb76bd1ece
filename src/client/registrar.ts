/**
 * The registrar: keeps a set of services registered as ephemeral znodes, whatever the session
 * does. It creates the persistent parents, creates each wanted leaf in the current session, takes
 * over a leaf our own previous run left behind, waits for a conflicting registration to go away,
 * re-creates everything in a new session after expiry, and removes its leaves on shutdown.
 *
 * Every leaf has one reconciling task at a time; an event during a pass schedules one more pass.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  formatSessionId,
  OPEN_ACL,
  type SessionStateChange,
  type ZkAclEntry,
  ZkBadVersionError,
  ZkNodeExistsError,
  ZkNoNodeError,
  type ZkSession,
  type ZkStat,
} from "../zookeeper/mod.ts";
import type { RegistrationPlan } from "./registrations.ts";
import { ancestorsOf } from "../service/znode_path.ts";
import { FifoSet } from "../shared/fifo.ts";
import { backoffMs } from "../shared/backoff.ts";
import { Rerun } from "../shared/rerun.ts";

const log = getLogger(["zkcm", "registrar"]);
/**
 * Leaves being reconciled at once at most; the others wait their turn. Registering 100,000
 * services at once put every request, promise and watch in flight together: gigabytes, and a
 * SIGTERM waited for all of them before it could remove anything (issue 20).
 */
const PASSES_IN_FLIGHT = 256;
/**
 * At shutdown, up to this many registered leaves are deleted one by one; beyond, closing the
 * session removes them all at once (the server deletes a closed session's ephemerals itself), one
 * request instead of thousands.
 */
const DELETE_ONE_BY_ONE_MAX = 100;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where one leaf stands. */
export type LeafStatus =
  /** Not registered: waiting for a session, or being registered. */
  | "pending"
  /** Registered in the current session. */
  | "registered"
  /** Another registration with different data holds the path; waiting for it to go away. */
  | "conflict"
  /** Not wanted right now (its health check fails), and not registered. */
  | "unwanted"
  /** Registration failed (for example not authorized); retried with back-off. */
  | "failing";

/** A leaf as reported by {@link Registrar.leaves}. */
export interface LeafReport {
  path: string;
  data: string;
  wanted: boolean;
  status: LeafStatus;
  /** Why the leaf is `conflict` or `failing`. */
  reason?: string;
}

/** Counters for metrics. */
export interface RegistrarCounters {
  /** Leaves created (in any session). */
  registrations: number;
  /** Leaves created again in a new session after they had been registered in an older one. */
  reRegistrations: number;
  /** Leaves of another session with our data, replaced by ours. */
  takeovers: number;
  /** Leaves removed because they became unwanted or at shutdown. */
  deregistrations: number;
}

/** Options of {@link Registrar}. */
export interface RegistrarOptions {
  session: ZkSession;
  plan: RegistrationPlan;
  /** ACL of every znode the registrar creates. Default: open. */
  acl?: readonly ZkAclEntry[];
  /**
   * Paths of leaves that start unwanted, until {@link Registrar.setWanted} says otherwise (the
   * health-gated ones). Default: none.
   */
  startUnwanted?: ReadonlySet<string>;
  /** First retry delay after a failure; doubles up to `maxRetryDelayMs`. Default 250 ms. */
  retryDelayMs?: number;
  /** Default 10 s. */
  maxRetryDelayMs?: number;
}

interface Leaf {
  path: string;
  data: Uint8Array;
  text: string;
  wanted: boolean;
  status: LeafStatus;
  reason?: string;
  /** The session the leaf was last registered in. */
  registeredIn?: bigint;
  /** Its passes, one at a time; a wake-up during a pass runs one more. */
  passes: Rerun;
  retryTimer?: ReturnType<typeof setTimeout>;
  failures: number;
  /** The last conflict logged, so a conflict is logged once, not on every pass. */
  loggedConflict?: string;
  /** The session in which a watch on the leaf is set and has not fired yet. */
  watchedIn?: bigint;
}

/**
 * Keeps the leaves of a {@link RegistrationPlan} registered.
 *
 * @example
 * ```ts
 * const registrar = new Registrar({ session, plan });
 * registrar.start();
 * // ... on SIGTERM:
 * await registrar.stop(); // deletes our leaves
 * await session.close();
 * ```
 */
export class Registrar {
  readonly #session: ZkSession;
  readonly #plan: RegistrationPlan;
  readonly #acl: readonly ZkAclEntry[];
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #leaves = new Map<string, Leaf>();
  readonly counters: RegistrarCounters = {
    registrations: 0,
    reRegistrations: 0,
    takeovers: 0,
    deregistrations: 0,
  };
  #parentsReadyIn?: bigint;
  #parentsPending?: Promise<void>;
  /** Listed parents whose existing data differs, already reported. */
  readonly #reportedKeptData = new Set<string>();
  #stopped = false;
  #unsubscribe?: () => void;
  #idle = new Set<() => void>();
  /** Leaves with a pass running. */
  #running = 0;
  /** Leaves waiting for a free slot (see {@link PASSES_IN_FLIGHT}), by path, in order. */
  readonly #waiting = new FifoSet<string>();

  constructor(options: RegistrarOptions) {
    this.#session = options.session;
    this.#plan = options.plan;
    this.#acl = options.acl ?? OPEN_ACL;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    for (const service of options.plan.ephemeral) {
      const leaf: Leaf = {
        path: service.path,
        data: encoder.encode(service.data),
        text: service.data,
        wanted: !options.startUnwanted?.has(service.path),
        status: options.startUnwanted?.has(service.path) ? "unwanted" : "pending",
        passes: new Rerun({
          run: () => this.#onePass(leaf),
          stopped: () => this.#stopped,
          onIdle: () => this.#passesEnded(),
        }),
        failures: 0,
      };
      this.#leaves.set(service.path, leaf);
    }
  }

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Starts following the session: registers now if connected, and after every (re)connection. */
  start(): void {
    this.#unsubscribe = this.#session.onStateChange((change) => this.#onSessionChange(change));
    if (this.#session.state === "connected") this.#reconcileAll();
  }

  /** Marks a leaf wanted (register it) or not (remove it), e.g. from its health check. */
  setWanted(path: string, wanted: boolean): void {
    const leaf = this.#leaves.get(path);
    if (!leaf || leaf.wanted === wanted || this.#stopped) return;
    leaf.wanted = wanted;
    this.#reconcile(leaf);
  }

  /** Every leaf and where it stands. */
  leaves(): LeafReport[] {
    return [...this.#leaves.values()].map((leaf) => ({
      path: leaf.path,
      data: leaf.text,
      wanted: leaf.wanted,
      status: leaf.status,
      ...(leaf.reason === undefined ? {} : { reason: leaf.reason }),
    }));
  }

  /**
   * Every wanted leaf is registered. Whether the session is live is the caller's to add, with
   * the reason (`withZooKeeperReason` in `session/reachability.ts`).
   */
  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    for (const leaf of this.#leaves.values()) {
      if (leaf.wanted && leaf.status !== "registered") {
        reasons.push(`${leaf.path} ${leaf.status}${leaf.reason ? ` (${leaf.reason})` : ""}`);
      }
    }
    return { ready: reasons.length === 0, reasons };
  }

  /** Resolves when no leaf has a pass running or queued (tests, shutdown). */
  settled(): Promise<void> {
    if (this.#running === 0 && this.#waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  /**
   * Stops registering and deletes the leaves this session owns, so the monitor sees them go at
   * once. Leaves of other sessions are never touched. The caller then closes the session.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const leaf of this.#leaves.values()) clearTimeout(leaf.retryTimer);
    // Leaves still waiting for their turn are not registered: nothing to do for them.
    for (let path = this.#waiting.first(); path !== undefined; path = this.#waiting.first()) {
      this.#waiting.delete(path);
    }
    await this.settled(); // at most PASSES_IN_FLIGHT passes, each a few round trips
    if (this.#session.state !== "connected") return;
    const registered = [...this.#leaves.values()].filter((leaf) => leaf.status === "registered");
    if (registered.length > DELETE_ONE_BY_ONE_MAX) {
      log.info("{count} services registered: closing the session removes them all at once", {
        count: registered.length,
      });
      return;
    }
    await Promise.all(
      [...this.#leaves.values()].map((leaf) =>
        this.#removeOwn(leaf, "shutdown").catch((error) => {
          log.warn("could not remove {path} at shutdown: {error}", {
            path: leaf.path,
            error: String(error),
          });
        })
      ),
    );
  }

  // ---- reconciling ----

  #onSessionChange(change: SessionStateChange): void {
    if (this.#stopped) return;
    if (change.state === "expired") {
      const registered = [...this.#leaves.values()].filter((l) => l.status === "registered");
      log.warn(
        "session {sessionId} expired: its {count} registrations are gone; re-creating them",
        {
          sessionId: formatSessionId(change.sessionId),
          count: registered.length,
        },
      );
      for (const leaf of registered) leaf.status = "pending";
    }
    // Suspended: the session may well be alive, and its leaves with it. Nothing rash: wait.
    if (change.state === "connected") this.#reconcileAll();
  }

  #reconcileAll(): void {
    for (const leaf of this.#leaves.values()) this.#reconcile(leaf);
  }

  #reconcile(leaf: Leaf): void {
    if (this.#stopped) return;
    clearTimeout(leaf.retryTimer);
    leaf.retryTimer = undefined;
    if (leaf.passes.running) {
      void leaf.passes.ask();
      return;
    }
    if (this.#running >= PASSES_IN_FLIGHT) {
      this.#waiting.add(leaf.path);
      return;
    }
    this.#waiting.delete(leaf.path);
    this.#running++;
    void leaf.passes.ask();
  }

  /** One pass of a leaf, while connected; a failure is logged and retried after a back-off. */
  async #onePass(leaf: Leaf): Promise<void> {
    if (this.#session.state !== "connected") return;
    try {
      await this.#pass(leaf);
      leaf.failures = 0;
    } catch (error) {
      this.#failed(leaf, error);
    }
  }

  /** A leaf's passes ended: the next waiting leaf may run. */
  #passesEnded(): void {
    this.#running--;
    const next = this.#stopped ? undefined : this.#waiting.first();
    if (next !== undefined) this.#reconcile(this.#leaves.get(next)!);
    if (this.#running === 0 && this.#waiting.size === 0) {
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
  }

  /** One look at a leaf and one step towards what is wanted. */
  async #pass(leaf: Leaf): Promise<void> {
    const sessionId = this.#session.sessionId;
    if (!leaf.wanted) {
      await this.#removeOwn(leaf, "unwanted");
      leaf.status = "unwanted";
      leaf.reason = undefined;
      return;
    }
    await this.#ensureParents(sessionId);
    try {
      await this.#session.create(leaf.path, leaf.data, { mode: "ephemeral", acl: this.#acl });
      this.#registered(leaf, sessionId, "registered");
      const stat = await this.#watch(leaf, sessionId);
      // Deleted before the watch was set: the watch now waits for a creation, so look again.
      if (stat !== undefined && stat?.ephemeralOwner !== sessionId) void leaf.passes.ask();
      return;
    } catch (error) {
      if (error instanceof ZkNoNodeError) {
        // A parent vanished under us (deleted by hand?): make it again on the next pass.
        this.#parentsReadyIn = undefined;
        void leaf.passes.ask();
        return;
      }
      if (!(error instanceof ZkNodeExistsError)) throw error;
    }
    await this.#resolveExisting(leaf, sessionId);
  }

  /** The path exists: ours, a leftover of our previous run, or someone else's. */
  async #resolveExisting(leaf: Leaf, sessionId: bigint): Promise<void> {
    // Watch first, read second: any change after the read then re-runs this leaf.
    await this.#watch(leaf, sessionId);
    let existing;
    try {
      existing = await this.#session.getData(leaf.path);
    } catch (error) {
      if (error instanceof ZkNoNodeError) {
        void leaf.passes.ask(); // gone meanwhile: create it on the next pass
        return;
      }
      throw error;
    }
    const { data, stat } = existing;
    const sameData = equalBytes(data, leaf.data);
    if (stat.ephemeralOwner === sessionId) {
      if (!sameData) await this.#session.setData(leaf.path, leaf.data, stat.version);
      if (leaf.status !== "registered") this.#registered(leaf, sessionId, "registered");
      return;
    }
    const displaced = leaf.status === "registered" && leaf.registeredIn === sessionId;
    if (sameData && !displaced) {
      // Our own registration from a run that crashed, its session not yet expired: replace it
      // atomically, at the version we saw, so a concurrent change is never overwritten.
      try {
        await this.#session.multi([
          { op: "delete", path: leaf.path, version: stat.version },
          { op: "create", path: leaf.path, data: leaf.data, mode: "ephemeral", acl: this.#acl },
        ]);
      } catch (error) {
        if (
          error instanceof ZkNoNodeError || error instanceof ZkBadVersionError ||
          error instanceof ZkNodeExistsError
        ) {
          void leaf.passes.ask(); // changed under us: look again
          return;
        }
        throw error;
      }
      this.counters.takeovers++;
      this.#registered(leaf, sessionId, "took over", formatSessionId(stat.ephemeralOwner));
      return;
    }
    // Someone else's registration, or a newer run of this very service that took ours over
    // (taking it back would start a tug of war): never delete it. The watch re-runs this leaf
    // when it changes or goes away.
    const owner = formatSessionId(stat.ephemeralOwner);
    const reason = sameData
      ? `taken over by session ${owner} with the same data (another run of this service?)`
      : `held by session ${owner} with data ${
        JSON.stringify(decoder.decode(data.subarray(0, 200)))
      }`;
    leaf.status = "conflict";
    leaf.reason = reason;
    if (leaf.loggedConflict !== reason) {
      leaf.loggedConflict = reason;
      log.warn("{path} is {reason}; registering when it goes away", { path: leaf.path, reason });
    }
  }

  #registered(leaf: Leaf, sessionId: bigint, how: string, previousOwner?: string): void {
    const again = leaf.registeredIn !== undefined && leaf.registeredIn !== sessionId;
    leaf.status = "registered";
    leaf.reason = undefined;
    leaf.loggedConflict = undefined;
    leaf.registeredIn = sessionId;
    this.counters.registrations++;
    if (again) this.counters.reRegistrations++;
    log.info(`{path} ${how}${again ? " again in a new session" : ""}`, {
      path: leaf.path,
      data: leaf.text,
      sessionId: formatSessionId(sessionId),
      ...(previousOwner ? { previousOwner } : {}),
    });
  }

  /**
   * Keeps one watch on the leaf's path per session: when the node is created, changed or
   * deleted (ours removed by hand, a conflicting one gone), the next pass puts things right.
   * Returns the stat the watch was set on (`null`: no node), or `undefined` when one was set.
   */
  async #watch(leaf: Leaf, sessionId: bigint): Promise<ZkStat | null | undefined> {
    if (leaf.watchedIn === sessionId) return undefined;
    leaf.watchedIn = sessionId;
    try {
      return await this.#session.exists(leaf.path, () => {
        if (leaf.watchedIn === sessionId) leaf.watchedIn = undefined;
        this.#reconcile(leaf);
      });
    } catch (error) {
      leaf.watchedIn = undefined;
      throw error;
    }
  }

  /** Deletes the leaf if, and only if, the current session owns it. */
  async #removeOwn(leaf: Leaf, why: string): Promise<void> {
    const sessionId = this.#session.sessionId;
    const stat = await this.#session.exists(leaf.path);
    if (!stat || stat.ephemeralOwner !== sessionId) return;
    try {
      await this.#session.delete(leaf.path, stat.version);
    } catch (error) {
      if (!(error instanceof ZkNoNodeError)) throw error;
    }
    this.counters.deregistrations++;
    log.info("{path} deregistered ({why})", {
      path: leaf.path,
      why,
      sessionId: formatSessionId(sessionId),
    });
  }

  /** Creates the plan's persistent nodes once per session (existing ones are left alone). */
  #ensureParents(sessionId: bigint): Promise<void> {
    if (this.#parentsReadyIn === sessionId) return Promise.resolve();
    this.#parentsPending ??= this.#createParents().then(
      () => {
        this.#parentsReadyIn = sessionId;
        this.#parentsPending = undefined;
      },
      (error) => {
        this.#parentsPending = undefined;
        throw error;
      },
    );
    return this.#parentsPending;
  }

  async #createParents(): Promise<void> {
    const listed = new Map(this.#plan.persistent.map((node) => [node.path, node.data]));
    const paths = new Set<string>();
    for (const node of this.#plan.persistent) {
      for (const ancestor of ancestorsOf(node.path)) paths.add(ancestor);
      paths.add(node.path);
    }
    const ordered = [...paths].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
    for (const path of ordered) {
      const existing = await this.#session.exists(path);
      if (existing) {
        const data = listed.get(path);
        if (data !== undefined && data !== "") await this.#reportKeptData(path, data);
        continue;
      }
      try {
        await this.#session.create(path, encoder.encode(listed.get(path) ?? ""), {
          acl: this.#acl,
        });
        log.info("created persistent {path}", { path });
      } catch (error) {
        if (!(error instanceof ZkNodeExistsError)) throw error;
      }
    }
  }

  /**
   * A listed parent that exists keeps its data (existing nodes are left alone, as the original
   * tool did): when that is not the listed data, say so once, rather than drop it silently.
   */
  async #reportKeptData(path: string, listedData: string): Promise<void> {
    if (this.#reportedKeptData.has(path)) return;
    const { data } = await this.#session.getData(path).catch(() => ({ data: undefined }));
    if (data === undefined || equalBytes(data, encoder.encode(listedData))) return;
    this.#reportedKeptData.add(path);
    log.warn(
      "{path} exists with other data than listed: its data is left as it is (existing parents " +
        "are never changed); listed {listed}, found {found}",
      {
        path,
        listed: JSON.stringify(listedData.slice(0, 100)),
        found: JSON.stringify(decoder.decode(data.subarray(0, 100))),
      },
    );
  }

  #failed(leaf: Leaf, error: unknown): void {
    if (this.#stopped) return;
    leaf.failures++;
    const reason = error instanceof Error ? error.message : String(error);
    if (leaf.status !== "registered") {
      leaf.status = "failing";
      leaf.reason = reason;
    }
    const delayMs = backoffMs(leaf.failures, {
      baseMs: this.#retryDelayMs,
      maxMs: this.#maxRetryDelayMs,
    });
    const properties = { path: leaf.path, reason, retryInMs: Math.round(delayMs) };
    if (leaf.failures === 1) log.warn("{path}: {reason}; retrying", properties);
    else log.debug("{path}: {reason}; retrying", properties);
    clearTimeout(leaf.retryTimer);
    leaf.retryTimer = setTimeout(() => {
      leaf.retryTimer = undefined;
      this.#reconcile(leaf);
    }, delayMs);
  }
}

function depth(path: string): number {
  return path.split("/").length;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
