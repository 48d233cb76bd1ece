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
export * from "./src/process.ts";
export * from "./src/debug_signal.ts";
export * from "./src/options.ts";
export * from "./src/metrics.ts";
export * from "./src/status_server.ts";
export * from "./src/session_metrics.ts";
export * from "./src/connection_string.ts";
export * from "./src/common_options.ts";
export * from "./src/znode_path.ts";
export * from "./src/host_port.ts";
export * from "./src/registrations.ts";
export * from "./src/health_check.ts";
export * from "./src/registrar.ts";
export * from "./src/client_config.ts";
export * from "./src/client_app.ts";
export * from "./src/asabru/wire.ts";
export * from "./src/asabru/sender.ts";
export * from "./src/delivery/decide.ts";
export * from "./src/delivery/proxy_queue.ts";
export * from "./src/asabru/config_template.ts";
export * from "./src/asabru/config_document.ts";
export * from "./src/delivery/whole_state_plan.ts";
export * from "./src/delivery/whole_state_pusher.ts";
export * from "./src/monitor/tree_mirror.ts";
export * from "./src/monitor/wanted_service.ts";
export * from "./src/monitor_config.ts";
export * from "./src/monitor_app.ts";
export * from "./src/mode.ts";
export * from "./src/status_port.ts";
export * from "./src/proxy_url.ts";
export * from "./src/session_status.ts";
export * from "./src/operator_auth.ts";
export * from "./src/status_page/routes.ts";
export * from "./src/monitor/status_report.ts";
export * from "./src/monitor/actions.ts";
export * from "./src/client_status.ts";
