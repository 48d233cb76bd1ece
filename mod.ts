/**
 * zk-cluster-monitor: the ZooKeeper integration of the ChistaDATA Asabru proxy, as a library.
 * What a program embedding the monitor or the client needs, and nothing of their insides (those
 * are in `src/`, one folder per program and concern; see the README's "Architecture").
 *
 * - **The monitor** ({@link startMonitor}): mirrors a ZooKeeper tree and keeps each Asabru proxy
 *   holding exactly the services registered there.
 * - **The client** ({@link startClient}): keeps this node's services registered as ephemeral
 *   znodes while their health checks pass.
 * - **Their configuration**: one declaration of options per program ({@link monitorOptions},
 *   {@link clientOptions}) from which `--help`, flags, environment and error lines all come.
 * - **Process helpers** the entry scripts use: logging, signals, the status port, plain lines.
 * - **The ZooKeeper client** (`ZkSession`, its named errors and types) and throwaway local
 *   ZooKeeper servers for tests and demos.
 *
 * @example Embedding the monitor
 * ```ts
 * import { configureLogging, loadMonitorConfig, startMonitor } from "./mod.ts";
 *
 * await configureLogging();
 * const config = await loadMonitorConfig(["--zk-host=127.0.0.1:2181"], new Map());
 * if (config.kind !== "run") throw new Error(JSON.stringify(config));
 * const monitor = await startMonitor({ ...config.options, zkHost: config.options.zkHost });
 * // ... later
 * await monitor.shutdown();
 * ```
 *
 * @module
 */

// The monitor.
export { type MonitorApp, startMonitor } from "./src/monitor/app.ts";
export type { ResyncResult } from "./src/monitor/resync.ts";
export type { ProxyDelivery } from "./src/monitor/delivery/proxy_delivery.ts";
export { DRY_RUN } from "./src/monitor/delivery/dry_run.ts";
export {
  loadMonitorConfig,
  type MonitorConfigResult,
  MonitorExit,
  monitorHelp,
  type MonitorOptions,
  monitorOptions,
} from "./src/monitor/config.ts";
export { readStatusToken, StatusTokenFileError } from "./src/monitor/operator_auth.ts";
export { parseConfigTemplate } from "./src/asabru/parse_config_template.ts";
export type { ConfigTemplate } from "./src/asabru/config_template.ts";

// The client.
export { type ClientApp, startClient } from "./src/client/app.ts";
export {
  type ClientConfig,
  type ClientConfigResult,
  ClientExit,
  clientHelp,
  type ClientOptions,
  clientOptions,
  loadClientConfig,
} from "./src/client/config.ts";

// Configuration, logging and the process, shared by both programs.
export {
  type EnvSource,
  type OptionSpec,
  type OptionSpecs,
  type Parsed,
  parseOptions,
  type ParseResult,
} from "./src/shared/options.ts";
export { configureLogging, type LogFormat, type LoggingOptions } from "./src/shared/logging.ts";
export { exitOnSecondSignal, printLines } from "./src/shared/process.ts";
export { exitIfStatusPortTaken, exitOnListenFailure } from "./src/shared/status_port.ts";
export { ignoreDebugSignal, warnDebugSignalNotIgnored } from "./src/shared/debug_signal.ts";
export { type Mode, MODES, resolveMode } from "./src/shared/mode.ts";

// ZooKeeper: the client both programs use, and throwaway servers for tests and demos.
export * from "./src/zookeeper/mod.ts";
export {
  findZooKeeperInstall,
  LocalEnsemble,
  LocalZooKeeper,
  type LocalZooKeeperOptions,
  type ZooKeeperInstall,
  ZooKeeperNotInstalledError,
} from "./src/dev/local_zookeeper.ts";
