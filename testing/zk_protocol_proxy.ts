/**
 * A ZooKeeper-protocol-aware proxy for tests: it sits between a client and a real ZooKeeper,
 * reads the packets both ways, and makes that server look like another one:
 *
 * - an **old server** (ZooKeeper 3.4/3.5, or a compatible server without them) for the opcodes
 *   it is told to "not know": `"unimplemented"` hands the request to the real server under an
 *   opcode no version knows, so ZooKeeper answers it through its own `UnimplementedRequestProcessor`
 *   (UNIMPLEMENTED, -6, then it closes the connection), in order with every other reply;
 *   `"hangUp"` closes the connection without an answer, as some compatible servers do;
 * - **ClickHouse Keeper** (`keeperEventPaths`): the events of a persistent recursive watch name
 *   the path the watch was registered on instead of the node that changed (ClickHouse issue
 *   115475).
 *
 * @example
 * ```ts
 * await using proxy = await ZkProtocolProxy.start(
 *   { hostname: "127.0.0.1", port: zk.port },
 *   { unknownOpcodes: [22, 106], unknownOpcodeAnswer: "unimplemented" },
 * );
 * // connect the client to proxy.address
 * ```
 *
 * @module
 */
import { writeAll } from "../src/dev/_loopback.ts";

/** Opcodes of the operations ZooKeeper 3.6 added and the mirror relies on. */
export const Opcode = {
  getData: 4,
  getChildren2: 12,
  multiRead: 22,
  addWatch: 106,
  removeWatches: 18,
  setWatches2: 105,
} as const;

/** What the proxy makes the server look like. */
export interface ZkProtocolProxyOptions {
  /** Opcodes the server is made not to know. */
  unknownOpcodes?: readonly number[];
  /** How an unknown opcode is answered. Default `"unimplemented"`. */
  unknownOpcodeAnswer?: "unimplemented" | "hangUp";
  /**
   * Opcodes whose first request (over all connections) is met by closing the connection right
   * after reading it, as a server restarting at that moment would; later ones pass.
   */
  hangUpOnceOn?: readonly number[];
  /** Rewrite recursive-watch event paths to the watched path, as ClickHouse Keeper does. */
  keeperEventPaths?: boolean;
}

/** An opcode no ZooKeeper version defines: the real server answers it with UNIMPLEMENTED. */
const OPCODE_NOBODY_KNOWS = 0x7ffe;
const NOTIFICATION_XID = -1;
/** Event types a recursive watch delivers: created, deleted, dataChanged. */
const RECURSIVE_EVENT_TYPES = new Set([1, 2, 3]);
const PERSISTENT_RECURSIVE_MODE = 1;
/** exists, getData, getChildren, getChildren2: `{path, bool watch}`. */
const READS_WITH_WATCH_FLAG = new Set([3, 4, 8, 12]);
const PERSISTENT_RECURSIVE_WATCHER_TYPE = 5;

/** Splits a byte stream into ZooKeeper frames (a 4-byte big-endian length, then the body). */
class FrameSplitter {
  #buffered = new Uint8Array(0);

  /** The whole frames (bodies) completed by `chunk`, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buffered.length + chunk.length);
    joined.set(this.#buffered);
    joined.set(chunk, this.#buffered.length);
    const bodies: Uint8Array[] = [];
    let offset = 0;
    while (joined.length - offset >= 4) {
      const length = new DataView(joined.buffer, offset).getInt32(0);
      if (joined.length - offset - 4 < length) break;
      bodies.push(joined.slice(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.#buffered = joined.slice(offset);
    return bodies;
  }
}

function framed(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setInt32(0, body.length);
  frame.set(body, 4);
  return frame;
}

function readString(view: DataView, offset: number): { value: string; end: number } {
  const length = view.getInt32(offset);
  const start = offset + 4;
  const bytes = new Uint8Array(view.buffer, view.byteOffset + start, Math.max(0, length));
  return { value: new TextDecoder().decode(bytes), end: start + Math.max(0, length) };
}

/** A ZooKeeper-protocol proxy on 127.0.0.1 in front of one server. */
export class ZkProtocolProxy {
  /** `127.0.0.1:PORT`, for a client's connection string. */
  readonly address: string;
  /** Requests seen from clients, by opcode (after the handshake). */
  readonly requestsByOpcode = new Map<number, number>();
  /** Events whose path was rewritten (Keeper mode). */
  rewrittenEvents = 0;
  /** Standard (one-shot) watches requested: exists, getData or getChildren with `watch` set. */
  standardWatchesRequested = 0;

  readonly #target: { hostname: string; port: number };
  readonly #options: ZkProtocolProxyOptions;
  readonly #listener: Deno.TcpListener;
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  /** Per open connection: the paths its client holds a persistent recursive watch on. */
  readonly #recursiveByConnection = new Set<Set<string>>();
  #closed = false;

  private constructor(
    target: { hostname: string; port: number },
    options: ZkProtocolProxyOptions,
    listener: Deno.TcpListener,
  ) {
    this.#target = target;
    this.#options = options;
    this.#listener = listener;
    this.address = `127.0.0.1:${listener.addr.port}`;
    this.#acceptLoop = this.#accept();
  }

  /** Starts a proxy on a free port of 127.0.0.1. */
  static start(
    target: { hostname: string; port: number },
    options: ZkProtocolProxyOptions,
  ): Promise<ZkProtocolProxy> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return Promise.resolve(new ZkProtocolProxy(target, options, listener));
  }

  /**
   * The paths with a persistent recursive watch on the server, over every open connection
   * (registered by `addWatch` or SetWatches2, dropped by `removeWatches` or the connection's end).
   */
  recursiveWatches(): string[] {
    return [...this.#recursiveByConnection].flatMap((paths) => [...paths]);
  }

  /** Closes every current connection, like a network reset; new ones are accepted. */
  dropAll(): void {
    for (const conn of this.#connections) closeQuietly(conn);
  }

  /** Stops listening, closes every connection and waits for the proxy's tasks. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#listener.close();
      for (const conn of this.#connections) closeQuietly(conn);
    }
    await this.#acceptLoop;
    await Promise.all(this.#tasks);
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // closed
      }
      const task = this.#serve(client);
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    this.#connections.add(client);
    let server: Deno.TcpConn | undefined;
    try {
      server = await Deno.connect(this.#target);
      this.#connections.add(server);
      const hangUp = () => {
        closeQuietly(client);
        closeQuietly(server!);
      };
      const recursive = new Set<string>();
      this.#recursiveByConnection.add(recursive);
      try {
        await Promise.all([
          this.#pump(client, server, (body) => this.#fromClient(body, recursive, hangUp)),
          this.#pump(server, client, (body) => this.#fromServer(body, recursive)),
        ]);
      } finally {
        this.#recursiveByConnection.delete(recursive);
      }
    } catch {
      // The server is down, or a side was closed.
    } finally {
      closeQuietly(client);
      this.#connections.delete(client);
      if (server) {
        closeQuietly(server);
        this.#connections.delete(server);
      }
    }
  }

  /** Copies frames from `from` to `to`, each through `rewrite` after the handshake's. */
  async #pump(
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    rewrite: (body: Uint8Array) => Uint8Array | undefined,
  ): Promise<void> {
    const splitter = new FrameSplitter();
    const buffer = new Uint8Array(64 * 1024);
    let handshakeDone = false;
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) break;
        for (const body of splitter.push(buffer.subarray(0, read))) {
          const out = handshakeDone ? rewrite(body) : body;
          handshakeDone = true;
          if (out === undefined) return; // hung up
          await writeAll(to, framed(out));
        }
      }
    } catch {
      // Reset or closed.
    }
    closeQuietly(from);
    closeQuietly(to);
  }

  #fromClient(
    body: Uint8Array,
    recursive: Set<string>,
    hangUp: () => void,
  ): Uint8Array | undefined {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const opcode = view.getInt32(4);
    const seen = (this.requestsByOpcode.get(opcode) ?? 0) + 1;
    this.requestsByOpcode.set(opcode, seen);
    if (seen === 1 && this.#options.hangUpOnceOn?.includes(opcode)) {
      hangUp();
      return undefined;
    }
    if (this.#options.unknownOpcodes?.includes(opcode)) {
      if (this.#options.unknownOpcodeAnswer === "hangUp") {
        hangUp();
        return undefined;
      }
      const renamed = body.slice();
      new DataView(renamed.buffer).setInt32(4, OPCODE_NOBODY_KNOWS);
      return renamed;
    }
    if (READS_WITH_WATCH_FLAG.has(opcode)) {
      const { end } = readString(view, 8);
      if (view.getUint8(end) !== 0) this.standardWatchesRequested++;
    } else if (opcode === Opcode.addWatch) {
      const { value: path, end } = readString(view, 8);
      if (view.getInt32(end) === PERSISTENT_RECURSIVE_MODE) recursive.add(path);
    } else if (opcode === Opcode.removeWatches) {
      const { value: path, end } = readString(view, 8);
      if (view.getInt32(end) === PERSISTENT_RECURSIVE_WATCHER_TYPE) recursive.delete(path);
    } else if (opcode === Opcode.setWatches2) {
      // {long relativeZxid; vector data, exist, child, persistent, persistentRecursive}
      let offset = 16;
      for (let vector = 0; vector < 5; vector++) {
        const count = view.getInt32(offset);
        offset += 4;
        for (let i = 0; i < count; i++) {
          const { value: path, end } = readString(view, offset);
          if (vector === 4) recursive.add(path);
          offset = end;
        }
      }
    }
    return body;
  }

  #fromServer(body: Uint8Array, recursive: Set<string>): Uint8Array {
    if (!this.#options.keeperEventPaths) return body;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (view.getInt32(0) !== NOTIFICATION_XID) return body;
    // ReplyHeader {xid, zxid, err} = 16 bytes, then WatcherEvent {type, state, path}.
    const type = view.getInt32(16);
    const { value: path } = readString(view, 24);
    if (!RECURSIVE_EVENT_TYPES.has(type)) return body;
    const watched = [...recursive].find((root) => path.startsWith(`${root}/`));
    if (watched === undefined) return body;
    this.rewrittenEvents++;
    const pathBytes = new TextEncoder().encode(watched);
    const rewritten = new Uint8Array(24 + 4 + pathBytes.length);
    rewritten.set(body.subarray(0, 24));
    new DataView(rewritten.buffer).setInt32(24, pathBytes.length);
    rewritten.set(pathBytes, 28);
    return rewritten;
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
