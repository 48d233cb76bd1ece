/**
 * A ZooKeeper session that stays alive: explicit states, a watchdog against silent servers, a
 * fresh session after expiry, and a promise API over `Uint8Array` with a timeout on every request.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ZkConnection, type ZkConnectionEvent } from "./connection.ts";
import type { ZkConnectionFailure, ZkTlsOptions } from "./socket.ts";
import { ZkClosedError, ZkNodeExistsError, ZkTimeoutError } from "./errors.ts";
import {
  formatSessionId,
  OPEN_ACL,
  type ZkAclEntry,
  type ZkCreateMode,
  type ZkOp,
  type ZkPersistentWatchKind,
  type ZkReadOp,
  type ZkReadResult,
  type ZkStat,
  type ZkWatcher,
} from "./types.ts";
import { deleteRecursive } from "./delete_recursive.ts";

const log = getLogger(["zkcm", "session"]);

/**
 * Where the session stands:
 * - `connecting`: no session yet (start-up, or a new session being made after expiry);
 * - `connected`: a live session on a live connection;
 * - `suspended`: the connection dropped; the session may still live on the server, so state
 *   derived from it (ephemerals, watches) is not to be thrown away yet;
 * - `expired`: the server ended the session; its ephemerals and watches are gone. A new session
 *   follows at once (`connecting`, then `connected` with `newSession: true`);
 * - `closed`: closed by its owner, or the server refused our credentials. Final.
 */
export type SessionState = "connecting" | "connected" | "suspended" | "expired" | "closed";

/** One change of {@link SessionState}. */
export interface SessionStateChange {
  /** The state now. */
  state: SessionState;
  /** The state before the change. */
  previous: SessionState;
  /** The session the change is about (`0n` before the first one). */
  sessionId: bigint;
  /**
   * `true` when `state` is `connected` and the session is new (the first, or one made after
   * expiry): ephemerals must be re-created and everything watched must be re-read.
   */
  newSession: boolean;
  /** For `connected` after `suspended`: how long the connection was down. */
  suspendedForMs: number;
  /** `host:port` of the server, when connected. */
  server?: string;
  /** Why the session is closed, when it did not close at its owner's request. */
  reason?: string;
}

/** Options of {@link ZkSession.open}. */
export interface ZkSessionOptions {
  /** `host:port[,host:port...][/chroot]` */
  connectionString: string;
  /** Requested session timeout; the server grants a value within its min/max. Default 10 s. */
  sessionTimeoutMs?: number;
  /** How long a request may wait for its answer (also while disconnected). Default 10 s. */
  requestTimeoutMs?: number;
  /** Digest credentials `user:password` (`ZK_AUTH`), applied on every connection and session. */
  digestAuth?: string;
  /** Longest random pause after every server was tried without success. Default 500 ms. */
  spinDelayMs?: number;
  /** TLS to every server (`secureClientPort`); absent: plain TCP. */
  tls?: ZkTlsOptions;
  /** Monotonic clock in milliseconds. Default `performance.now`. */
  now?: () => number;
}

/** Options of {@link ZkSession.create}. */
export interface CreateOptions {
  /** Persistent (default), ephemeral, and either of them sequential. */
  mode?: ZkCreateMode;
  /** The new znode's ACL; default: open to everyone (`world:anyone`, all permissions). */
  acl?: readonly ZkAclEntry[];
}

interface PendingRequest {
  reject(error: Error): void;
  /** When it times out, on the session's clock. */
  deadline: number;
  path?: string;
}

/**
 * The project's ZooKeeper session. Construct with {@link ZkSession.open}; it connects in the
 * background and keeps a session alive until {@link ZkSession.close}.
 *
 * @example
 * ```ts
 * const session = ZkSession.open({ connectionString: "127.0.0.1:2181" });
 * session.onStateChange((change) => {
 *   if (change.newSession) reRegisterEverything();
 * });
 * await session.waitUntilConnected({ timeoutMs: 5000 });
 * await session.create("/cluster1/node1/svc", new TextEncoder().encode("host:9000"), {
 *   mode: "ephemeral",
 * });
 * await session.close();
 * ```
 */
export class ZkSession implements AsyncDisposable {
  readonly #options:
    & Required<Omit<ZkSessionOptions, "digestAuth" | "tls">>
    & Pick<ZkSessionOptions, "digestAuth" | "tls">;
  readonly #listeners = new Set<(change: SessionStateChange) => void>();
  readonly #failureListeners = new Set<(failure: ZkConnectionFailure) => void>();
  readonly #pending = new Set<PendingRequest>();
  #client: ZkConnection;
  #state: SessionState = "connecting";
  #sessionId = 0n;
  #suspendedSince = 0;
  #watchdog?: ReturnType<typeof setInterval>;
  #closing?: Promise<void>;
  readonly #closed = Promise.withResolvers<void>();

  private constructor(options: ZkSessionOptions) {
    this.#options = {
      sessionTimeoutMs: 10_000,
      requestTimeoutMs: 10_000,
      spinDelayMs: 500,
      now: () => performance.now(),
      ...options,
    };
    this.#client = this.#newClient();
  }

  /** Creates a session and starts connecting; listen with {@link onStateChange}. */
  static open(options: ZkSessionOptions): ZkSession {
    const session = new ZkSession(options);
    session.#startWatchdog();
    session.#client.connect();
    return session;
  }

  /** Resolves once the session is `closed`: by its owner, or because credentials were refused. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** The current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** The current session's id (`0n` before the first connection). */
  get sessionId(): bigint {
    return this.#sessionId;
  }

  /** The session timeout the server granted (the requested one until then). */
  get sessionTimeoutMs(): number {
    return this.#client.sessionTimeoutMs;
  }

  /** `host:port` of the server the connection goes to, if any. */
  get server(): string | undefined {
    return this.#client.server;
  }

  /** How long the session has been suspended (0 unless `suspended`). */
  suspendedForMs(): number {
    return this.#state === "suspended" ? this.#options.now() - this.#suspendedSince : 0;
  }

  /** The id and password of the current session: what a tool needs to attach to it. */
  credentials(): { sessionId: bigint; password: Uint8Array } {
    return { sessionId: this.#client.sessionId, password: this.#client.sessionPassword };
  }

  /**
   * Calls `listener` on every failed attempt to reach a server and every connection that ended
   * other than by {@link close} (refused, timed out, unresolved, TLS, credentials, expired, reset);
   * returns the function that stops it.
   */
  onConnectionFailure(listener: (failure: ZkConnectionFailure) => void): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  /** Calls `listener` on every state change; returns the function that stops it. */
  onStateChange(listener: (change: SessionStateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The state changes as an async iterator, from now until `closed` or until `signal` aborts.
   */
  async *stateChanges(signal?: AbortSignal): AsyncGenerator<SessionStateChange> {
    const queue: SessionStateChange[] = [];
    let wake: (() => void) | undefined;
    const stop = this.onStateChange((change) => {
      queue.push(change);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      while (!signal?.aborted) {
        const change = queue.shift();
        if (change) {
          yield change;
          if (change.state === "closed") return;
          continue;
        }
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
    } finally {
      stop();
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Resolves once `connected`; rejects on timeout, abort, or when the session is closed. */
  waitUntilConnected(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (this.#state === "connected") return Promise.resolve();
    if (this.#state === "closed") return Promise.reject(new ZkClosedError("session closed"));
    return new Promise((resolve, reject) => {
      const finish = (error?: Error) => {
        stop();
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      };
      const stop = this.onStateChange((change) => {
        if (change.state === "connected") finish();
        else if (change.state === "closed") finish(new ZkClosedError("session closed"));
      });
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(
        () =>
          finish(
            new ZkTimeoutError(
              `not connected to ZooKeeper (${this.#options.connectionString}) within ${options.timeoutMs} ms`,
            ),
          ),
        options.timeoutMs,
      );
      const onAbort = () => finish(new ZkClosedError("wait aborted"));
      options.signal?.addEventListener("abort", onAbort);
    });
  }

  // ---- requests ----

  /** Creates a znode; returns its path (with the sequence suffix for sequential modes). */
  create(
    path: string,
    data: Uint8Array = new Uint8Array(),
    options: CreateOptions = {},
  ): Promise<string> {
    return this.#request(
      path,
      (client) => client.create(path, data, options.acl ?? OPEN_ACL, options.mode ?? "persistent"),
    );
  }

  /** Deletes a znode (only at `version`, when given). */
  delete(path: string, version = -1): Promise<void> {
    return this.#request(path, (client) => client.remove(path, version));
  }

  /**
   * Deletes a znode and everything under it, also when children appear meanwhile. Resolves
   * `false` when the znode did not exist.
   */
  deleteRecursive(path: string): Promise<boolean> {
    return deleteRecursive(this, path);
  }

  /** Reads a znode's data and stat; `watcher` fires once on its change or deletion. */
  getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }> {
    return this.#request(path, (client) => client.getData(path, watcher));
  }

  /** Replaces a znode's data (only at `version`, when given). */
  setData(path: string, data: Uint8Array, version = -1): Promise<ZkStat> {
    return this.#request(path, (client) => client.setData(path, data, version));
  }

  /**
   * The znode's stat, or `null` when it does not exist; `watcher` fires once on its creation,
   * change or deletion.
   */
  exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null> {
    return this.#request(path, (client) => client.exists(path, watcher));
  }

  /** A znode's children names (unsorted) and its stat; `watcher` fires once on a change. */
  getChildren(path: string, watcher?: ZkWatcher): Promise<{ children: string[]; stat: ZkStat }> {
    return this.#request(path, (client) => client.getChildren(path, watcher));
  }

  /** A znode's ACL. */
  getAcl(path: string): Promise<ZkAclEntry[]> {
    return this.#request(path, (client) => client.getAcl(path));
  }

  /**
   * Reads many znodes in one request (ZooKeeper 3.6+, `multiRead`), without watches; each read
   * succeeds or fails on its own. Keep batches to tens or a few hundred reads (the reply must stay
   * under the server's `jute.maxbuffer`). A server that does not know `multiRead` makes it reject.
   *
   * @example
   * ```ts
   * const [a, b] = await session.multiRead([
   *   { type: "getData", path: "/cluster1/node1/svc" },
   *   { type: "getChildren", path: "/cluster1" },
   * ]);
   * if (a.op === "getData" && !("error" in a)) use(a.data, a.stat);
   * ```
   */
  multiRead(ops: readonly ZkReadOp[]): Promise<ZkReadResult[]> {
    return this.#request(ops[0]?.path, (client) => client.multiRead(ops));
  }

  /**
   * Adds a persistent watch (ZooKeeper 3.6+, `addWatch`): `listener` receives every event on
   * `path` (`"persistent"`), or on `path` and every node under it (`"persistentRecursive"`:
   * created, deleted and dataChanged, never childrenChanged), until {@link removeWatch}. It is
   * re-registered after every reconnect (SetWatches2); events missed while disconnected are not
   * replayed, so re-read on `connected`. A new session (`newSession`) starts without it: add it
   * again. Rejects on a server that does not know `addWatch`.
   */
  addWatch(path: string, kind: ZkPersistentWatchKind, listener: ZkWatcher): Promise<void> {
    return this.#request(path, (client) => client.addWatch(path, kind, listener));
  }

  /** Stops a listener added with {@link addWatch}. */
  removeWatch(path: string, kind: ZkPersistentWatchKind, listener: ZkWatcher): Promise<void> {
    return this.#request(path, (client) => client.removeWatch(path, kind, listener));
  }

  /** Applies all operations atomically, or none. */
  multi(ops: readonly ZkOp[]): Promise<void> {
    return this.#request(ops[0]?.path, (client) => client.multi(ops));
  }

  /**
   * Creates `path` and its missing ancestors as persistent znodes with empty data; existing ones
   * are left alone.
   */
  async ensurePath(path: string, options: { acl?: readonly ZkAclEntry[] } = {}): Promise<void> {
    if (await this.exists(path)) return;
    const segments = path.split("/").filter(Boolean);
    for (let depth = 1; depth <= segments.length; depth++) {
      const prefix = "/" + segments.slice(0, depth).join("/");
      try {
        await this.create(prefix, new Uint8Array(), { acl: options.acl });
      } catch (error) {
        if (!(error instanceof ZkNodeExistsError)) throw error;
      }
    }
  }

  /**
   * Ends the session: the server deletes its ephemerals at once. Pending requests fail with
   * {@link ZkClosedError}. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    clearInterval(this.#watchdog);
    const sessionId = this.#sessionId;
    this.#setState("closed", { sessionId });
    for (const pending of this.#pending) pending.reject(new ZkClosedError("session closed"));
    this.#pending.clear();
    await this.#client.close(Math.min(1000, this.#client.sessionTimeoutMs / 2));
    this.#listeners.clear();
    this.#failureListeners.clear();
  }

  #request<T>(path: string | undefined, run: (client: ZkConnection) => Promise<T>): Promise<T> {
    if (this.#state === "closed") {
      return Promise.reject(new ZkClosedError("session closed", 0, path));
    }
    return new Promise<T>((resolve, reject) => {
      // No timer per request (a resync makes thousands): the session's ticker times them out.
      const pending: PendingRequest = {
        reject,
        deadline: this.#options.now() + this.#options.requestTimeoutMs,
        path,
      };
      this.#pending.add(pending);
      const settle = () => this.#pending.delete(pending);
      run(this.#client).then(
        (value) => settle() && resolve(value),
        (error) => settle() && reject(error),
      );
    });
  }

  // ---- state machine ----

  #newClient(): ZkConnection {
    const client: ZkConnection = new ZkConnection({
      connectionString: this.#options.connectionString,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      spinDelayMs: this.#options.spinDelayMs,
      digestAuth: this.#options.digestAuth,
      tls: this.#options.tls,
      now: this.#options.now,
      onEvent: (event) => {
        if (client === this.#client) this.#onConnectionEvent(event);
      },
      onConnectionFailure: (failure) => {
        if (client === this.#client && this.#state !== "closed") this.#reportFailure(failure);
      },
      onProtocolError: (error, server) =>
        log.warn("unexpected answer from ZooKeeper {server}, reconnecting: {error}", {
          server,
          error: String(error),
        }),
      onWatcherError: (error, event) =>
        log.error("a watcher failed on {path} ({type}): {error}", {
          path: event.path,
          type: event.type,
          error: String(error),
        }),
    });
    return client;
  }

  #onConnectionEvent(event: ZkConnectionEvent): void {
    if (this.#state === "closed") return;
    switch (event.type) {
      case "connected": {
        const sessionId = this.#client.sessionId;
        const newSession = this.#state === "connecting" || sessionId !== this.#sessionId;
        const suspendedForMs = this.suspendedForMs();
        this.#sessionId = sessionId;
        this.#setState("connected", { sessionId, newSession, suspendedForMs, server: this.server });
        break;
      }
      case "disconnected":
        if (this.#state === "connected") {
          this.#suspendedSince = this.#options.now();
          this.#setState("suspended", { sessionId: this.#sessionId });
        }
        break;
      case "expired":
        if (event.reason) {
          log.warn("{reason}", {
            reason: event.reason,
            sessionId: formatSessionId(this.#sessionId),
          });
        }
        void this.#replaceExpiredSession();
        break;
      case "authFailed":
        this.#setState("closed", { sessionId: this.#sessionId, reason: "authentication failed" });
        void this.close();
        break;
    }
  }

  async #replaceExpiredSession(): Promise<void> {
    const expired = this.#client;
    this.#setState("expired", { sessionId: this.#sessionId });
    this.#client = this.#newClient();
    this.#setState("connecting", { sessionId: this.#sessionId });
    await expired.dispose();
    if (this.#state !== "closed") this.#client.connect();
  }

  /**
   * Times out overdue requests, and leaves a server that has gone silent. Both are judged only over
   * time this process could run: a tick that comes late was held up by our own event loop (a long
   * synchronous task, a GC pause, a starved CPU), during which nothing could be read.
   */
  #startWatchdog(): void {
    const checkEveryMs = Math.max(
      20,
      Math.floor(Math.min(this.#options.sessionTimeoutMs / 10, this.#options.requestTimeoutMs / 5)),
    );
    let lastTickAt = this.#options.now();
    // Silence is counted from the last packet, moved on by every local stall since.
    let silentSince = -Infinity;
    this.#watchdog = setInterval(() => {
      const now = this.#options.now();
      const stalledForMs = now - lastTickAt - checkEveryMs;
      lastTickAt = now;
      const client = this.#client;
      if (stalledForMs > checkEveryMs) {
        // Answers may be waiting in the socket: give the reader a turn before judging anything.
        silentSince = Math.min(now, Math.max(silentSince, client.lastReceivedAt) + stalledForMs);
        for (const pending of this.#pending) pending.deadline += stalledForMs;
        return;
      }
      this.#timeOutOverdueRequests();
      if (!client.hasSocket) return;
      const silentForMs = now - Math.max(silentSince, client.lastReceivedAt);
      const limitMs = (client.sessionTimeoutMs * 2) / 3;
      if (silentForMs > limitMs) {
        // Reported as the attempt's failure (a warning, rate-limited by whoever listens).
        log.debug("ZooKeeper server {server} silent for {silentForMs} ms, trying another", {
          server: client.server,
          silentForMs: Math.round(silentForMs),
          sessionId: formatSessionId(this.#sessionId),
        });
        client.dropConnection({
          kind: "timeout",
          reason: this.#state === "connected"
            ? `no answer for ${Math.round(silentForMs)} ms (limit ${Math.round(limitMs)} ms)`
            : `no answer to the session request within ${Math.round(silentForMs)} ms`,
        });
      }
    }, checkEveryMs);
  }

  #timeOutOverdueRequests(): void {
    const now = this.#options.now();
    // Requests made this long ago have timed out (below, or already): never send them.
    this.#client.dropQueuedBefore(now - this.#options.requestTimeoutMs);
    for (const pending of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(pending);
      pending.reject(
        new ZkTimeoutError(
          `no answer within ${this.#options.requestTimeoutMs} ms`,
          0,
          pending.path,
        ),
      );
    }
  }

  #reportFailure(failure: ZkConnectionFailure): void {
    log.debug("ZooKeeper connection failure ({kind}) at {server}: {reason}", { ...failure });
    for (const listener of [...this.#failureListeners]) {
      try {
        listener(failure);
      } catch (error) {
        log.error("a connection failure listener failed: {error}", { error: String(error) });
      }
    }
  }

  #setState(
    state: SessionState,
    details: Partial<SessionStateChange> & { sessionId: bigint },
  ): void {
    const previous = this.#state;
    if (previous === state && state !== "connected") return;
    this.#state = state;
    if (state === "closed") this.#closed.resolve();
    const change: SessionStateChange = {
      state,
      previous,
      newSession: false,
      suspendedForMs: 0,
      ...details,
    };
    logStateChange(change);
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        log.error("a session state listener failed: {error}", { error: String(error) });
      }
    }
  }
}

function logStateChange(change: SessionStateChange): void {
  const properties = {
    state: change.state,
    previous: change.previous,
    sessionId: formatSessionId(change.sessionId),
    newSession: change.newSession,
    suspendedForMs: Math.round(change.suspendedForMs),
    server: change.server,
    reason: change.reason,
  };
  if (change.state === "connected") {
    // Debug: the programs' info line (with how long it took) comes from their reachability report.
    log.debug(
      change.newSession
        ? "ZooKeeper session {sessionId} established with {server}"
        : "ZooKeeper session {sessionId} reconnected to {server} after {suspendedForMs} ms",
      properties,
    );
  } else if (change.state === "closed" && change.reason) {
    log.error("ZooKeeper session closed: {reason}", properties);
  } else if (change.sessionId === 0n) {
    // No session ever existed: "session 0x0" would name one that never was.
    log.info("closed before a ZooKeeper session was established", {
      state: change.state,
      previous: change.previous,
    });
  } else {
    log.info("ZooKeeper session {sessionId} is {state}", properties);
  }
}
