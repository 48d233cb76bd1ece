/**
 * A ZooKeeper client for Deno, speaking the wire protocol itself (plain TCP or TLS): a session
 * that stays alive ({@link ZkSession}), with one-shot and persistent (recursive) watches,
 * `multi`, `multiRead`, digest auth, chroot, and named errors carrying the path. It imports
 * nothing but Deno's APIs and `@logtape/logtape` (for its own log lines, category
 * `["zkcm", "session"]`).
 *
 * @example
 * ```ts
 * import { ZkSession } from "./mod.ts";
 * await using session = ZkSession.open({ connectionString: "127.0.0.1:2181" });
 * await session.waitUntilConnected({ timeoutMs: 5000 });
 * const { data } = await session.getData("/cluster1");
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./types.ts";
export * from "./session.ts";
export { childPath } from "./delete_recursive.ts";
export type { ZkEnsemble, ZkServerAddress } from "./servers.ts";
export type { ZkConnectionFailure, ZkConnectionFailureKind, ZkTlsOptions } from "./socket.ts";
export { ZkDecodeError } from "./_jute.ts";
