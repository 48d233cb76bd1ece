/**
 * zk-cluster-monitor: the ZooKeeper integration of the ChistaDATA Asabru proxy. This module is the
 * shared core of the `monitor` and `client` programs; everything they use is exported here.
 *
 * @module
 */
export * from "./src/zookeeper/mod.ts";
export * from "./src/logging.ts";
export {
  findZooKeeperInstall,
  LocalEnsemble,
  LocalZooKeeper,
  type LocalZooKeeperOptions,
  type ZooKeeperInstall,
  ZooKeeperNotInstalledError,
} from "./src/local_zookeeper.ts";
