/**
 * Plain data the session layer hands to its callers: stats, ACLs, watch events, create modes.
 *
 * @module
 */
import type { ZkError } from "./errors.ts";

/** A znode's metadata, with 64-bit fields as `bigint`. */
export interface ZkStat {
  /** zxid of the transaction that created the znode: a delete and re-create changes it. */
  czxid: bigint;
  /** zxid of the transaction that last changed the znode's data. */
  mzxid: bigint;
  /** zxid of the transaction that last changed the znode's children. */
  pzxid: bigint;
  /** Creation time, milliseconds since the epoch. */
  ctime: number;
  /** Time of the last data change, milliseconds since the epoch. */
  mtime: number;
  /** Number of changes to the data (what a conditional `setData` or `delete` compares). */
  version: number;
  /** Number of changes to the children. */
  cversion: number;
  /** Number of changes to the ACL. */
  aversion: number;
  /** Session id owning an ephemeral znode; `0n` for a persistent one. */
  ephemeralOwner: bigint;
  /** Length of the data, in bytes. */
  dataLength: number;
  /** Number of children. */
  numChildren: number;
}

/** ZooKeeper permission bits, combinable with `|`. */
export const ZkPerm = {
  READ: 1,
  WRITE: 2,
  CREATE: 4,
  DELETE: 8,
  ADMIN: 16,
  ALL: 31,
} as const;

/** One ACL entry: `scheme:id` gets `perms`. */
export interface ZkAclEntry {
  /** {@link ZkPerm} bits. */
  perms: number;
  /** `world`, `auth`, `digest`, `ip`, ... */
  scheme: string;
  /** The identity within the scheme (`anyone` for `world`). */
  id: string;
}

/** Anyone may do anything (ZooKeeper's OPEN_ACL_UNSAFE). */
export const OPEN_ACL: readonly ZkAclEntry[] = [{
  perms: ZkPerm.ALL,
  scheme: "world",
  id: "anyone",
}];

/**
 * Only the creator's authenticated identities may change the znode; everyone may read it. Needs
 * credentials on the session (`ZK_AUTH`), otherwise ZooKeeper answers "invalid ACL".
 */
export const CREATOR_ALL_WORLD_READ_ACL: readonly ZkAclEntry[] = [
  { perms: ZkPerm.ALL, scheme: "auth", id: "" },
  { perms: ZkPerm.READ, scheme: "world", id: "anyone" },
];

/** How a znode is created. */
export type ZkCreateMode =
  | "persistent"
  | "ephemeral"
  | "persistent_sequential"
  | "ephemeral_sequential";

/** What a one-shot watch reports. */
export interface ZkWatchEvent {
  /** What happened to the watched znode. */
  type: "created" | "deleted" | "dataChanged" | "childrenChanged";
  /** The znode's path (without the chroot). */
  path: string;
}

/** Called once when a watch fires. Thrown errors are logged, never propagated. */
export type ZkWatcher = (event: ZkWatchEvent) => void;

/** One operation of an atomic `multi` transaction. */
export type ZkOp =
  | {
    op: "create";
    path: string;
    data?: Uint8Array;
    mode?: ZkCreateMode;
    acl?: readonly ZkAclEntry[];
  }
  | { op: "delete"; path: string; version?: number }
  | { op: "setData"; path: string; data: Uint8Array; version?: number }
  | { op: "check"; path: string; version: number };

/**
 * One result of `multiRead`, in the order of the reads: the data or children, or the error of
 * that one read (`ZkNoNodeError` for a znode that is gone).
 */
export type ZkReadResult =
  | { op: "getData"; path: string; data: Uint8Array; stat: ZkStat }
  | { op: "getChildren"; path: string; children: string[] }
  | { op: "getData" | "getChildren"; path: string; error: ZkError };

/**
 * A persistent watch's reach: `"persistent"` is the node itself (its data, its existence, its
 * children list); `"persistentRecursive"` is the node and everything under it (created, deleted,
 * dataChanged; never childrenChanged).
 */
export type ZkPersistentWatchKind = "persistent" | "persistentRecursive";

/** Formats a session id the way ZooKeeper's own logs do (`0x` and hex). */
export function formatSessionId(sessionId: bigint): string {
  return `0x${sessionId.toString(16)}`;
}

/** One read of {@link ZkSession.multiRead}. */
export interface ZkReadOp {
  /** The read to make. */
  type: "getData" | "getChildren";
  /** The znode to read. */
  path: string;
}
