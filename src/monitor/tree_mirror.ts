/**
 * The tree mirror: a copy of `root → end points → services` kept equal to ZooKeeper with watches,
 * treating ZooKeeper as state, not as a stream of events. Every watch event re-reads that one
 * level and diffs; every reconnection and every new session re-reads the whole tree and diffs.
 * A child gone between list and read is simply absent; a delete and re-create (new `czxid`) is a
 * change; the root may be missing or deleted and re-created (the mirror waits for it).
 *
 * While the session is suspended nothing is removed: the last known services stay.
 *
 * Two ways of watching, chosen per server and logged once:
 * - **recursive watch** (ZooKeeper 3.6+): one persistent recursive watch on the root (`addWatch`
 *   first, then a full read: the end points' listings, then `multiRead` batches of `getData`),
 *   again after every reconnection (events missed meanwhile are not replayed). Each event then
 *   costs one read (created, dataChanged) or none (deleted). No standard watch is set at all: on
 *   3.8 one on a watched path silently ends the recursive watch (ZOOKEEPER-4466).
 * - **one-shot watches** (classic): a child watch per level and a data watch per service, each
 *   re-armed by the read its event triggers. For servers that do not know `addWatch` or
 *   `multiRead` (ZooKeeper 3.4/3.5: UNIMPLEMENTED, or a hang-up), and for good on a server whose
 *   recursive-watch events name the root for changes below it (ClickHouse Keeper).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  childPath,
  formatSessionId,
  type SessionStateChange,
  ZkConnectionLossError,
  ZkHungUpAfterRequestError,
  ZkNoNodeError,
  type ZkSession,
  type ZkStat,
  ZkUnimplementedError,
  type ZkWatcher,
  type ZkWatchEvent,
} from "../zookeeper/mod.ts";
import { KeyedSerial } from "./keyed_serial.ts";
import { Limiter } from "./_limiter.ts";
import { ReadBatcher } from "./_read_batcher.ts";
import { eventNotAboutRoot, inBatches, type RootStat } from "./_recursive_watch.ts";
import { backoffMs } from "../shared/backoff.ts";

/** Reads in flight at most, however large the tree. */
const READS_IN_FLIGHT = 256;
/**
 * `getData` per `multiRead`: the server's CPU per read falls from 63–95 µs alone to about 2 µs
 * in batches of 50–200 (measured on 3.8); a batch of 100 small services answers in ~11 KB, far
 * below `jute.maxbuffer`, and does not hold up the writes queued behind it (ZOOKEEPER-3361).
 */
const READ_BATCH = 100;
/** `multiRead` batches in flight at most during a full read. */
const BATCHES_IN_FLIGHT = 4;
/** A server that hangs up this many times in a row on the first `addWatch`/`multiRead` lacks them. */
const HANG_UPS_BEFORE_CLASSIC = 2;

/**
 * How the mirror watches: `probing` until the server has answered `addWatch` and `multiRead`,
 * then `recursiveWatch` or, for good, `oneShotWatches`.
 */
export type MirrorWatchMode = "probing" | "recursiveWatch" | "oneShotWatches";

/** Every {@link MirrorWatchMode}, for metrics that report each. */
export const MIRROR_WATCH_MODES: readonly MirrorWatchMode[] = [
  "probing",
  "recursiveWatch",
  "oneShotWatches",
];

const log = getLogger(["zkcm", "mirror"]);

/** One service as ZooKeeper holds it. */
export interface MirroredService {
  endPoint: string;
  service: string;
  /** The znode's data, as stored. */
  data: Uint8Array;
  /** zxid of the znode's creation: a delete and re-create changes it. */
  czxid: bigint;
  /** zxid of the last change of the data. */
  mzxid: bigint;
  /** Whether the znode is ephemeral (a client's registration), as a service should be. */
  ephemeral: boolean;
  /** Its children when read: a service has none (they would be a level the mirror ignores). */
  children: number;
}

/** A change of the mirror. */
export type MirrorChange =
  | { type: "set"; key: string; service: MirroredService }
  | { type: "remove"; key: string; endPoint: string; service: string };

/** The key of a service: `endPoint/service` (names cannot contain `/`). */
export function serviceKey(endPoint: string, service: string): string {
  return `${endPoint}/${service}`;
}

/** Options of {@link TreeMirror}. */
export interface TreeMirrorOptions {
  session: ZkSession;
  /** The root znode (`ZK_ROOT_NODE`), e.g. `/cluster1`. */
  root: string;
  /** Called for every change, in order. Must not throw (errors are logged). */
  onChange: (change: MirrorChange) => void;
  /** Called when a full read of the tree completes (first sync, after reconnects). */
  onSynced?: (info: { services: number; ms: number; sessionId: bigint }) => void;
  /** `oneShotWatches` forces the classic mode; default: a recursive watch where the server has it. */
  watchMode?: "auto" | "oneShotWatches";
}

/**
 * Mirrors a root's two levels below it.
 *
 * @example
 * ```ts
 * const mirror = new TreeMirror({ session, root: "/cluster1", onChange: (c) => queue.apply(c) });
 * mirror.start();
 * ```
 */
export class TreeMirror {
  readonly #session: ZkSession;
  readonly #root: string;
  readonly #onChange: (change: MirrorChange) => void;
  readonly #onSynced?: TreeMirrorOptions["onSynced"];
  /** endPoint → service → state. */
  readonly #tree = new Map<string, Map<string, MirroredService>>();
  readonly #serial = new KeyedSerial();
  readonly #reads = new Limiter(READS_IN_FLIGHT);
  /** The reads events ask for, gathered into `multiRead` batches (recursive-watch mode). */
  readonly #eventReads: ReadBatcher;
  /** Watches set and not fired yet, by `kind:path`, valid in `#watchSession` only. */
  #armed = new Set<string>();
  #watchSession = 0n;
  #synced = false;
  #stopped = false;
  /** Keys whose next read must also re-read everything below. */
  readonly #deep = new Set<string>();
  /** Reads of the current pass that failed and have not been read again successfully yet. */
  #unretried = 0;
  /** The current full read: done once every read of it (retries included) has succeeded. */
  #pass?: ReadPass;
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Failed reads in a row, by key, for the back-off. */
  readonly #readFailures = new Map<string, number>();
  #unsubscribe?: () => void;
  #watchMode: MirrorWatchMode = "probing";
  /** The session whose recursive watch on the root is registered (0n: none). */
  #recursiveWatchSession = 0n;
  /** The root's stat at the last full read or root event (`null`: absent; `undefined`: unread). */
  #rootStat: RootStat | null | undefined;
  /**
   * Hang-ups in a row right after `addWatch`, and after `multiRead`, while probing (a server that
   * lacks them closes the connection on reading one). Counted apart, and each reset when its
   * operation succeeds: ordinary connection losses (a restart, a leader election) hitting one of
   * each must not look like a server without them.
   */
  readonly #probeHangUps = new Map<string, number>();
  /**
   * `getData` per `multiRead` now: halved after a batch lost with its connection (an answer over
   * the client's packet limit ends the connection: services of hundreds of KB each), doubled
   * back after each full read that completes.
   */
  #batchSize = READ_BATCH;
  readonly #onRecursiveEvent: ZkWatcher = (event) => this.#onSubtreeEvent(event);

  constructor(options: TreeMirrorOptions) {
    this.#session = options.session;
    this.#root = options.root;
    this.#onChange = options.onChange;
    this.#onSynced = options.onSynced;
    if (options.watchMode === "oneShotWatches") this.#watchMode = "oneShotWatches";
    const session = options.session;
    // Batched only once the server is known to answer multiRead (a probe may still be running).
    this.#eventReads = new ReadBatcher({
      getData: (path) => session.getData(path),
      multiRead: (ops) => session.multiRead(ops),
    }, () => this.#watchMode === "recursiveWatch" ? this.#batchSize : 1);
  }

  /** How the mirror watches the tree (see {@link MirrorWatchMode}). */
  get watchMode(): MirrorWatchMode {
    return this.#watchMode;
  }

  /** Starts mirroring: now if connected, and fully again after every (re)connection. */
  start(): void {
    this.#unsubscribe = this.#session.onStateChange((change) => this.#onSessionChange(change));
    if (this.#session.state === "connected") this.resync();
  }

  /** Stops reacting to events; in-flight reads finish (see {@link settled}). */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#recursiveWatchSession !== 0n) this.#dropRecursiveWatch();
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#readFailures.clear();
    return this.#serial.settled();
  }

  /** True once the whole tree has been read in the current connection. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Every mirrored service. */
  services(): MirroredService[] {
    return [...this.#tree.values()].flatMap((services) => [...services.values()]);
  }

  /** How many services are mirrored. */
  get size(): number {
    let size = 0;
    for (const services of this.#tree.values()) size += services.size;
    return size;
  }

  /** Re-reads the whole tree and reports the differences. */
  resync(): void {
    if (this.#stopped) return;
    const pass = { started: performance.now(), sessionId: this.#session.sessionId, done: false };
    this.#pass = pass;
    this.#unretried = 0;
    if (this.#watchMode === "oneShotWatches") {
      this.#deep.add("root");
      this.#schedule("root", () => this.#refreshRoot());
    } else {
      this.#schedule("root", () => this.#readTreeUnderWatch());
    }
    this.#completeWhenSettled(pass);
  }

  /**
   * Declares the pass synced once nothing is left to read and no failed read awaits its retry
   * (a read that failed is retried on a timer: the pass is complete when that retry succeeds).
   */
  #completeWhenSettled(pass: ReadPass): void {
    void this.#serial.settled().then(() => {
      if (this.#stopped || pass !== this.#pass || pass.done) return;
      if (this.#session.sessionId !== pass.sessionId) return;
      if (this.#session.state !== "connected" || this.#unretried > 0) return;
      pass.done = true;
      this.#synced = true;
      this.#batchSize = Math.min(READ_BATCH, this.#batchSize * 2);
      const ms = performance.now() - pass.started;
      log.info(
        "mirror of {root} synced: {services} services in {endPoints} end points ({ms} ms, {watchMode})",
        {
          root: this.#root,
          watchMode: this.#watchMode,
          services: this.size,
          endPoints: this.#tree.size,
          ms: Math.round(ms),
          sessionId: formatSessionId(pass.sessionId),
        },
      );
      this.#onSynced?.({ services: this.size, ms, sessionId: pass.sessionId });
    });
  }

  /** Resolves when no read is running or queued. */
  settled(): Promise<void> {
    return this.#serial.settled();
  }

  // ---- reacting to the session ----

  #onSessionChange(change: SessionStateChange): void {
    if (this.#stopped) return;
    if (change.state === "suspended") {
      // Keep every service: the registry going quiet is not the services going away.
      this.#synced = false;
      log.warn("ZooKeeper connection lost: keeping the {services} known services", {
        services: this.size,
        sessionId: formatSessionId(change.sessionId),
      });
    }
    if (change.state === "expired") this.#synced = false;
    if (change.state === "connected") this.resync();
  }

  // ---- the recursive watch ----

  /**
   * The full read under a recursive watch: the watch first (so nothing changing during the read
   * is missed), then the root's stat and listing, the end points' listings, and every service's
   * data in `multiRead` batches. No standard watch is set.
   */
  async #readTreeUnderWatch(): Promise<void> {
    const root = this.#root;
    const sessionId = this.#session.sessionId;
    if (this.#recursiveWatchSession !== sessionId) {
      const added = await this.#probe("addWatch", async () => {
        await this.#session.addWatch(root, "persistentRecursive", this.#onRecursiveEvent);
        return true;
      });
      if (!added) return;
      this.#recursiveWatchSession = sessionId;
    }
    const rootRead = await this.#probe("multiRead", () =>
      this.#session.multiRead([
        { type: "getData", path: root },
        { type: "getChildren", path: root },
      ]));
    if (!rootRead) return;
    if (this.#watchMode === "probing") {
      this.#watchMode = "recursiveWatch";
      this.#probeHangUps.clear();
      log.info("mirror of {root}: one persistent recursive watch (addWatch, multiRead)", { root });
    }
    const [data, listing] = rootRead;
    if ("error" in data || "error" in listing || listing.op !== "getChildren") {
      const error = "error" in data ? data.error : "error" in listing ? listing.error : undefined;
      if (error && !(error instanceof ZkNoNodeError)) throw error;
      // No root (yet, or any more): its creation is an event of the watch.
      this.#rootStat = null;
      for (const endPoint of [...this.#tree.keys()]) this.#dropEndPoint(endPoint);
      log.info("root {root} does not exist; waiting for it", { root });
      return;
    }
    if (data.op === "getData") this.#rootStat = { czxid: data.stat.czxid, mzxid: data.stat.mzxid };
    const endPoints = new Set(listing.children);
    for (const endPoint of [...this.#tree.keys()]) {
      if (!endPoints.has(endPoint)) this.#dropEndPoint(endPoint);
    }
    const toRead: { endPoint: string; service: string }[] = [];
    await Promise.all([...endPoints].map((endPoint) =>
      this.#reads.run(async () => {
        const path = childPath(root, endPoint);
        let children: string[];
        try {
          children = (await this.#session.getChildren(path)).children;
        } catch (error) {
          if (!(error instanceof ZkNoNodeError)) throw error;
          return this.#dropEndPoint(endPoint);
        }
        let services = this.#tree.get(endPoint);
        if (!services) this.#tree.set(endPoint, services = new Map());
        const listed = new Set(children);
        for (const service of [...services.keys()]) {
          if (!listed.has(service)) this.#removeInTurn(endPoint, service);
        }
        for (const service of children) toRead.push({ endPoint, service });
      })
    ));
    const batches = new Limiter(BATCHES_IN_FLIGHT);
    await Promise.all(
      inBatches(toRead, this.#batchSize).map((batch) =>
        batches.run(() => this.#readBatch(batch)).then(() => {})
      ),
    );
  }

  /** Reads services' data in one `multiRead`, and keeps what is new. */
  async #readBatch(batch: readonly { endPoint: string; service: string }[]): Promise<void> {
    let results;
    try {
      results = await this.#session.multiRead(
        batch.map(({ endPoint, service }) => ({
          type: "getData" as const,
          path: childPath(childPath(this.#root, endPoint), service),
        })),
      );
    } catch (error) {
      // Read again after the reconnection: in smaller batches, in case this one's answer was
      // what ended the connection (the same batch would end it again, for ever).
      if (error instanceof ZkConnectionLossError && batch.length > 1) {
        this.#batchSize = Math.min(this.#batchSize, Math.ceil(batch.length / 2));
      }
      throw error;
    }
    results.forEach((result, i) => {
      const { endPoint, service } = batch[i];
      const key = `svc:${endPoint}/${service}`;
      // An event of this service came before this answer and is still being handled: its work
      // runs first, then a read of our own (newer than this answer) settles the service.
      if (this.#serial.pending(key)) {
        return this.#schedule(key, () => this.#readServiceUnderWatch(endPoint, service));
      }
      if ("error" in result) {
        if (result.error instanceof ZkNoNodeError) return this.#remove(endPoint, service);
        // Read alone, retried on failure like every read, so the pass ends when it succeeds.
        return this.#schedule(key, () => this.#readServiceUnderWatch(endPoint, service));
      }
      if (result.op !== "getData") return;
      let services = this.#tree.get(endPoint);
      if (!services) this.#tree.set(endPoint, services = new Map());
      this.#store(services, endPoint, service, result.data, result.stat);
    });
  }

  /** One service's data, read without a watch (an event of the recursive watch asked for it). */
  async #readServiceUnderWatch(endPoint: string, service: string): Promise<void> {
    const path = childPath(childPath(this.#root, endPoint), service);
    let read;
    try {
      read = await this.#reads.run(() => this.#eventReads.getData(path));
    } catch (error) {
      if (!(error instanceof ZkNoNodeError)) throw error;
      return this.#remove(endPoint, service);
    }
    let services = this.#tree.get(endPoint);
    if (!services) this.#tree.set(endPoint, services = new Map());
    this.#store(services, endPoint, service, read.data, read.stat);
  }

  /** Removes a service now, or after the work of its key still running or waiting. */
  #removeInTurn(endPoint: string, service: string): void {
    const key = `svc:${endPoint}/${service}`;
    if (!this.#serial.pending(key)) return this.#remove(endPoint, service);
    this.#schedule(key, () => this.#readServiceUnderWatch(endPoint, service));
  }

  /**
   * Runs `addWatch` or `multiRead`; `undefined` when the server turned out not to know
   * it (UNIMPLEMENTED, or closing the connection right after reading it, again and again): the
   * mirror then falls back to one-shot watches and reads the tree that way. Other connection
   * losses (a request never written, an answer lost with a connection that ended later, a session
   * expiry) say nothing about the server.
   */
  async #probe<T>(operation: string, request: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await request();
      this.#probeHangUps.delete(operation);
      return result;
    } catch (error) {
      if (error instanceof ZkUnimplementedError) {
        this.#fallBack(`the server does not know ${operation} (UNIMPLEMENTED)`, "info");
        return undefined;
      }
      if (this.#watchMode === "probing" && error instanceof ZkHungUpAfterRequestError) {
        const hangUps = (this.#probeHangUps.get(operation) ?? 0) + 1;
        this.#probeHangUps.set(operation, hangUps);
        if (hangUps >= HANG_UPS_BEFORE_CLASSIC) {
          this.#fallBack(`the server hung up on ${operation} ${hangUps} times in a row`, "info");
          return undefined;
        }
      }
      throw error;
    }
  }

  /** An event of the recursive watch: one read, a removal, or a check of the root. */
  #onSubtreeEvent(event: ZkWatchEvent): void {
    if (this.#stopped || this.#watchMode === "oneShotWatches") return;
    if (event.path === this.#root) {
      const knownWhenSent = this.#rootStat;
      this.#schedule("root-event", () => this.#onRootEvent(event.type, knownWhenSent));
      return;
    }
    const relative = event.path.slice(this.#root.length + 1).split("/");
    if (relative.length === 1) {
      const [endPoint] = relative;
      // A new end point is empty (its services' creations are events of their own).
      if (event.type === "created" && !this.#tree.has(endPoint)) {
        this.#tree.set(endPoint, new Map());
      }
      if (event.type === "deleted") this.#dropEndPoint(endPoint);
    } else if (relative.length === 2) {
      const [endPoint, service] = relative;
      this.#schedule(
        `svc:${endPoint}/${service}`,
        event.type === "deleted"
          ? () => Promise.resolve(this.#remove(endPoint, service))
          : () => this.#readServiceUnderWatch(endPoint, service),
      );
    }
  }

  /**
   * An event naming the root. Checked against the root's stat: a root that was neither
   * created, deleted nor changed did not have it, so the server names the watched path for
   * changes below it (ClickHouse Keeper) and the recursive watch cannot say what changed.
   */
  async #onRootEvent(
    type: ZkWatchEvent["type"],
    known: RootStat | null | undefined,
  ): Promise<void> {
    const stat = await this.#session.exists(this.#root); // no watch: see the module's notes
    const now = stat && { czxid: stat.czxid, mzxid: stat.mzxid };
    if (this.#watchMode === "oneShotWatches") return;
    if (eventNotAboutRoot(type, known, now)) {
      this.#fallBack(
        `an event named the watched root ${this.#root} (${type}) for a change the root did not ` +
          "have: this server's recursive-watch events do not say which node changed " +
          "(ClickHouse Keeper, ClickHouse issue 115475)",
        "warn",
      );
      return;
    }
    this.#rootStat = now;
    if (type === "created" || type === "deleted" || known === undefined) {
      this.#schedule("root", () => this.#readTreeUnderWatch());
    }
  }

  /** Switches to one-shot watches for good, says why once, and reads the tree that way. */
  #fallBack(reason: string, level: "info" | "warn"): void {
    if (this.#watchMode === "oneShotWatches") return;
    this.#watchMode = "oneShotWatches";
    const properties = { root: this.#root, reason };
    const line = "mirror of {root}: one-shot watches from now on, because {reason}";
    if (level === "warn") log.warn(line, properties);
    else log.info(line, properties);
    if (this.#recursiveWatchSession !== 0n) this.#dropRecursiveWatch();
    this.resync();
  }

  #dropRecursiveWatch(): void {
    this.#recursiveWatchSession = 0n;
    // Best effort: a server that cannot remove it is left with a watch nobody listens to.
    this.#session.removeWatch(this.#root, "persistentRecursive", this.#onRecursiveEvent)
      .catch(() => {});
  }

  // ---- reading the three levels ----

  /** Lists the root's end points (and, after a resync request, everything below). */
  async #refreshRoot(): Promise<void> {
    const root = this.#root;
    const deep = this.#deep.delete("root");
    let children: string[];
    try {
      children = (await this.#read("children", root, (w) => this.#session.getChildren(root, w)))
        .children;
    } catch (error) {
      if (!(error instanceof ZkNoNodeError)) throw error;
      // No root (yet, or any more): nothing is registered; wait for it to appear.
      for (const endPoint of [...this.#tree.keys()]) this.#dropEndPoint(endPoint);
      const stat = await this.#read("exists", root, (w) => this.#session.exists(root, w));
      if (stat) {
        this.#deep.add("root"); // created meanwhile
        this.#schedule("root", () => this.#refreshRoot());
      } else {
        log.info("root {root} does not exist; waiting for it", { root });
      }
      return;
    }
    const current = new Set(children);
    for (const endPoint of [...this.#tree.keys()]) {
      if (!current.has(endPoint)) this.#dropEndPoint(endPoint);
    }
    for (const endPoint of current) {
      const known = this.#tree.has(endPoint);
      if (!known) this.#tree.set(endPoint, new Map());
      if (known && !deep) continue;
      const key = `ep:${endPoint}`;
      if (deep) this.#deep.add(key);
      this.#schedule(key, () => this.#refreshEndPoint(endPoint));
    }
  }

  /** Lists an end point's services (and, after a resync request, re-reads each one). */
  async #refreshEndPoint(endPoint: string): Promise<void> {
    const deep = this.#deep.delete(`ep:${endPoint}`);
    const services = this.#tree.get(endPoint);
    if (!services) return; // dropped meanwhile
    const path = childPath(this.#root, endPoint);
    let children: string[];
    try {
      children = (await this.#read("children", path, (w) => this.#session.getChildren(path, w)))
        .children;
    } catch (error) {
      if (!(error instanceof ZkNoNodeError)) throw error;
      this.#dropEndPoint(endPoint);
      return;
    }
    if (this.#tree.get(endPoint) !== services) return;
    const current = new Set(children);
    for (const service of [...services.keys()]) {
      if (!current.has(service)) this.#remove(endPoint, service);
    }
    for (const service of current) {
      const key = `svc:${endPoint}/${service}`;
      // A service with a read or a removal still to run (a deletion event queued behind a read
      // in flight) is read again: listed now, it may have been deleted and re-created (a new
      // czxid), and a removal running after this listing would otherwise lose the new node.
      if (!services.has(service) || deep || this.#serial.pending(key)) {
        this.#schedule(key, () => this.#refreshService(endPoint, service));
      }
    }
  }

  /** Reads one service's data. */
  async #refreshService(endPoint: string, service: string): Promise<void> {
    const path = childPath(childPath(this.#root, endPoint), service);
    let read;
    try {
      read = await this.#read("data", path, (w) => this.#session.getData(path, w));
    } catch (error) {
      if (!(error instanceof ZkNoNodeError)) throw error;
      this.#remove(endPoint, service); // gone between the listing and the read
      return;
    }
    const services = this.#tree.get(endPoint);
    if (!services) return;
    this.#store(services, endPoint, service, read.data, read.stat);
  }

  /** Keeps a service as read, and reports it unless it is the same node at the same version. */
  #store(
    services: Map<string, MirroredService>,
    endPoint: string,
    service: string,
    data: Uint8Array,
    stat: ZkStat,
  ): void {
    const known = services.get(service);
    if (known && known.czxid === stat.czxid && stat.mzxid <= known.mzxid) return; // nothing new
    if (known && stat.czxid < known.czxid) return; // an older node's read, answered late
    const entry: MirroredService = {
      endPoint,
      service,
      data,
      czxid: stat.czxid,
      mzxid: stat.mzxid,
      ephemeral: stat.ephemeralOwner !== 0n,
      children: stat.numChildren,
    };
    services.set(service, entry);
    this.#emit({ type: "set", key: serviceKey(endPoint, service), service: entry });
  }

  #dropEndPoint(endPoint: string): void {
    const services = this.#tree.get(endPoint);
    if (!services) return;
    for (const service of [...services.keys()]) this.#remove(endPoint, service);
    this.#tree.delete(endPoint);
  }

  #remove(endPoint: string, service: string): void {
    const services = this.#tree.get(endPoint);
    if (!services?.delete(service)) return;
    this.#emit({ type: "remove", key: serviceKey(endPoint, service), endPoint, service });
  }

  #emit(change: MirrorChange): void {
    try {
      this.#onChange(change);
    } catch (error) {
      log.error("a mirror listener failed on {key}: {error}", {
        key: change.key,
        error: String(error),
      });
    }
  }

  /** Runs `read` for `key` now, or once more after the current run; failures are retried. */
  #schedule(key: string, read: () => Promise<void>, retry = false): void {
    if (this.#stopped) return;
    const pass = this.#pass;
    const counted = async () => {
      try {
        await read();
      } catch (error) {
        // Counted before the run settles, so a pass waiting for the serial to be idle sees it.
        if (!retry && pass === this.#pass) this.#unretried++;
        throw error;
      }
    };
    this.#serial.run(key, counted).then(() => {
      this.#readFailures.delete(key);
      if (!retry || pass !== this.#pass) return;
      // The failed read of this pass is read now: the pass may be complete.
      this.#unretried--;
      if (this.#unretried === 0 && pass && !pass.done) this.#completeWhenSettled(pass);
    }, (error) => {
      if (this.#stopped) return;
      if (this.#session.state !== "connected") return; // the reconnection's resync covers it
      log.warn("reading {key} failed, retrying: {error}", { key, error: String(error) });
      const failures = (this.#readFailures.get(key) ?? 0) + 1;
      this.#readFailures.set(key, failures);
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        // A level that failed is re-read in full, so nothing below it is missed.
        if (key === "root" || key.startsWith("ep:")) this.#deep.add(key);
        this.#schedule(key, read, true);
      }, backoffMs(failures, RETRY_BACKOFF));
      this.#retryTimers.add(timer);
    });
  }

  /**
   * Runs a read with a watcher for `kind:path`, unless one is already armed in this session
   * (watches are one-shot; the library would pile up a listener per read). A failed read sets no
   * watch, so it disarms.
   */
  async #read<T>(
    kind: "children" | "exists" | "data",
    path: string,
    request: (watcher: ZkWatcher | undefined) => Promise<T>,
  ): Promise<T> {
    const sessionId = this.#session.sessionId;
    if (sessionId !== this.#watchSession) {
      this.#armed = new Set(); // a new session has no watches
      this.#watchSession = sessionId;
    }
    return await this.#reads.run(async () => {
      const id = `${kind}:${path}`;
      if (this.#armed.has(id)) return await request(undefined);
      const armed = this.#armed;
      armed.add(id);
      try {
        return await request((event) => {
          armed.delete(id);
          if (!this.#stopped) this.#onWatch(kind, path, event.type);
        });
      } catch (error) {
        armed.delete(id);
        throw error;
      }
    });
  }

  #onWatch(kind: "children" | "exists" | "data", path: string, type: string): void {
    if (path === this.#root) {
      if (type === "created") this.#deep.add("root");
      this.#schedule("root", () => this.#refreshRoot());
      return;
    }
    const relative = path.slice(this.#root.length + 1).split("/");
    if (relative.length === 1) {
      const [endPoint] = relative;
      this.#schedule(`ep:${endPoint}`, () => this.#refreshEndPoint(endPoint));
    } else if (relative.length === 2 && kind === "data") {
      const [endPoint, service] = relative;
      // Gone: no read needed (a burst of closing sessions would pay a failed read each); still
      // in turn after a read of it in flight, whose answer came before this event.
      this.#schedule(
        `svc:${endPoint}/${service}`,
        type === "deleted"
          ? () => Promise.resolve(this.#remove(endPoint, service))
          : () => this.#refreshService(endPoint, service),
      );
    }
  }
}

/** Between failed reads of one level or service while connected. */
const RETRY_BACKOFF = { baseMs: 2000, maxMs: 10_000 };

/** One full read of the tree, in one session. */
interface ReadPass {
  started: number;
  sessionId: bigint;
  done: boolean;
}
