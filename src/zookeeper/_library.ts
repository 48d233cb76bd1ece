/**
 * The project's one door to node-zookeeper-client: nothing else imports the library.
 *
 * The library speaks ZooKeeper's 3.4-era protocol well enough, but has traps this adapter closes:
 * - data handed over as a `Uint8Array` that is not a `Buffer` is silently stored empty: we always
 *   pass a `Buffer` view;
 * - on reconnect it re-sends every watch in one SetWatches packet, and a packet over ~1 MiB makes the
 *   server drop the connection, forever: we send them in chunks of at most 128 KiB, as the Java
 *   client does;
 * - an answer it does not understand (an unknown error code, an unknown event type) throws from a
 *   socket callback and would kill the process: we catch it and reconnect;
 * - it opens sockets itself and retries on timers nobody can cancel: we replace its `connect` so
 *   sockets come from {@link openZkSocket} and every timer is ours to clear;
 * - it has no notion of a silent server: we record when bytes last arrived, for the watchdog;
 * - it swallows why a connection failed (refused, name not resolved, closed by the server): we
 *   report every failed attempt with the system's reason.
 *
 * @module
 */
import zookeeper from "node-zookeeper-client";
import jute from "node-zookeeper-client/lib/jute/index.js";
import pathModule from "node-zookeeper-client/lib/Path.js";
import { Buffer } from "node:buffer";
import type net from "node:net";
import { batchWrites } from "./_write_batcher.ts";
import { describeSocketError, openZkSocket, type ZkServerAddress } from "./socket.ts";
import type { ZkConnectionFailure } from "./session.ts";
import { formatSessionId } from "./types.ts";
import { type JuteClasses, speedUpJute } from "./_jute_fast.ts";
import { type PathModule, speedUpPathValidation } from "./_path_validate.ts";
import { ZkError, zkErrorFromCode } from "./errors.ts";
import type { ZkAclEntry, ZkCreateMode, ZkOp, ZkStat, ZkWatcher, ZkWatchEvent } from "./types.ts";

// ---- the shapes of the library we rely on (it ships no types) ----

interface LibError extends Error {
  code: number;
}
type Callback<T> = (error: LibError | null, result: T, extra?: unknown) => void;
interface LibStat {
  czxid: Buffer;
  mzxid: Buffer;
  pzxid: Buffer;
  ctime: Buffer;
  mtime: Buffer;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: Buffer;
  dataLength: number;
  numChildren: number;
}
interface LibEvent {
  getType(): number;
  getPath(): string;
}
type LibWatcher = (event: LibEvent) => void;
interface LibTransaction {
  create(path: string, data: Buffer | undefined, acls: unknown[], mode: number): LibTransaction;
  remove(path: string, version: number): LibTransaction;
  setData(path: string, data: Buffer, version: number): LibTransaction;
  check(path: string, version: number): LibTransaction;
  commit(callback: Callback<unknown>): void;
}
interface LibConnectionManager {
  servers: ZkServerAddress[];
  nextServerIndex: number;
  serverAttempts: number;
  spinDelay: number;
  connectTimeout: number;
  sessionTimeout: number;
  chrootPath?: string;
  zxid: Buffer;
  sessionId: Buffer;
  sessionPassword: Buffer;
  credentials: { scheme: string; auth: Buffer }[];
  socket?: net.Socket;
  state: number;
  watcherManager: {
    isEmpty(): boolean;
    getDataWatcherPaths(): string[];
    getExistenceWatcherPaths(): string[];
    getChildWatcherPaths(): string[];
  };
  setState(state: number): void;
  queue(request: unknown, callback?: Callback<unknown>): void;
  registerDataWatcher(path: string, watcher: LibWatcher): void;
  registerChildWatcher(path: string, watcher: LibWatcher): void;
  connect(): void;
  close(): void;
  onSocketData(chunk: Buffer): void;
  onSocketDrain(): void;
  onSocketClosed(): void;
  on(event: "state", listener: (state: number) => void): void;
}
interface LibClient {
  connectionManager: LibConnectionManager;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(path: string, data: Buffer, acls: unknown[], mode: number, cb: Callback<string>): void;
  remove(path: string, version: number, cb: Callback<void>): void;
  getData(path: string, watcher: LibWatcher | undefined, cb: Callback<Buffer | null>): void;
  setData(path: string, data: Buffer, version: number, cb: Callback<LibStat>): void;
  exists(path: string, watcher: LibWatcher | undefined, cb: Callback<LibStat | null>): void;
  getChildren(path: string, watcher: LibWatcher | undefined, cb: Callback<string[]>): void;
  getACL(path: string, cb: Callback<{ perms: number; id: { scheme: string; id: string } }[]>): void;
  transaction(): LibTransaction;
  removeAllListeners(): void;
}
interface LibModule {
  createClient(
    connectionString: string,
    options: { sessionTimeout: number; spinDelay: number; retries: number },
  ): LibClient;
  ACL: new (perms: number, id: unknown) => unknown;
  Id: new (scheme: string, id: string) => unknown;
}
interface JuteRecord {
  [field: string]: unknown;
  setChrootPath(path: string | undefined): void;
}
interface JuteModule {
  PROTOCOL_VERSION: number;
  OP_CODES: Record<string, number>;
  XID_AUTHENTICATION: number;
  Request: new (header: JuteRecord | null, payload: JuteRecord | null) => { toBuffer(): Buffer };
  protocol: Record<string, new (...args: unknown[]) => JuteRecord>;
}

const lib = zookeeper as unknown as LibModule;
const juteLib = jute as unknown as JuteModule;
speedUpJute(jute as unknown as JuteClasses);
speedUpPathValidation(pathModule as unknown as PathModule);

/** The connection manager's states, as the library numbers them. */
const CM = {
  DISCONNECTED: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  CONNECTED_READ_ONLY: 3,
  CLOSING: -1,
  CLOSED: -2,
  SESSION_EXPIRED: -3,
  AUTHENTICATION_FAILED: -4,
} as const;

/** A failure before the adapter knows which server it is about. */
type Failure = Pick<ZkConnectionFailure, "kind" | "reason">;

/** What the adapter reports to its owner. */
export type LibraryEvent =
  | "connected"
  | "disconnected"
  | "expired"
  | "authFailed"
  | "closed";

/** The most bytes of watch paths one SetWatches packet carries (the Java client's limit). */
export const SET_WATCHES_MAX_BYTES = 128 * 1024;

const createModes: Record<ZkCreateMode, number> = {
  persistent: 0,
  ephemeral: 1,
  persistent_sequential: 2,
  ephemeral_sequential: 3,
};

const watchEventTypes: Record<number, ZkWatchEvent["type"]> = {
  1: "created",
  2: "deleted",
  3: "dataChanged",
  4: "childrenChanged",
};

/** Options of one library client: one ZooKeeper session at most. */
export interface LibraryClientOptions {
  connectionString: string;
  sessionTimeoutMs: number;
  spinDelayMs: number;
  /** `user:password` for the digest scheme, sent on every connection. */
  digestAuth?: string;
  onEvent: (event: LibraryEvent) => void;
  /** Receives errors the library would otherwise have thrown from a socket callback. */
  onInternalError: (error: unknown) => void;
  /** Receives errors thrown by a caller's watcher. */
  onWatcherError: (error: unknown, event: ZkWatchEvent) => void;
  /** Told of every failed attempt to connect or to keep a session, before the state change. */
  onConnectionFailure: (failure: ZkConnectionFailure) => void;
  now: () => number;
}

/**
 * One library client, patched as described in the module doc. It lives for one session: after
 * expiry it is disposed of and a new one is made.
 */
export class LibraryClient {
  readonly #client: LibClient;
  readonly #cm: LibConnectionManager;
  readonly #options: LibraryClientOptions;
  #socket?: net.Socket;
  #server?: string;
  #lastReceivedAt: number;
  #reconnectTimer?: ReturnType<typeof setTimeout>;
  #disposed = false;
  #socketClosed?: Promise<void>;
  /** Why we are ending the current socket ourselves, reported when it has closed. */
  #endingBecause?: Failure;
  /** Whether the current socket's TCP connection is made (node's `connecting` is unreliable). */
  #tcpConnected = false;

  constructor(options: LibraryClientOptions) {
    this.#options = options;
    this.#lastReceivedAt = options.now();
    this.#client = lib.createClient(options.connectionString, {
      sessionTimeout: options.sessionTimeoutMs,
      spinDelay: options.spinDelayMs,
      retries: 0,
    });
    this.#cm = this.#client.connectionManager;
    // The library splits `host:port` at the first colon, which breaks `[::1]:2181`.
    this.#cm.servers = shuffle(serversOf(options.connectionString));
    this.#cm.connect = () => this.#connectToNextServer();
    this.#cm.on("state", (state) => this.#onLibraryState(state));
    if (options.digestAuth !== undefined) {
      // Stored by the library and sent on every (re)connection of this session.
      this.#client.addAuthInfo("digest", Buffer.from(options.digestAuth, "utf8"));
    }
  }

  /** Starts connecting; the outcome arrives through `onEvent`. */
  connect(): void {
    this.#cm.connect();
  }

  /** The session id, `0n` before the first connection. */
  get sessionId(): bigint {
    return this.#cm.sessionId.readBigUInt64BE(0);
  }

  /** The session password, needed only to attach another connection to this session. */
  get sessionPassword(): Uint8Array {
    return new Uint8Array(this.#cm.sessionPassword);
  }

  /** The session timeout the server granted (the requested one before the first connection). */
  get sessionTimeoutMs(): number {
    return this.#cm.sessionTimeout;
  }

  /** `host:port` of the server the current socket goes to. */
  get server(): string | undefined {
    return this.#server;
  }

  /** Whether a socket exists (connecting or connected). */
  get hasSocket(): boolean {
    return this.#socket !== undefined;
  }

  /** When bytes last arrived on the current socket (or when it was opened). */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /**
   * Drops the current socket, reporting `because` as the attempt's failure: the library then
   * reconnects to the next server, same session.
   */
  dropConnection(because: Failure): void {
    if (!this.#socket) return;
    // A socket whose TCP connection never completed did not reach the server: say that.
    const silentForMs = Math.round(this.#options.now() - this.#lastReceivedAt);
    this.#endingBecause ??= this.#tcpConnected
      ? because
      : { kind: "timeout", reason: `no TCP connection within ${silentForMs} ms` };
    this.#socket.destroy();
  }

  /**
   * Ends the session politely (the server deletes its ephemerals at once), waiting at most
   * `graceMs` for the server's answer, then releases every socket and timer.
   */
  async close(graceMs: number): Promise<void> {
    const connected = this.#cm.state === CM.CONNECTED || this.#cm.state === CM.CONNECTED_READ_ONLY;
    if (connected && this.#socketClosed) {
      const closed = this.#socketClosed;
      this.#cm.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        closed,
        new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs)),
      ]);
      clearTimeout(timer);
    }
    await this.dispose();
  }

  /** Stops at once: no reconnection, socket destroyed, timers cleared. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const closed = this.#socketClosed;
    this.#socket?.destroy();
    await closed;
    this.#client.removeAllListeners();
  }

  // ---- operations: plain promises, no timeout (the session adds it) ----

  create(
    path: string,
    data: Uint8Array,
    acl: readonly ZkAclEntry[],
    mode: ZkCreateMode,
  ): Promise<string> {
    return this.#call(
      path,
      (cb) => this.#client.create(path, toBuffer(data), toLibraryAcl(acl), createModes[mode], cb),
    );
  }

  remove(path: string, version: number): Promise<void> {
    return this.#call(path, (cb) => this.#client.remove(path, version, cb));
  }

  getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }> {
    return this.#call(
      path,
      (cb: Callback<{ data: Uint8Array; stat: ZkStat }>) =>
        this.#read(
          "GET_DATA",
          "GetDataRequest",
          path,
          this.#wrapWatcher(watcher),
          (error, payload) =>
            cb(
              error,
              error ? undefined! : {
                data: fromBuffer(payload.data as Buffer | null),
                stat: toStat(payload.stat as LibStat),
              },
            ),
        ),
    );
  }

  setData(path: string, data: Uint8Array, version: number): Promise<ZkStat> {
    return this.#call(
      path,
      (cb: Callback<ZkStat>) =>
        this.#client.setData(
          path,
          toBuffer(data),
          version,
          (error, stat) => cb(error, error ? undefined! : toStat(stat)),
        ),
    );
  }

  exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null> {
    return this.#call(
      path,
      (cb: Callback<ZkStat | null>) =>
        this.#client.exists(
          path,
          this.#wrapWatcher(watcher),
          (error, stat) => cb(error, error || !stat ? null : toStat(stat)),
        ),
    );
  }

  getChildren(
    path: string,
    watcher?: ZkWatcher,
  ): Promise<{ children: string[]; stat: ZkStat }> {
    return this.#call(
      path,
      (cb: Callback<{ children: string[]; stat: ZkStat }>) =>
        this.#read(
          "GET_CHILDREN2",
          "GetChildren2Request",
          path,
          this.#wrapWatcher(watcher),
          (error, payload) =>
            cb(
              error,
              error ? undefined! : {
                children: payload.children as string[],
                stat: toStat(payload.stat as LibStat),
              },
            ),
        ),
    );
  }

  /**
   * The library's `getData` and `getChildren` (a session's hot reads) without its retry wrapper
   * and argument asserts, which cost more than the request itself at thousands a second: the
   * same request queued the same way, the watcher registered on success as the library does.
   * With `retries: 0` the wrapper only ever made one attempt.
   */
  #read(
    op: "GET_DATA" | "GET_CHILDREN2",
    record: "GetDataRequest" | "GetChildren2Request",
    path: string,
    watcher: LibWatcher | undefined,
    cb: (error: LibError | null, payload: JuteRecord) => void,
  ): void {
    const { protocol, Request, OP_CODES } = juteLib;
    pathModule.validate(path);
    const header = new protocol.RequestHeader();
    header.type = OP_CODES[op];
    const payload = new protocol[record]();
    payload.path = path;
    payload.watch = watcher !== undefined;
    this.#cm.queue(new Request(header, payload), (error, response) => {
      if (error) return cb(error as LibError, undefined!);
      if (watcher) {
        if (op === "GET_DATA") this.#cm.registerDataWatcher(path, watcher);
        else this.#cm.registerChildWatcher(path, watcher);
      }
      cb(null, (response as { payload: JuteRecord }).payload);
    });
  }

  getAcl(path: string): Promise<ZkAclEntry[]> {
    return this.#call(
      path,
      (cb: Callback<ZkAclEntry[]>) =>
        this.#client.getACL(path, (error, acls) =>
          cb(
            error,
            error ? undefined! : acls.map((entry) => ({
              perms: entry.perms,
              scheme: entry.id.scheme,
              id: entry.id.id,
            })),
          )),
    );
  }

  multi(ops: readonly ZkOp[]): Promise<void> {
    return this.#call(ops[0]?.path, (cb: Callback<void>) => {
      let transaction = this.#client.transaction();
      for (const op of ops) {
        switch (op.op) {
          case "create":
            transaction = transaction.create(
              op.path,
              toBuffer(op.data ?? new Uint8Array()),
              toLibraryAcl(op.acl),
              createModes[op.mode ?? "persistent"],
            );
            break;
          case "delete":
            transaction = transaction.remove(op.path, op.version ?? -1);
            break;
          case "setData":
            transaction = transaction.setData(op.path, toBuffer(op.data), op.version ?? -1);
            break;
          case "check":
            transaction = transaction.check(op.path, op.version);
            break;
        }
      }
      transaction.commit((error) => cb(error, undefined));
    });
  }

  // ---- internals ----

  /** Runs one library call, turning its callback (and any synchronous throw) into a promise. */
  #call<T>(path: string | undefined, start: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      try {
        start((error, result) => {
          if (error) reject(toZkError(error, path));
          else resolve(result);
        });
      } catch (error) {
        // The library validates arguments by throwing (paths, data size, ACLs).
        reject(new ZkError(`invalid request (${errorText(error)})`, 0, path, { cause: error }));
      }
    });
  }

  #wrapWatcher(watcher: ZkWatcher | undefined): LibWatcher | undefined {
    if (!watcher) return undefined;
    return (libraryEvent) => {
      const type = watchEventTypes[libraryEvent.getType()];
      if (!type || this.#disposed) return;
      const event: ZkWatchEvent = { type, path: libraryEvent.getPath() };
      try {
        watcher(event);
      } catch (error) {
        this.#options.onWatcherError(error, event);
      }
    };
  }

  #onLibraryState(state: number): void {
    switch (state) {
      case CM.CONNECTED:
      case CM.CONNECTED_READ_ONLY:
        this.#options.onEvent("connected");
        break;
      case CM.DISCONNECTED:
        this.#options.onEvent("disconnected");
        break;
      case CM.SESSION_EXPIRED:
        this.#reportFailure({
          kind: "expired",
          reason: `the server no longer knows session ${formatSessionId(this.sessionId)}`,
        });
        this.#options.onEvent("expired");
        break;
      case CM.AUTHENTICATION_FAILED:
        this.#reportFailure({
          kind: "auth",
          reason: `the server answered AUTH_FAILED to the digest credentials of user "${
            (this.#options.digestAuth ?? "").split(":")[0]
          }"`,
        });
        this.#options.onEvent("authFailed");
        break;
      case CM.CLOSED:
        this.#options.onEvent("closed");
        break;
    }
  }

  /** Replaces the library's `connect`: our sockets, our timers, our server rotation. */
  #connectToNextServer(): void {
    if (this.#disposed) return;
    const cm = this.#cm;
    cm.setState(CM.CONNECTING);
    cm.nextServerIndex %= cm.servers.length;
    let delayMs = 0;
    if (cm.serverAttempts >= cm.servers.length) {
      // Every member was tried: wait a little, at random, so clients do not stampede.
      delayMs = Math.random() * cm.spinDelay;
      cm.serverAttempts = 0;
    }
    cm.serverAttempts += 1;
    const server = cm.servers[cm.nextServerIndex];
    cm.nextServerIndex += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#disposed) this.#openSocket(server);
    }, delayMs);
  }

  #openSocket(server: ZkServerAddress): void {
    const cm = this.#cm;
    const socket = openZkSocket({ host: server.host, port: Number(server.port) });
    batchWrites(socket);
    this.#socket = socket;
    this.#server = server.host.includes(":")
      ? `[${server.host}]:${server.port}`
      : `${server.host}:${server.port}`;
    cm.socket = socket;
    this.#lastReceivedAt = this.#options.now();
    this.#endingBecause = undefined;
    this.#tcpConnected = false;
    /** What the system said went wrong on this socket, if anything. */
    let error: Failure | undefined;
    const connectTimer = setTimeout(
      () => this.dropConnection({ kind: "timeout", reason: "no TCP connection" }),
      cm.connectTimeout,
    );
    this.#socketClosed = new Promise<void>((resolve) => {
      socket.on("close", () => {
        clearTimeout(connectTimer);
        const current = this.#socket === socket;
        if (current) this.#socket = undefined;
        resolve();
        if (current) this.#reportClosed(this.#endingBecause ?? error);
        if (cm.socket === socket) cm.onSocketClosed();
      });
    });
    socket.on("connect", () => {
      clearTimeout(connectTimer);
      this.#tcpConnected = true;
      this.#sendConnectRequest(socket);
    });
    const frames = new PacketFramer();
    socket.on("data", (chunk: Buffer) => {
      if (cm.socket !== socket) return;
      this.#lastReceivedAt = this.#options.now();
      try {
        // One whole packet per call: the library's own framing re-copies the rest of the chunk
        // for every packet in it (quadratic in a burst of answers).
        frames.push(chunk, (packet) => cm.onSocketData(packet));
      } catch (error) {
        // An answer the library cannot parse: start over on a fresh connection.
        this.#options.onInternalError(error);
        this.dropConnection({ kind: "other", reason: `unexpected answer: ${errorText(error)}` });
      }
    });
    socket.on("drain", () => {
      if (cm.socket === socket) cm.onSocketDrain();
    });
    socket.on("error", (cause) => {
      // 'close' follows, reports it and drives the reconnection.
      error ??= describeSocketError(cause);
    });
  }

  /** Reports why a socket closed, unless we are closing, disposed, or the session is over. */
  #reportClosed(because: Failure | undefined): void {
    const state = this.#cm.state;
    if (this.#disposed || state === CM.CLOSING || state === CM.CLOSED) return;
    if (state === CM.SESSION_EXPIRED || state === CM.AUTHENTICATION_FAILED) return;
    const established = state === CM.CONNECTED || state === CM.CONNECTED_READ_ONLY;
    this.#reportFailure(
      because ?? {
        kind: "reset",
        reason: established
          ? "connection closed by the server"
          : "connection closed by the server before a session was established",
      },
    );
  }

  #reportFailure(failure: Failure): void {
    if (this.#disposed) return;
    this.#options.onConnectionFailure({ server: this.#server ?? "", ...failure });
  }

  /** The library's `onSocketConnected`, with the watches re-sent in bounded chunks. */
  #sendConnectRequest(socket: net.Socket): void {
    const cm = this.#cm;
    const { protocol, Request, OP_CODES } = juteLib;
    const connectRequest = new Request(
      null,
      new protocol.ConnectRequest(
        juteLib.PROTOCOL_VERSION,
        cm.zxid,
        cm.sessionTimeout,
        cm.sessionId,
        cm.sessionPassword,
      ),
    );
    socket.write(connectRequest.toBuffer());

    for (const credential of cm.credentials) {
      const header = new protocol.RequestHeader();
      header.xid = juteLib.XID_AUTHENTICATION;
      header.type = OP_CODES.AUTH;
      const payload = new protocol.AuthPacket();
      payload.type = 0;
      payload.scheme = credential.scheme;
      payload.auth = credential.auth;
      cm.queue(new Request(header, payload));
    }

    const watches = cm.watcherManager;
    if (watches.isEmpty()) return;
    const chunks = chunkWatchPaths(
      {
        dataWatches: watches.getDataWatcherPaths(),
        existWatches: watches.getExistenceWatcherPaths(),
        childWatches: watches.getChildWatcherPaths(),
      },
      SET_WATCHES_MAX_BYTES,
      (cm.chrootPath ?? "").length,
    );
    for (const chunk of chunks) {
      const header = new protocol.RequestHeader();
      header.type = OP_CODES.SET_WATCHES;
      const payload = new protocol.SetWatches();
      payload.setChrootPath(cm.chrootPath);
      payload.relativeZxid = cm.zxid;
      payload.dataWatches = chunk.dataWatches;
      payload.existWatches = chunk.existWatches;
      payload.childWatches = chunk.childWatches;
      cm.queue(new Request(header, payload));
    }
  }
}

/** The largest packet accepted from a server (its jute.maxbuffer default is 1 MiB). */
const MAX_PACKET_BYTES = 16 * 1024 * 1024;

/**
 * Cuts a server's byte stream into its length-prefixed packets (each with its 4-byte length).
 * A packet within one chunk is passed as a view, without copying.
 */
export class PacketFramer {
  #leftover?: Buffer;

  /** Feeds a chunk; calls `onPacket` for every packet it completes, in order. */
  push(chunk: Buffer, onPacket: (packet: Buffer) => void): void {
    const data = this.#leftover ? Buffer.concat([this.#leftover, chunk]) : chunk;
    this.#leftover = undefined;
    let offset = 0;
    while (data.length - offset >= 4) {
      const size = data.readInt32BE(offset);
      if (size < 0 || size > MAX_PACKET_BYTES) {
        throw new Error(`packet length ${size} out of range`);
      }
      if (data.length - offset < size + 4) break;
      const packet = data.subarray(offset, offset + size + 4);
      offset += size + 4;
      onPacket(packet);
    }
    // Keep only the incomplete rest, copied, so the chunk it came in can be freed.
    if (offset < data.length) this.#leftover = Buffer.from(data.subarray(offset));
  }
}

/** Watch paths of one SetWatches packet. */
export interface WatchPaths {
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
}

/**
 * Splits watch paths into packets of at most `maxBytes` of path bytes each (a path longer than
 * that travels alone). `prefixBytes` is the chroot the library prepends to every path.
 */
export function chunkWatchPaths(
  all: WatchPaths,
  maxBytes: number,
  prefixBytes = 0,
): WatchPaths[] {
  const chunks: WatchPaths[] = [];
  let current: WatchPaths = { dataWatches: [], existWatches: [], childWatches: [] };
  let size = 0;
  const encoder = new TextEncoder();
  for (const kind of ["dataWatches", "existWatches", "childWatches"] as const) {
    for (const path of all[kind]) {
      const bytes = 4 + prefixBytes + encoder.encode(path).length;
      if (size > 0 && size + bytes > maxBytes) {
        chunks.push(current);
        current = { dataWatches: [], existWatches: [], childWatches: [] };
        size = 0;
      }
      current[kind].push(path);
      size += bytes;
    }
  }
  if (size > 0) chunks.push(current);
  return chunks;
}

/** The servers of a connection string (`host:port,...[/chroot]`), IPv6 in brackets allowed. */
export function serversOf(connectionString: string): ZkServerAddress[] {
  const slash = connectionString.indexOf("/");
  const hosts = slash === -1 ? connectionString : connectionString.slice(0, slash);
  return hosts.split(",").filter(Boolean).map((item) => {
    const bracketed = item.match(/^\[([^\]]+)\](?::(\d+))?$/);
    if (bracketed) return { host: bracketed[1], port: Number(bracketed[2] ?? 2181) };
    const colon = item.lastIndexOf(":");
    return colon === -1
      ? { host: item, port: 2181 }
      : { host: item.slice(0, colon), port: Number(item.slice(colon + 1)) };
  });
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function toBuffer(data: Uint8Array): Buffer {
  // A Buffer view, not a copy: the library copies create payloads itself.
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function fromBuffer(data: Buffer | null | undefined): Uint8Array {
  // A copy, so the mirror does not keep the whole network packet alive.
  return data ? new Uint8Array(data) : new Uint8Array();
}

function toStat(stat: LibStat): ZkStat {
  return {
    czxid: stat.czxid.readBigUInt64BE(0),
    mzxid: stat.mzxid.readBigUInt64BE(0),
    pzxid: stat.pzxid.readBigUInt64BE(0),
    ctime: Number(stat.ctime.readBigUInt64BE(0)),
    mtime: Number(stat.mtime.readBigUInt64BE(0)),
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    ephemeralOwner: stat.ephemeralOwner.readBigUInt64BE(0),
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
  };
}

function toLibraryAcl(acl: readonly ZkAclEntry[] | undefined): unknown[] {
  const entries = acl ?? [{ perms: 31, scheme: "world", id: "anyone" }];
  return entries.map((entry) => new lib.ACL(entry.perms, new lib.Id(entry.scheme, entry.id)));
}

function toZkError(error: LibError, path: string | undefined): ZkError {
  return typeof error.code === "number"
    ? zkErrorFromCode(error.code, path)
    : new ZkError(errorText(error), 0, path, { cause: error });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
