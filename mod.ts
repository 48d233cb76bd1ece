/**
 * zk-cluster-monitor: the ZooKeeper integration of the ChistaDATA Asabru proxy. This module is the
 * shared core of the `monitor` and `client` programs; everything they use is exported here.
 *
 * @module
 */
export * from "./src/zookeeper/mod.ts";
export * from "./src/shared/logging.ts";
export {
  findZooKeeperInstall,
  LocalEnsemble,
  LocalZooKeeper,
  type LocalZooKeeperOptions,
  type ZooKeeperInstall,
  ZooKeeperNotInstalledError,
} from "./src/dev/local_zookeeper.ts";
export * from "./src/shared/process.ts";
export * from "./src/shared/debug_signal.ts";
export * from "./src/shared/options.ts";
export * from "./src/shared/metrics.ts";
export * from "./src/shared/status_server.ts";
export * from "./src/session/metrics.ts";
export * from "./src/session/connection_string.ts";
export * from "./src/shared/common_options.ts";
export * from "./src/service/znode_path.ts";
export * from "./src/service/host_port.ts";
export * from "./src/client/registrations.ts";
export * from "./src/client/health_check.ts";
export * from "./src/client/registrar.ts";
export * from "./src/client/config.ts";
export * from "./src/client/app.ts";
export * from "./src/asabru/wire.ts";
export * from "./src/asabru/sender.ts";
export * from "./src/monitor/delivery/decide.ts";
export * from "./src/monitor/delivery/proxy_queue.ts";
export * from "./src/asabru/config_template.ts";
export * from "./src/asabru/parse_config_template.ts";
export * from "./src/asabru/config_document.ts";
export * from "./src/monitor/delivery/whole_state_plan.ts";
export * from "./src/monitor/delivery/whole_state_pusher.ts";
export * from "./src/monitor/tree_mirror.ts";
export * from "./src/monitor/wanted_service.ts";
export * from "./src/monitor/config.ts";
export * from "./src/monitor/app.ts";
export * from "./src/shared/mode.ts";
export * from "./src/shared/status_port.ts";
export * from "./src/monitor/proxy_url.ts";
export * from "./src/session/status.ts";
export * from "./src/monitor/operator_auth.ts";
export * from "./src/shared/status_page/routes.ts";
export * from "./src/monitor/status_report.ts";
export * from "./src/monitor/actions.ts";
export * from "./src/client/status_report.ts";
