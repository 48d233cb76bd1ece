/**
 * zk-monitor: mirrors a ZooKeeper root and keeps the Asabru proxy's service list equal to it.
 * Reads configuration, wires the parts (see `mod.ts`) and handles signals; nothing else.
 *
 * @module
 */
import {
  configureLogging,
  exitIfStatusPortTaken,
  exitOnListenFailure,
  exitOnSecondSignal,
  ignoreDebugSignal,
  loadMonitorConfig,
  LocalZooKeeper,
  MonitorExit,
  printLines,
  startMonitor,
  ZooKeeperNotInstalledError,
} from "./mod.ts";
import { getLogger } from "@logtape/logtape";

const loaded = loadMonitorConfig(Deno.args, Deno.env);
if (loaded.kind === "help") {
  printLines(Deno.stdout, [loaded.text]);
  Deno.exit(MonitorExit.OK);
}
if (loaded.kind === "invalid") {
  printLines(Deno.stderr, loaded.problems.map((line) => `zk-monitor: ${line}`));
  Deno.exit(MonitorExit.INVALID_INPUT);
}

const { options } = loaded;
exitIfStatusPortTaken("zk-monitor", options.statusPort, options.statusHost);
await configureLogging({ level: options.logLevel, format: options.logFormat });
const log = getLogger(["zkcm", "monitor"]);
ignoreDebugSignal();

let localZooKeeper: LocalZooKeeper | undefined;
if (options.localZookeeper) {
  try {
    localZooKeeper = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
  } catch (error) {
    const message = error instanceof ZooKeeperNotInstalledError ? error.message : String(error);
    printLines(Deno.stderr, [`zk-monitor: --local-zookeeper: ${message}`]);
    Deno.exit(MonitorExit.FAILURE);
  }
  log.info(
    "started a throwaway local ZooKeeper at {zkHost} (--local-zookeeper); register a service with: ZK_HOST={zkHost} deno task client --register {root}/ch_http_node1/ch_http_service2=localhost:2023",
    { zkHost: localZooKeeper.connectionString, root: options.rootNode },
  );
}

const app = await startMonitor({
  ...options,
  zkHost: localZooKeeper?.connectionString ?? options.zkHost,
}).catch(exitOnListenFailure("zk-monitor", options.statusPort, options.statusHost));

let stopRequested = false;
const shutdown = exitOnSecondSignal(async (signal) => {
  stopRequested = true;
  log.info("{signal}: stopping", { signal });
  await app.shutdown();
  await localZooKeeper?.close();
  log.info("stopped");
  Deno.exit(MonitorExit.OK);
});
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGHUP", () => app.resync("SIGHUP"));
// Its default action would kill the monitor in the middle of its deliveries.
Deno.addSignalListener("SIGUSR2", () => log.info("SIGUSR2 ignored"));

await app.sessionClosed;
if (!stopRequested) {
  log.fatal("the ZooKeeper session was closed (credentials refused?); exiting");
  await app.shutdown();
  await localZooKeeper?.close();
  Deno.exit(MonitorExit.FAILURE);
}
