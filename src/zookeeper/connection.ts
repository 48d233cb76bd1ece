/**
 * One ZooKeeper session on the wire and its operations: what each request writes and how its
 * reply is read, the chroot applied, watches registered when the reply says so. The connection
 * itself (handshake, queues, reconnects) is {@link ConnectionLoop}. It lives for one session:
 * when the session expires it says so and stops; the owner (`ZkSession`) makes a new one.
 *
 * @module
 */
import { ZkDecodeError } from "./_jute.ts";
import {
  AddWatchMode,
  type MultiResult,
  type MultiWrite,
  OpCode,
  readAcl,
  readCreatedPath,
  readGetChildren2,
  readGetData,
  readMultiResults,
  readStat,
  writeCreate,
  writeMulti,
  writeMultiRead,
  writePathVersion,
  writePathWatch,
  writeSetData,
} from "./_records.ts";
import { ZkErrorCode, zkErrorFromCode } from "./errors.ts";
import type {
  ZkAclEntry,
  ZkCreateMode,
  ZkOp,
  ZkPersistentWatchKind,
  ZkReadOp,
  ZkReadResult,
  ZkStat,
  ZkWatcher,
} from "./types.ts";

import { ConnectionLoop } from "./_connection_loop.ts";

export type { ZkConnectionEvent, ZkConnectionOptions } from "./_connection_loop.ts";

const createFlags: Record<ZkCreateMode, number> = {
  persistent: 0,
  ephemeral: 1,
  persistent_sequential: 2,
  ephemeral_sequential: 3,
};

/**
 * One ZooKeeper session over a series of connections, with every operation the project uses.
 * Requests made while disconnected wait in order and go out after the reconnect; requests in
 * flight when a connection ends fail with `ZkConnectionLossError` (their outcome is unknown).
 */
export class ZkConnection extends ConnectionLoop {
  /** Creates a znode; resolves its path (with the sequence suffix), chroot removed. */
  create(
    path: string,
    data: Uint8Array,
    acl: readonly ZkAclEntry[],
    mode: ZkCreateMode,
  ): Promise<string> {
    return this.submit(
      OpCode.create,
      path,
      (reader) => this.fromServerPath(readCreatedPath(reader)),
      (writer) => writeCreate(writer, this.toServerPath(path), data, acl, createFlags[mode]),
    );
  }

  remove(path: string, version: number): Promise<void> {
    return this.submit(
      OpCode.delete,
      path,
      () => undefined,
      (writer) => writePathVersion(writer, this.toServerPath(path), version),
    );
  }

  getData(path: string, watcher?: ZkWatcher): Promise<{ data: Uint8Array; stat: ZkStat }> {
    return this.submit(
      OpCode.getData,
      path,
      (reader) => {
        const result = readGetData(reader);
        if (watcher) this.watches.addOneShot("data", path, watcher);
        return result;
      },
      (writer) => writePathWatch(writer, this.toServerPath(path), watcher !== undefined),
    );
  }

  setData(path: string, data: Uint8Array, version: number): Promise<ZkStat> {
    return this.submit(
      OpCode.setData,
      path,
      readStat,
      (writer) => writeSetData(writer, this.toServerPath(path), data, version),
    );
  }

  exists(path: string, watcher?: ZkWatcher): Promise<ZkStat | null> {
    return this.submit(
      OpCode.exists,
      path,
      (reader) => {
        const stat = readStat(reader);
        if (watcher) this.watches.addOneShot("data", path, watcher);
        return stat;
      },
      (writer) => writePathWatch(writer, this.toServerPath(path), watcher !== undefined),
      (err) => {
        if (err !== ZkErrorCode.noNode) return undefined;
        // No node: the server keeps an existence watch, and so do we.
        if (watcher) this.watches.addOneShot("exist", path, watcher);
        return { value: null };
      },
    );
  }

  getChildren(path: string, watcher?: ZkWatcher): Promise<{ children: string[]; stat: ZkStat }> {
    return this.submit(
      OpCode.getChildren2,
      path,
      (reader) => {
        const result = readGetChildren2(reader);
        if (watcher) this.watches.addOneShot("child", path, watcher);
        return result;
      },
      (writer) => writePathWatch(writer, this.toServerPath(path), watcher !== undefined),
    );
  }

  getAcl(path: string): Promise<ZkAclEntry[]> {
    return this.submit(
      OpCode.getAcl,
      path,
      readAcl,
      (writer) => writer.string(this.toServerPath(path)),
    );
  }

  /** Applies every write or none; rejects with the error of the op that failed, and its path. */
  multi(ops: readonly ZkOp[]): Promise<void> {
    const writes: MultiWrite[] = ops.map((op): MultiWrite => {
      const path = this.toServerPath(op.path);
      switch (op.op) {
        case "create":
          return {
            type: "create",
            path,
            data: op.data ?? new Uint8Array(),
            acl: op.acl ?? OPEN,
            flags: createFlags[op.mode ?? "persistent"],
          };
        case "delete":
          return { type: "delete", path, version: op.version ?? -1 };
        case "setData":
          return { type: "setData", path, data: op.data, version: op.version ?? -1 };
        case "check":
          return { type: "check", path, version: op.version };
      }
    });
    return this.submit(
      OpCode.multi,
      ops[0]?.path,
      (reader) => {
        const results = readMultiResults(reader);
        const failed = firstFailure(results);
        if (failed >= 0) {
          const { err } = results[failed] as { err: number };
          throw zkErrorFromCode(err, ops[failed]?.path);
        }
      },
      (writer) => writeMulti(writer, writes),
    );
  }

  /**
   * Reads many znodes in one request (ZooKeeper 3.6+, opcode 22), without watches. Each read
   * succeeds or fails on its own. A server that does not know the opcode answers with an error or
   * drops the connection: the promise then rejects.
   */
  multiRead(ops: readonly ZkReadOp[]): Promise<ZkReadResult[]> {
    return this.submit(
      OpCode.multiRead,
      ops[0]?.path,
      (reader) => {
        const results = readMultiResults(reader);
        if (results.length !== ops.length) {
          throw new ZkDecodeError(`multiRead of ${ops.length} answered with ${results.length}`);
        }
        return results.map((result, i) => toReadResult(ops[i], result));
      },
      (writer) =>
        writeMultiRead(
          writer,
          ops.map((op) => ({ type: op.type, path: this.toServerPath(op.path) })),
        ),
    );
  }

  /**
   * Adds a persistent (or persistent recursive) watch (ZooKeeper 3.6+, opcode 106): `listener`
   * receives every event for `path` (and, recursive, every path under it) until removed, also
   * across reconnects (re-registered with SetWatches2). Missed events are not replayed.
   */
  addWatch(path: string, kind: ZkPersistentWatchKind, listener: ZkWatcher): Promise<void> {
    return this.submit(
      OpCode.addWatch,
      path,
      () => {
        this.watches.addPersistent(kind, path, listener);
      },
      (writer) =>
        writer.string(this.toServerPath(path)).int(
          kind === "persistent" ? AddWatchMode.persistent : AddWatchMode.persistentRecursive,
        ),
    );
  }

  /**
   * Stops `listener`. When it was the last on that path, the server is asked to drop the watch
   * too (best effort: a server that cannot is simply ignored).
   */
  async removeWatch(path: string, kind: ZkPersistentWatchKind, listener: ZkWatcher): Promise<void> {
    if (!this.watches.removePersistent(kind, path, listener)) return;
    if (!this.isConnected) return;
    // WatcherType 4 (persistent) / 5 (persistent recursive), from 3.6.
    const watcherType = kind === "persistent" ? 4 : 5;
    await this.submit(
      OpCode.removeWatches,
      path,
      () => undefined,
      (writer) => writer.string(this.toServerPath(path)).int(watcherType),
    ).catch(() => {});
  }
}

const OPEN: readonly ZkAclEntry[] = [{ perms: 31, scheme: "world", id: "anyone" }];

/** The op that made a multi fail: the first error other than "rolled back". */
function firstFailure(results: readonly MultiResult[]): number {
  let rolledBack = -1;
  for (let i = 0; i < results.length; i++) {
    const result = results[i];
    if (result.type !== "error" || result.err === 0) continue;
    if (result.err !== ZkErrorCode.runtimeInconsistency) return i;
    if (rolledBack < 0) rolledBack = i;
  }
  return rolledBack;
}

function toReadResult(op: ZkReadOp, result: MultiResult): ZkReadResult {
  if (result.type === "error") {
    return { op: op.type, path: op.path, error: zkErrorFromCode(result.err, op.path) };
  }
  if (op.type === "getData" && result.type === "data") {
    return { op: "getData", path: op.path, data: result.data, stat: result.stat };
  }
  if (op.type === "getChildren" && result.type === "children") {
    return { op: "getChildren", path: op.path, children: result.children };
  }
  throw new ZkDecodeError(`multiRead answered ${result.type} to ${op.type}`);
}
