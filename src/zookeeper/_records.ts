/**
 * ZooKeeper's wire records (zookeeper.jute) as plain data, with one encoder or decoder each: the
 * connect handshake, request and reply headers, every operation the project sends, and watch
 * events. Nothing here knows about sockets or sessions.
 *
 * @module
 */
import { JuteReader, JuteWriter, ZkDecodeError } from "./_jute.ts";
import type { ZkAclEntry, ZkReadOp, ZkStat } from "./types.ts";

/** Operation codes (`ZooDefs.OpCode`). */
export const OpCode = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getAcl: 6,
  getChildren: 8,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  removeWatches: 18,
  multiRead: 22,
  auth: 100,
  setWatches: 101,
  setWatches2: 105,
  addWatch: 106,
  closeSession: -11,
  error: -1,
} as const;

/** The xids with a meaning of their own; requests use positive ones. */
export const Xid = {
  notification: -1,
  ping: -2,
  auth: -4,
  setWatches: -8,
} as const;

/** The protocol version every 3.x server speaks. */
const PROTOCOL_VERSION = 0;

/** Every error code ZooKeeper 3.4–3.9 defines; anything else in a reply is a corrupt packet. */
const KNOWN_ERROR_CODES = new Set([
  0,
  -1,
  -2,
  -3,
  -4,
  -5,
  -6,
  -7,
  -8,
  -13,
  -14,
  -15,
  ...Array.from({ length: 28 }, (_, i) => -100 - i),
]);

/** Watch event types (`Watcher.Event.EventType`), by number. */
export const EventType = {
  none: -1,
  created: 1,
  deleted: 2,
  dataChanged: 3,
  childrenChanged: 4,
  dataWatchRemoved: 5,
  childWatchRemoved: 6,
  persistentWatchRemoved: 7,
} as const;

/** `addWatch` modes (`AddWatchMode`). */
export const AddWatchMode = { persistent: 0, persistentRecursive: 1 } as const;

// ---- the handshake ----

/** What a client sends first on every connection. */
export interface ConnectRequest {
  lastZxidSeen: bigint;
  timeoutMs: number;
  sessionId: bigint;
  password: Uint8Array;
  readOnly: boolean;
}

/** The server's answer to {@link ConnectRequest}. */
export interface ConnectResponse {
  protocolVersion: number;
  /** The negotiated session timeout; 0 when the session asked for has expired. */
  timeoutMs: number;
  sessionId: bigint;
  password: Uint8Array;
  /** `false` when the server did not send the trailing byte (3.4 servers). */
  readOnly: boolean;
}

/** The framed ConnectRequest, with the trailing read-only byte the Java client sends. */
export function encodeConnectRequest(request: ConnectRequest): Uint8Array {
  const writer = new JuteWriter(64).int(0)
    .int(PROTOCOL_VERSION)
    .long(request.lastZxidSeen)
    .int(request.timeoutMs)
    .long(request.sessionId)
    .buffer(request.password)
    .bool(request.readOnly);
  return writer.intAt(0, writer.length - 4).finish();
}

/** Decodes a ConnectResponse body (the packet without its length). */
export function decodeConnectResponse(body: Uint8Array): ConnectResponse {
  const reader = new JuteReader(body);
  const response = {
    protocolVersion: reader.int(),
    timeoutMs: reader.int(),
    sessionId: BigInt.asUintN(64, reader.long()),
    password: reader.buffer() ?? new Uint8Array(),
    readOnly: false,
  };
  if (reader.remaining > 0) response.readOnly = reader.bool();
  return response;
}

// ---- requests ----

/** Frames one request: length, RequestHeader{xid, type}, then what `body` writes. */
export function encodeRequest(
  xid: number,
  type: number,
  body?: (writer: JuteWriter) => void,
): Uint8Array {
  const writer = new JuteWriter(64).int(0).int(xid).int(type);
  body?.(writer);
  return writer.intAt(0, writer.length - 4).finish();
}

/** `{path, watch}`: exists, getData, getChildren(2). */
export function writePathWatch(writer: JuteWriter, path: string, watch: boolean): void {
  writer.string(path).bool(watch);
}

/** CreateRequest `{path, data, acl, flags}`. */
export function writeCreate(
  writer: JuteWriter,
  path: string,
  data: Uint8Array,
  acl: readonly ZkAclEntry[],
  flags: number,
): void {
  writer.string(path).buffer(data).int(acl.length);
  for (const entry of acl) writer.int(entry.perms).string(entry.scheme).string(entry.id);
  writer.int(flags);
}

/** DeleteRequest / CheckVersionRequest `{path, version}`. */
export function writePathVersion(writer: JuteWriter, path: string, version: number): void {
  writer.string(path).int(version);
}

/** SetDataRequest `{path, data, version}`. */
export function writeSetData(
  writer: JuteWriter,
  path: string,
  data: Uint8Array,
  version: number,
): void {
  writer.string(path).buffer(data).int(version);
}

/** One write of a `multi` transaction, paths already as the server sees them. */
export type MultiWrite =
  | { type: "create"; path: string; data: Uint8Array; acl: readonly ZkAclEntry[]; flags: number }
  | { type: "delete"; path: string; version: number }
  | { type: "setData"; path: string; data: Uint8Array; version: number }
  | { type: "check"; path: string; version: number };

/** MultiTxnRequest: a MultiHeader before every op, and the closing `{-1, true, -1}`. */
export function writeMulti(writer: JuteWriter, ops: readonly MultiWrite[]): void {
  for (const op of ops) {
    switch (op.type) {
      case "create":
        writer.int(OpCode.create).bool(false).int(-1);
        writeCreate(writer, op.path, op.data, op.acl, op.flags);
        break;
      case "delete":
        writer.int(OpCode.delete).bool(false).int(-1);
        writePathVersion(writer, op.path, op.version);
        break;
      case "setData":
        writer.int(OpCode.setData).bool(false).int(-1);
        writeSetData(writer, op.path, op.data, op.version);
        break;
      case "check":
        writer.int(OpCode.check).bool(false).int(-1);
        writePathVersion(writer, op.path, op.version);
        break;
    }
  }
  writer.int(-1).bool(true).int(-1);
}

/** MultiReadRequest: like multi, with getData (4) and getChildren (8) ops, no watches. */
export function writeMultiRead(writer: JuteWriter, ops: readonly ZkReadOp[]): void {
  for (const op of ops) {
    writer.int(op.type === "getData" ? OpCode.getData : OpCode.getChildren).bool(false).int(-1);
    writePathWatch(writer, op.path, false);
  }
  writer.int(-1).bool(true).int(-1);
}

/** Watch paths re-registered after a reconnect, by kind. */
export interface WatchLists {
  data: string[];
  exist: string[];
  child: string[];
  persistent: string[];
  persistentRecursive: string[];
}

/**
 * SetWatches (101) when there are only one-shot watches, SetWatches2 (105) when there are
 * persistent ones (a 3.4/3.5 server does not know 105).
 */
export function encodeSetWatches(relativeZxid: bigint, lists: WatchLists): Uint8Array {
  const persistent = lists.persistent.length + lists.persistentRecursive.length > 0;
  return encodeRequest(
    Xid.setWatches,
    persistent ? OpCode.setWatches2 : OpCode.setWatches,
    (writer) => {
      writer.long(relativeZxid).strings(lists.data).strings(lists.exist).strings(lists.child);
      if (persistent) writer.strings(lists.persistent).strings(lists.persistentRecursive);
    },
  );
}

/** AuthPacket `{type 0, scheme, auth}`, always on xid -4. */
export function encodeAuth(scheme: string, auth: Uint8Array): Uint8Array {
  return encodeRequest(
    Xid.auth,
    OpCode.auth,
    (writer) => writer.int(0).string(scheme).buffer(auth),
  );
}

// ---- replies ----

/** ReplyHeader `{xid, zxid, err}`. */
export interface ReplyHeader {
  xid: number;
  zxid: bigint;
  err: number;
}

/** Reads a ReplyHeader; an error code no ZooKeeper defines is a corrupt packet. */
export function readReplyHeader(reader: JuteReader): ReplyHeader {
  const header = { xid: reader.int(), zxid: reader.long(), err: reader.int() };
  if (!KNOWN_ERROR_CODES.has(header.err)) {
    throw new ZkDecodeError(`unknown error code ${header.err} in the reply to xid ${header.xid}`);
  }
  return header;
}

/** Stat: czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid. */
export function readStat(reader: JuteReader): ZkStat {
  const czxid = reader.long();
  const mzxid = reader.long();
  const ctime = Number(reader.long());
  const mtime = Number(reader.long());
  const version = reader.int();
  const cversion = reader.int();
  const aversion = reader.int();
  const ephemeralOwner = BigInt.asUintN(64, reader.long());
  const dataLength = reader.int();
  const numChildren = reader.int();
  const pzxid = reader.long();
  return {
    czxid,
    mzxid,
    pzxid,
    ctime,
    mtime,
    version,
    cversion,
    aversion,
    ephemeralOwner,
    dataLength,
    numChildren,
  };
}

/** GetDataResponse `{data, stat}`; null data reads as empty. */
export function readGetData(reader: JuteReader): { data: Uint8Array; stat: ZkStat } {
  const data = reader.buffer() ?? new Uint8Array();
  return { data, stat: readStat(reader) };
}

/** GetChildren2Response `{children, stat}`. */
export function readGetChildren2(reader: JuteReader): { children: string[]; stat: ZkStat } {
  const children = reader.strings();
  return { children, stat: readStat(reader) };
}

/** GetACLResponse `{acl, stat}`. */
export function readAcl(reader: JuteReader): ZkAclEntry[] {
  const count = reader.int();
  if (count > reader.remaining / 12) throw new ZkDecodeError(`ACL of ${count} entries too long`);
  const entries: ZkAclEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({ perms: reader.int(), scheme: reader.string() ?? "", id: reader.string() ?? "" });
  }
  readStat(reader);
  return entries;
}

/** CreateResponse `{path}`. */
export function readCreatedPath(reader: JuteReader): string {
  const path = reader.string();
  if (path === null) throw new ZkDecodeError("create answered with a null path");
  return path;
}

/** What one op of a multi or multiRead came back with. */
export type MultiResult =
  | { type: "ok" }
  | { type: "error"; err: number }
  | { type: "data"; data: Uint8Array; stat: ZkStat }
  | { type: "children"; children: string[] };

/** The results of a multi or multiRead, one per op, until the `done` header. */
export function readMultiResults(reader: JuteReader): MultiResult[] {
  const results: MultiResult[] = [];
  for (;;) {
    const type = reader.int();
    const done = reader.bool();
    const err = reader.int();
    if (done) return results;
    switch (type) {
      case OpCode.error:
        results.push({ type: "error", err: reader.int() });
        break;
      case OpCode.create:
        readCreatedPath(reader);
        results.push({ type: "ok" });
        break;
      case OpCode.create2:
        readCreatedPath(reader);
        readStat(reader);
        results.push({ type: "ok" });
        break;
      case OpCode.setData:
        readStat(reader);
        results.push({ type: "ok" });
        break;
      case OpCode.delete:
      case OpCode.check:
        results.push({ type: "ok" });
        break;
      case OpCode.getData:
        results.push({ type: "data", ...readGetData(reader) });
        break;
      case OpCode.getChildren:
        results.push({ type: "children", children: reader.strings() });
        break;
      default:
        throw new ZkDecodeError(`unknown op ${type} (err ${err}) in a multi reply`);
    }
  }
}

/** WatcherEvent `{type, state, path}`. */
export interface WatcherEvent {
  type: number;
  state: number;
  path: string;
}

/** Reads a WatcherEvent; an event type no ZooKeeper defines is a corrupt packet. */
export function readWatcherEvent(reader: JuteReader): WatcherEvent {
  const type = reader.int();
  const state = reader.int();
  const path = reader.string() ?? "";
  if (type < EventType.none || type > EventType.persistentWatchRemoved || type === 0) {
    throw new ZkDecodeError(`unknown watch event type ${type}`);
  }
  return { type, state, path };
}
