/**
 * The ZooKeeper session layer: the project's one door to ZooKeeper.
 *
 * @module
 */
export * from "./errors.ts";
export * from "./types.ts";
export * from "./session.ts";
export { childPath } from "./delete_recursive.ts";
export type { ZkServerAddress } from "./socket.ts";
