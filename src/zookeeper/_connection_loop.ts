/**
 * The connection loop of one ZooKeeper session: server rotation, the handshake, one send queue,
 * one receive loop, replies matched to requests in order, watch events delivered in order with
 * the replies, and the re-registration of watches after a reconnect. The operations themselves
 * (what each request writes and reads) are in `connection.ts`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { JuteReader, type JuteWriter, ZkDecodeError } from "./_jute.ts";
import { PacketFramer } from "./_framing.ts";
import { OrderedDelivery } from "./_ordered_delivery.ts";
import { acceptsNewSession } from "./_new_session_probe.ts";
import {
  decodeConnectResponse,
  encodeAuth,
  encodeConnectRequest,
  encodeRequest,
  encodeSetWatches,
  OpCode,
  readReplyHeader,
  readWatcherEvent,
  type ReplyHeader,
  Xid,
} from "./_records.ts";
import { withChroot, withoutChroot } from "./_chroot.ts";
import { lastZxidAfterReply } from "./_last_zxid.ts";
import { chunkWatchLists, WatchRegistry } from "./_watches.ts";
import {
  classifyConnectError,
  closeQuietly,
  openZkSocket,
  type ZkConnectionFailure,
  type ZkDialer,
  type ZkTlsOptions,
} from "./socket.ts";
import { formatServer, parseConnectionString, shuffled, type ZkServerAddress } from "./servers.ts";
import {
  ZkConnectionLossError,
  ZkError,
  ZkErrorCode,
  zkErrorFromCode,
  ZkHungUpAfterRequestError,
  ZkTimeoutError,
} from "./errors.ts";
import type { ZkWatchEvent } from "./types.ts";

/** What a connection reports to its owner. */
export type ZkConnectionEvent =
  | { type: "connected" }
  | { type: "disconnected" }
  | { type: "expired"; reason?: string }
  | { type: "authFailed" };

/** Options of a {@link ZkConnection}. */
export interface ZkConnectionOptions {
  connectionString: string;
  /** Requested; the server grants a value within its bounds. */
  sessionTimeoutMs: number;
  /** Longest random pause after every server was tried without success. */
  spinDelayMs: number;
  /** `user:password` for the digest scheme, sent on every connection. */
  digestAuth?: string;
  /** TLS to every server; absent: plain TCP. */
  tls?: ZkTlsOptions;
  now: () => number;
  onEvent: (event: ZkConnectionEvent) => void;
  /** Every failed connection attempt and every connection that ended other than by `close`. */
  onConnectionFailure: (failure: ZkConnectionFailure) => void;
  /** Bytes from the server that break the protocol: the connection is dropped and made again. */
  onProtocolError: (error: unknown, server: string) => void;
  /** Receives errors thrown by a caller's watcher. */
  onWatcherError: (error: unknown, event: ZkWatchEvent) => void;
  /** Opens sockets; default {@link openZkSocket}. */
  dial?: ZkDialer;
  random?: () => number;
}

/** A request written (or waiting to be written), until its reply is matched. */
interface Pending {
  xid: number;
  type: number;
  /** When it was made, on the options' clock. */
  madeAt: number;
  writeBody?: (writer: JuteWriter) => void;
  /** Packets received on the connection when it was written (see `ZkHungUpAfterRequestError`). */
  receivedBeforeWrite?: number;
  /** Called with the reply, synchronously, when it is matched; returns what to deliver. */
  complete(header: ReplyHeader, reader: JuteReader): () => void;
  fail(error: Error): void;
}

/** The client's log lines (category as the session's, which owns this connection). */
const log = getLogger(["zkcm", "session"]);

/** The connection's own state, not the session's. */
type Phase = "idle" | "connecting" | "connected" | "stopped";

/**
 * One ZooKeeper session over a series of connections, without its operations (those are
 * `ZkConnection`'s): requests made while disconnected wait in order and go out after the
 * reconnect; requests in flight when a connection ends fail with {@link ZkConnectionLossError}
 * (their outcome is unknown). No timeout per request: the owner times them out.
 */
export abstract class ConnectionLoop {
  readonly #options: ZkConnectionOptions;
  readonly #servers: ZkServerAddress[];
  readonly #chroot: string;
  /** Every watch of this session, by kind and path. */
  protected readonly watches = new WatchRegistry();
  readonly #dial: ZkDialer;
  /** Aborts a connection attempt in progress when the connection is disposed of. */
  readonly #disposing = new AbortController();
  #phase = "idle" as Phase;
  #sessionId = 0n;
  #password: Uint8Array = new Uint8Array(16);
  #lastZxid = 0n;
  /** Packets received on the current connection. */
  #packetsReceived = 0;
  #saidPathOutsideChroot = false;
  #timeoutMs: number;
  #xid = 0;
  #serverIndex = 0;
  #server?: string;
  #conn?: Deno.Conn;
  #loop?: Promise<void>;
  #lastReceivedAt: number;
  #lastSentAt = 0;
  /** Requests waiting for a connection. */
  #queued: Pending[] = [];
  /** Requests written, in the order their replies must come. */
  #inFlight: Pending[] = [];
  #inFlightHead = 0;
  /** Frames to write, in order; one write at a time. */
  #outgoing: Uint8Array[] = [];
  #writing = false;
  #pinger?: ReturnType<typeof setInterval>;
  #spinTimer?: ReturnType<typeof setTimeout>;
  #wakeSpin?: () => void;
  /** Replies and events, delivered to callers in the order they arrived. */
  readonly #delivery = new OrderedDelivery();
  /**
   * Set when we close the connection ourselves, not the server: `null` for no failure to report
   * (closing), or the failure to report (the watchdog's "silent").
   */
  #dropped?: Pick<ZkConnectionFailure, "kind" | "reason"> | null;
  #authFailed = false;
  /** When the current run of "server closed the handshake" refusals began, if one is going on. */
  #refusedSince?: number;
  #refusedBy = new Set<string>();

  constructor(options: ZkConnectionOptions) {
    this.#options = options;
    const { servers, chroot } = parseConnectionString(options.connectionString);
    this.#servers = shuffled(servers, options.random);
    this.#chroot = chroot;
    this.#timeoutMs = options.sessionTimeoutMs;
    this.#lastReceivedAt = options.now();
    this.#dial = options.dial ?? openZkSocket;
  }

  /** Whether a session is established on the current connection. */
  protected get isConnected(): boolean {
    return this.#phase === "connected";
  }

  /** Whether the connection gave up for good (closed, expired, refused credentials). */
  get #stopped(): boolean {
    return this.#phase === "stopped";
  }

  /** Starts connecting; the outcome arrives through `onEvent`. */
  connect(): void {
    if (this.#phase !== "idle") return;
    this.#phase = "connecting";
    // The loop catches what it expects; anything else (a listener that throws) stops it, said
    // once, rather than becoming an unhandled rejection that ends the process.
    this.#loop = this.#run().catch((error) => {
      this.#options.onProtocolError(error, this.#server ?? "(no server)");
      if (!this.#stopped) {
        this.#phase = "stopped";
        this.#options.onEvent({ type: "expired", reason: `the connection loop failed: ${error}` });
      }
    });
  }

  /** The session id, `0n` before the first handshake. */
  get sessionId(): bigint {
    return this.#sessionId;
  }

  /** The session password, needed only to attach another connection to this session. */
  get sessionPassword(): Uint8Array {
    return this.#password.slice();
  }

  /** The session timeout the server granted (the requested one before the first handshake). */
  get sessionTimeoutMs(): number {
    return this.#timeoutMs;
  }

  /** The highest zxid seen in a reply. */
  get lastZxid(): bigint {
    return this.#lastZxid;
  }

  /** `host:port` of the server of the current connection. */
  get server(): string | undefined {
    return this.#server;
  }

  /** Whether a socket is open (connecting or connected). */
  get hasSocket(): boolean {
    return this.#conn !== undefined;
  }

  /** When bytes last arrived on the current socket (or when it was opened). */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  /**
   * Drops the current connection; the session carries on through the next server. `failure`, when
   * given, is reported as the reason the connection ended.
   */
  dropConnection(failure?: Pick<ZkConnectionFailure, "kind" | "reason">): void {
    if (!this.#conn) return;
    this.#dropped ??= failure ?? null;
    closeQuietly(this.#conn);
  }

  /**
   * Ends the session politely (the server deletes its ephemerals at once), waiting at most
   * `graceMs` for the server's answer, then releases everything.
   */
  async close(graceMs: number): Promise<void> {
    if (this.#phase === "connected") {
      // The server hangs up after answering: that is not a failure.
      this.#dropped = null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const answered = this.submit<void>(OpCode.closeSession, undefined, () => undefined);
      await Promise.race([
        answered.catch(() => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs)),
      ]);
      clearTimeout(timer);
    }
    await this.dispose();
  }

  /** Stops at once: no reconnection, socket closed, timers cleared; pending requests fail. */
  async dispose(): Promise<void> {
    if (this.#phase === "stopped" && !this.#loop) return;
    this.#phase = "stopped";
    this.#disposing.abort();
    clearTimeout(this.#spinTimer);
    this.#wakeSpin?.();
    this.dropConnection();
    const loop = this.#loop;
    this.#loop = undefined;
    await loop;
    // Replies and failures still waiting for their turn are delivered, so no promise hangs.
    this.#delivery.dispose();
    const lost = new ZkConnectionLossError("connection closed", -4);
    for (const pending of this.#queued) pending.fail(lost);
    this.#queued = [];
  }

  // ---- requests ----

  /**
   * Queues one request. `decode` runs when the reply is matched (and may register a watch);
   * `onError` may turn an error code into a value (exists: no node is `null`).
   */
  protected submit<T>(
    type: number,
    path: string | undefined,
    decode: (reader: JuteReader) => T,
    writeBody?: (writer: JuteWriter) => void,
    onError?: (err: number) => { value: T } | undefined,
  ): Promise<T> {
    if (this.#phase === "stopped") {
      return Promise.reject(new ZkConnectionLossError("connection closed", -4, path));
    }
    if (path !== undefined) {
      const problem = pathProblem(path);
      if (problem) return Promise.reject(new ZkError(`invalid path (${problem})`, 0, path));
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        xid: 0,
        type,
        madeAt: this.#options.now(),
        writeBody,
        complete: (header, reader) => {
          if (header.err !== 0) {
            const recovered = onError?.(header.err);
            if (recovered) return () => resolve(recovered.value);
            const error = zkErrorFromCode(header.err, path);
            return () => reject(error);
          }
          try {
            const value = decode(reader);
            return () => resolve(value);
          } catch (error) {
            if (error instanceof ZkDecodeError) throw error;
            return () => reject(error);
          }
        },
        fail: (error) => reject(withPath(error, path)),
      };
      if (this.#phase === "connected") this.#send(pending);
      else this.#queued.push(pending);
    });
  }

  /**
   * Drops the requests still waiting for a connection that were made before `cutoff`: their
   * callers were told they timed out, so they must not be carried out after the reconnection.
   */
  dropQueuedBefore(cutoff: number): void {
    let stale = 0;
    while (stale < this.#queued.length && this.#queued[stale].madeAt <= cutoff) stale++;
    if (stale === 0) return;
    const dropped = this.#queued.splice(0, stale);
    const error = new ZkTimeoutError("not sent: timed out waiting for a connection");
    for (const pending of dropped) pending.fail(error);
  }

  #send(pending: Pending): void {
    pending.xid = this.#nextXid();
    pending.receivedBeforeWrite = this.#packetsReceived;
    this.#inFlight.push(pending);
    this.#write(encodeRequest(pending.xid, pending.type, pending.writeBody));
    pending.writeBody = undefined;
  }

  #nextXid(): number {
    // Positive, wrapping before int32 overflow; the negative ones are reserved.
    this.#xid = this.#xid >= 0x7fffffff ? 1 : this.#xid + 1;
    return this.#xid;
  }

  /** Queues a frame; frames queued in one turn go out in one write. */
  #write(frame: Uint8Array): void {
    this.#outgoing.push(frame);
    this.#lastSentAt = this.#options.now();
    if (this.#writing) return;
    this.#writing = true;
    queueMicrotask(() => void this.#flush());
  }

  /** Writes what is queued, to whichever connection is current, until nothing is left. */
  async #flush(): Promise<void> {
    try {
      while (this.#outgoing.length > 0 && this.#conn) {
        const conn = this.#conn;
        const frames = this.#outgoing;
        this.#outgoing = [];
        const bytes = frames.length === 1 ? frames[0] : concat(frames);
        try {
          for (let written = 0; written < bytes.length;) {
            written += await conn.write(bytes.subarray(written));
          }
        } catch {
          // The receive loop sees the connection end and fails what was in flight.
          closeQuietly(conn);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  // ---- the connection loop ----

  async #run(): Promise<void> {
    let attempts = 0;
    while (this.#phase !== "stopped") {
      if (attempts >= this.#servers.length) {
        attempts = 0;
        await this.#spin(this.#options.random?.() ?? Math.random());
        if (!this.#stopped && await this.#ensembleLostItsData()) return;
        continue;
      }
      attempts++;
      const server = this.#servers[this.#serverIndex];
      this.#serverIndex = (this.#serverIndex + 1) % this.#servers.length;
      const outcome = await this.#session(server);
      if (outcome === "stop") return;
      if (outcome === "connected") attempts = 0;
    }
  }

  /** Waits a random part of the spin delay (every server was tried), unless stopped. */
  #spin(fraction: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wakeSpin = resolve;
      this.#spinTimer = setTimeout(resolve, fraction * this.#options.spinDelayMs);
    }).finally(() => {
      this.#wakeSpin = undefined;
      this.#spinTimer = undefined;
    });
  }

  /**
   * Every member closed the handshake on us for longer than the session timeout: they have not
   * seen our last zxid, so the ensemble lost its data (restarted empty, or rebuilt). Nothing of
   * the session survives there; report it expired, so the owner starts over from zxid 0.
   */
  async #ensembleLostItsData(): Promise<boolean> {
    if (this.#refusedSince === undefined || this.#lastZxid === 0n) return false;
    if (this.#refusedBy.size < this.#servers.length) return false;
    if (this.#options.now() - this.#refusedSince < this.#timeoutMs) return false;
    // A member without a quorum hangs up the same way, and there the session would survive: only
    // a member that accepts a brand-new session is refusing ours for its zxid.
    const probed = this.#servers[this.#serverIndex];
    const accepts = await acceptsNewSession(this.#dial, probed, {
      tls: this.#options.tls,
      timeoutMs: this.#timeoutMs / this.#servers.length,
      signal: this.#disposing.signal,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
    });
    if (!accepts) return false;
    if (this.#phase === "stopped") return true;
    this.#phase = "stopped";
    this.#options.onEvent({
      type: "expired",
      reason: `every ZooKeeper server refused the session for ${
        Math.round(this.#options.now() - this.#refusedSince)
      } ms: none has seen transaction 0x${
        this.#lastZxid.toString(16)
      } (the ensemble lost its data?); starting a new session`,
    });
    return true;
  }

  /** One connection to one server, from the socket to its end. */
  async #session(server: ZkServerAddress): Promise<"connected" | "failed" | "stop"> {
    const name = formatServer(server);
    const connectTimeoutMs = this.#timeoutMs / this.#servers.length;
    let conn: Deno.Conn;
    try {
      conn = await this.#dial(server, {
        tls: this.#options.tls,
        timeoutMs: connectTimeoutMs,
        signal: this.#disposing.signal,
      });
    } catch (error) {
      const failure = classifyConnectError(error, this.#options.tls !== undefined);
      this.#options.onConnectionFailure({
        server: name,
        kind: failure.kind,
        reason: failure.message,
      });
      return "failed";
    }
    if (this.#phase === "stopped") {
      closeQuietly(conn);
      return "stop";
    }
    this.#conn = conn;
    this.#dropped = undefined;
    this.#server = name;
    this.#lastReceivedAt = this.#options.now();
    const framer = new PacketFramer();
    let handshake: "waiting" | "done" = "waiting";
    let outcome = "failed" as "connected" | "failed" | "stop";
    let failure: ZkConnectionFailure | undefined;
    const handshakeTimer = setTimeout(() => {
      failure = { server: name, kind: "timeout", reason: "no answer to the handshake" };
      closeQuietly(conn);
    }, connectTimeoutMs);
    this.#write(encodeConnectRequest({
      lastZxidSeen: this.#lastZxid,
      timeoutMs: this.#options.sessionTimeoutMs,
      sessionId: this.#sessionId,
      password: this.#password,
      readOnly: false,
    }));

    const onPacket = (body: Uint8Array) => {
      this.#lastReceivedAt = this.#options.now();
      if (handshake === "done") return this.#onPacket(body);
      handshake = "done";
      clearTimeout(handshakeTimer);
      const response = decodeConnectResponse(body);
      if (response.timeoutMs <= 0) {
        outcome = "stop";
        this.#phase = "stopped";
        // Reported before the event, whose listener replaces this connection by a new one.
        this.#options.onConnectionFailure({
          server: name,
          kind: "expired",
          reason: `the server no longer knows session 0x${this.#sessionId.toString(16)}`,
        });
        this.#options.onEvent({ type: "expired" });
        closeQuietly(conn);
        return;
      }
      this.#sessionId = response.sessionId;
      this.#password = response.password;
      this.#timeoutMs = response.timeoutMs;
      this.#refusedSince = undefined;
      this.#refusedBy.clear();
      outcome = "connected";
      this.#onConnected();
    };

    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await conn.read(buffer);
        if (read === null) break;
        framer.push(buffer.subarray(0, read), onPacket);
      }
    } catch (error) {
      if (error instanceof ZkDecodeError || error instanceof ProtocolError) {
        this.#options.onProtocolError(error, name);
        failure ??= { server: name, kind: "other", reason: error.message };
      } else if (!failure && this.#dropped === undefined && !this.#stopped) {
        // Not closed by us (a read we interrupted fails with "operation canceled" or "bad
        // resource"): the system's reason for the connection ending. Once the server has answered
        // the handshake, TLS was accepted long ago: a server going away is a reset, not TLS (the
        // refusal of a missing client certificate arrives before that answer, on TLS 1.3).
        const tlsPhase = this.#options.tls !== undefined && handshake === "waiting";
        const kind = classifyConnectError(error, tlsPhase).kind;
        failure = {
          server: name,
          kind,
          reason: error instanceof Error ? error.message : `${error}`,
        };
      }
    } finally {
      clearTimeout(handshakeTimer);
      closeQuietly(conn);
      this.#conn = undefined;
      this.#server = undefined;
    }
    const dropped = this.#dropped as
      | Pick<ZkConnectionFailure, "kind" | "reason">
      | null
      | undefined;
    if (dropped) failure ??= { server: name, kind: dropped.kind, reason: dropped.reason };
    if (handshake === "waiting" && !failure && dropped === undefined && !this.#stopped) {
      // A server that has not seen our last zxid hangs up without a word (so does one that is
      // shutting down): count it towards "the ensemble lost its data".
      this.#refusedSince ??= this.#options.now();
      this.#refusedBy.add(name);
      const causes = [
        ...(this.#lastZxid > 0n ? [`has not seen zxid 0x${this.#lastZxid.toString(16)}`] : []),
        "is starting, stopping or without quorum",
        ...(this.#options.tls ? [] : ["serves TLS only on this port (see ZK_TLS)"]),
      ];
      failure = {
        server: name,
        kind: "reset",
        reason: `connection closed by the server before a session was established (it ${
          causes.join(", or ")
        })`,
      };
    }
    if (this.#authFailed) {
      failure = { server: name, kind: "auth", reason: "the server refused our credentials" };
    } else if (!failure && outcome === "connected" && dropped === undefined && !this.#stopped) {
      failure = { server: name, kind: "reset", reason: "connection closed by the server" };
    }
    const closedByServer = dropped === undefined && !this.#stopped && failure?.kind === "reset";
    this.#onDisconnected(outcome === "connected", closedByServer);
    if (failure) this.#options.onConnectionFailure(failure);
    return this.#stopped ? "stop" : outcome;
  }

  /** Handshake done: auth, then watches, then the queued requests, in that order. */
  #onConnected(): void {
    this.#phase = "connected";
    if (this.#options.digestAuth !== undefined) {
      this.#write(encodeAuth("digest", new TextEncoder().encode(this.#options.digestAuth)));
    }
    if (!this.watches.isEmpty) {
      const lists = this.watches.lists((path) => this.toServerPath(path));
      for (const chunk of chunkWatchLists(lists)) {
        this.#write(encodeSetWatches(this.#lastZxid, chunk));
      }
    }
    const queued = this.#queued;
    this.#queued = [];
    for (const pending of queued) this.#send(pending);
    this.#startPinging();
    this.#options.onEvent({ type: "connected" });
  }

  /** `closedByServer`: the server ended the connection (end of stream or reset), not we. */
  #onDisconnected(wasConnected: boolean, closedByServer: boolean): void {
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    this.#outgoing = [];
    const lost = this.#inFlight.slice(this.#inFlightHead);
    this.#inFlight = [];
    this.#inFlightHead = 0;
    if (lost.length > 0) {
      const error = new ZkConnectionLossError(
        "connection lost before the answer, outcome unknown",
        -4,
      );
      const last = lost[lost.length - 1];
      // The server closing right after reading a request, with nothing said since: how some
      // servers refuse an operation they lack (told apart from other losses by the caller).
      const hungUpAfterLast = closedByServer && last.receivedBeforeWrite === this.#packetsReceived;
      this.#delivery.deliver(() => {
        for (const pending of lost) {
          pending.fail(
            pending === last && hungUpAfterLast
              ? new ZkHungUpAfterRequestError(
                "the server closed the connection right after this request, outcome unknown",
                -4,
              )
              : error,
          );
        }
      });
    }
    if (this.#phase === "connected") this.#phase = "connecting";
    if (wasConnected && this.#phase !== "stopped") this.#options.onEvent({ type: "disconnected" });
  }

  /** Pings when nothing was sent for a third of the session timeout, as the Java client does. */
  #startPinging(): void {
    const idleMs = this.#timeoutMs / 3;
    this.#pinger = setInterval(() => {
      if (this.#options.now() - this.#lastSentAt >= idleMs) {
        this.#write(encodeRequest(Xid.ping, OpCode.ping));
      }
    }, Math.max(10, idleMs / 2));
  }

  /** One packet after the handshake. Throws on anything that breaks the protocol. */
  #onPacket(body: Uint8Array): void {
    this.#packetsReceived++;
    const reader = new JuteReader(body);
    const header = readReplyHeader(reader);
    this.#lastZxid = lastZxidAfterReply(this.#lastZxid, header);
    switch (header.xid) {
      case Xid.ping:
      case Xid.setWatches:
        return;
      case Xid.auth:
        if (header.err === ZkErrorCode.authFailed) {
          this.#phase = "stopped";
          this.#authFailed = true;
          this.#options.onEvent({ type: "authFailed" });
        }
        return;
      case Xid.notification:
        return this.#onEvent(reader);
    }
    const pending = this.#inFlight[this.#inFlightHead];
    if (!pending || pending.xid !== header.xid) {
      throw new ProtocolError(
        `reply to xid ${header.xid}, but ${pending ? `xid ${pending.xid}` : "none"} was next`,
      );
    }
    if (header.err === ZkErrorCode.sessionMoved) {
      // The session lives on another server now: this connection is no good, and the request
      // fails as a connection loss with the others in flight.
      throw new ProtocolError("the session moved to another server");
    }
    // Decoded while still in flight: a body that breaks the protocol throws here, and the request
    // fails with the others as a connection loss instead of waiting for its timeout.
    const delivery = pending.complete(header, reader);
    this.#inFlight[this.#inFlightHead++] = undefined!;
    if (this.#inFlightHead > 1024 && this.#inFlightHead * 2 > this.#inFlight.length) {
      this.#inFlight = this.#inFlight.slice(this.#inFlightHead);
      this.#inFlightHead = 0;
    }
    this.#delivery.deliver(delivery);
  }

  #onEvent(reader: JuteReader): void {
    const raw = readWatcherEvent(reader);
    const fired = this.watches.fire(raw.type, this.fromServerPath(raw.path));
    if (!fired || fired.watchers.length === 0) return;
    const { event, watchers } = fired;
    this.#delivery.deliver(() => {
      for (const watcher of watchers) {
        try {
          watcher(event);
        } catch (error) {
          this.#options.onWatcherError(error, event);
        }
      }
    }, "event");
  }

  // ---- chroot ----

  /** A caller's path as the server sees it: the chroot prefixed. */
  protected toServerPath(path: string): string {
    return withChroot(this.#chroot, path);
  }

  /**
   * A server's path as the caller sees it: the chroot removed. A path outside the chroot (the
   * server should never send one) is passed on unchanged, and said once in the log.
   */
  protected fromServerPath(path: string): string {
    const stripped = withoutChroot(this.#chroot, path);
    if (stripped !== undefined) return stripped;
    if (!this.#saidPathOutsideChroot) {
      this.#saidPathOutsideChroot = true;
      log.warn("the server sent path {path}, outside the chroot {chroot}: passed on unchanged", {
        path,
        chroot: this.#chroot,
      });
    }
    return path;
  }
}

/** The server broke the protocol (an xid out of order, a moved session). */
class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Why a path cannot be sent, or `undefined` when it can. */
function pathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must start with /";
  if (path.length > 1 && path.endsWith("/")) return "must not end with /";
  if (path.includes("//")) return "empty segment";
  if (path.includes("\u0000")) return "NUL character";
  if (/\/\.\.?(\/|$)/.test(path)) return ". or .. segment";
  return undefined;
}

function withPath(error: Error, path: string | undefined): Error {
  if (!(error instanceof ZkError) || path === undefined || error.path !== undefined) return error;
  const Class = error.constructor as new (message: string, code: number, path?: string) => ZkError;
  return new Class(error.message, error.code, path);
}

function concat(frames: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const frame of frames) size += frame.length;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const frame of frames) {
    bytes.set(frame, offset);
    offset += frame.length;
  }
  return bytes;
}
