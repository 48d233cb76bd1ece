/**
 * zk-client: registers ClickHouse services as ephemeral znodes and keeps them registered.
 * Reads configuration, wires the parts (see `mod.ts`) and handles signals; nothing else.
 *
 * @module
 */
// From the modules themselves rather than mod.ts, which also holds the monitor's parts: the
// client loads only what it runs (every module costs resident memory).
import { ClientExit, loadClientConfig } from "./src/client/config.ts";
import { configureLogging } from "./src/shared/logging.ts";
import { exitIfStatusPortTaken, exitOnListenFailure } from "./src/shared/status_port.ts";
import { exitOnSecondSignal, printLines } from "./src/shared/process.ts";
import { ignoreDebugSignal, warnDebugSignalNotIgnored } from "./src/shared/debug_signal.ts";
import { startClient } from "./src/client/app.ts";
import { getLogger } from "@logtape/logtape";

// First of all: the shorter SIGUSR1 keeps its default action or the runtime's inspector, the
// better (src/shared/debug_signal.ts); its warning, if any, once logging is set up.
const debugSignalProblem = ignoreDebugSignal();

const loaded = await loadClientConfig(Deno.args, Deno.env);
if (loaded.kind === "help") {
  printLines(Deno.stdout, [loaded.text]);
  Deno.exit(ClientExit.OK);
}
if (loaded.kind === "invalid") {
  printLines(Deno.stderr, loaded.problems.map((line) => `zk-client: ${line}`));
  Deno.exit(ClientExit.INVALID_INPUT);
}

const { options } = loaded.config;
exitIfStatusPortTaken("zk-client", options.statusPort, options.statusHost);
await configureLogging({ level: options.logLevel, format: options.logFormat });
const log = getLogger(["zkcm", "client"]);
warnDebugSignalNotIgnored(debugSignalProblem);

// Listened for before start-up: a stop while it starts ends the session it opened, at once.
const app = startClient(loaded.config).catch(
  exitOnListenFailure("zk-client", options.statusPort, options.statusHost),
);

const shutdown = exitOnSecondSignal(async (signal) => {
  log.info("{signal}: removing registrations and closing the session", { signal });
  await (await app).shutdown();
  log.info("stopped");
  Deno.exit(ClientExit.OK);
});
Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM"));
Deno.addSignalListener("SIGINT", () => shutdown("SIGINT"));
// Their default action would kill the client and leave its registrations to the session timeout.
Deno.addSignalListener("SIGHUP", () => {
  log.info("SIGHUP ignored: nodes.json is read at start; restart the client to apply a change");
});
Deno.addSignalListener("SIGUSR2", () => log.info("SIGUSR2 ignored"));

const started = await app;
await started.sessionClosed;
if (!started.registrar.stopped) {
  log.fatal("the ZooKeeper session was closed (credentials refused?); exiting");
  await started.shutdown();
  Deno.exit(ClientExit.FAILURE);
}
