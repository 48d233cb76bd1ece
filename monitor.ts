/**
 * zk-monitor: mirrors a ZooKeeper root and keeps the Asabru proxy's service list equal to it.
 * Reads configuration, wires the parts (see `mod.ts`) and handles signals; nothing else.
 *
 * @module
 */
// From the modules themselves rather than mod.ts, which also holds the client's parts: the
// monitor loads only what it runs (every module costs resident memory; see bench/README.md).
import { configureLogging } from "./src/shared/logging.ts";
import { exitIfStatusPortTaken, exitOnListenFailure } from "./src/shared/status_port.ts";
import { exitOnSecondSignal, printLines } from "./src/shared/process.ts";
import { ignoreDebugSignal, warnDebugSignalNotIgnored } from "./src/shared/debug_signal.ts";
import { loadMonitorConfig, MonitorExit } from "./src/monitor/config.ts";
import type { LocalZooKeeper } from "./src/dev/local_zookeeper.ts";
import { readStatusToken, StatusTokenFileError } from "./src/monitor/operator_auth.ts";
import { startMonitor } from "./src/monitor/app.ts";
import { getLogger } from "@logtape/logtape";

// First of all: the shorter SIGUSR1 keeps its default action or the runtime's inspector, the
// better (src/shared/debug_signal.ts); its warning, if any, once logging is set up.
const debugSignalProblem = ignoreDebugSignal();

const loaded = await loadMonitorConfig(Deno.args, Deno.env);
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
// Read here, so an unreadable STATUS_TOKEN_FILE is one line and exit 2, like any bad option.
const statusToken = await readStatusToken(options).catch((error) => {
  if (!(error instanceof StatusTokenFileError)) throw error;
  printLines(Deno.stderr, [`zk-monitor: ${error.message}`]);
  Deno.exit(MonitorExit.INVALID_INPUT);
});
await configureLogging({ level: options.logLevel, format: options.logFormat });
const log = getLogger(["zkcm", "monitor"]);
warnDebugSignalNotIgnored(debugSignalProblem);

// Listened for before start-up: a stop while the local ZooKeeper starts (a JVM, seconds) or the
// status port opens must stop what was started, not leave an orphaned JVM and its directory.
let localZooKeeper: Promise<LocalZooKeeper | undefined> = Promise.resolve(undefined);
let app: Promise<Awaited<ReturnType<typeof startMonitor>> | undefined> = Promise.resolve(undefined);
let stopRequested = false;
const shutdown = exitOnSecondSignal(async (signal) => {
  stopRequested = true;
  log.info("{signal}: stopping", { signal });
  await (await app)?.shutdown();
  await (await localZooKeeper)?.close();
  log.info("stopped");
  Deno.exit(MonitorExit.OK);
});
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
Deno.addSignalListener("SIGHUP", () => app.then((started) => started?.resync("SIGHUP")));
// Its default action would kill the monitor in the middle of its deliveries.
Deno.addSignalListener("SIGUSR2", () => log.info("SIGUSR2 ignored"));

if (options.localZookeeper) {
  const { LocalZooKeeper, ZooKeeperNotInstalledError } = await import(
    "./src/dev/local_zookeeper.ts"
  );
  localZooKeeper = LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 }).catch((error) => {
    const message = error instanceof ZooKeeperNotInstalledError ? error.message : String(error);
    printLines(Deno.stderr, [`zk-monitor: --local-zookeeper: ${message}`]);
    Deno.exit(MonitorExit.FAILURE);
  });
  const zookeeper = await localZooKeeper;
  if (!stopRequested) {
    log.info(
      "started a throwaway local ZooKeeper at {zkHost} (--local-zookeeper); register a service with: ZK_HOST={zkHost} deno task client --register {root}/ch_http_node1/ch_http_service2=localhost:2023",
      { zkHost: zookeeper!.connectionString, root: options.rootNode },
    );
  }
}

if (!stopRequested) {
  const zkHost = (await localZooKeeper)?.connectionString ?? options.zkHost;
  app = startMonitor({ ...options, statusToken, zkHost }).catch(async (error) => {
    await (await localZooKeeper)?.close();
    return exitOnListenFailure("zk-monitor", options.statusPort, options.statusHost)(error);
  });
}

const started = await app;
await started?.sessionClosed;
if (started && !stopRequested) {
  log.fatal("the ZooKeeper session was closed (credentials refused?); exiting");
  await started.shutdown();
  await (await localZooKeeper)?.close();
  Deno.exit(MonitorExit.FAILURE);
}
