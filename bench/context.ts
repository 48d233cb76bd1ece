/**
 * What every scenario gets: the ZooKeeper server, the receiver, the clean-up list, and how to
 * start the monitor and the client the way users do.
 *
 * @module
 */
import { type LocalZooKeeper, printLines } from "../mod.ts";
import type { BenchReceiver } from "./receiver.ts";
import { BenchProcess, freePort } from "./processes.ts";
import { DRIVER_SESSION_TIMEOUT_MS } from "./zk_tree.ts";

/**
 * Things to undo, most recent first. Every resource a scenario makes is added here, so a failure
 * or a signal (SIGINT, SIGTERM) in the middle of a scenario still ends every process, server and
 * session, and removes every temporary directory.
 */
export class Cleanup {
  readonly #pending: { what: string; undo: () => Promise<unknown> | void; done: boolean }[] = [];

  /**
   * Adds `undo`; the returned handle runs it (once) when disposed, so the normal path is
   * `await using _ = cleanup.add(...)`.
   */
  add(what: string, undo: () => Promise<unknown> | void): AsyncDisposable {
    const entry = { what, undo, done: false };
    this.#pending.push(entry);
    return {
      [Symbol.asyncDispose]: async () => {
        await this.#run(entry);
        const index = this.#pending.indexOf(entry);
        if (index !== -1) this.#pending.splice(index, 1);
      },
    };
  }

  /** Runs everything not yet undone, most recent first; failures are reported, not thrown. */
  async runAll(): Promise<void> {
    while (this.#pending.length > 0) await this.#run(this.#pending.pop()!);
  }

  async #run(entry: { what: string; undo: () => Promise<unknown> | void; done: boolean }) {
    if (entry.done) return;
    entry.done = true;
    try {
      await entry.undo();
    } catch (error) {
      progress(`clean-up of ${entry.what} failed: ${error}`);
    }
  }
}

/** One progress line on stderr (the table goes to stdout). */
export function progress(line: string): void {
  printLines(Deno.stderr, [`[bench] ${line}`]);
}

/** What a scenario works with. */
export interface BenchContext {
  zk: LocalZooKeeper;
  receiver: BenchReceiver;
  cleanup: Cleanup;
  /** A temporary directory removed at the end. */
  tmpDir: string;
  quick: boolean;
  /** When set, monitors run with `--cpu-prof` and write their profiles here. */
  profileDir?: string;
  /** Extra `deno run` flags for every monitor, e.g. V8 flags to compare. */
  monitorFlags?: string[];
  /** Whole-state mode (`--whole-state`): the template every monitor pushes. */
  configTemplate?: string;
}

/** A monitor process with its status port. */
export interface RunningMonitor {
  process: BenchProcess;
  statusPort: number;
}

/**
 * Starts `monitor.ts` as `deno task monitor` would (its permissions), watching `root` and
 * delivering to the receiver, with the default (info) logs and a status server on a free loopback port.
 * Its session timeout is as long as the driver's, so both survive a ZooKeeper restart.
 */
export async function startMonitorProcess(
  context: BenchContext,
  root: string,
  label: string,
): Promise<RunningMonitor> {
  const statusPort = freePort();
  const extraFlags = [
    ...(context.monitorFlags ?? []),
    ...(context.profileDir
      ? [
        "--cpu-prof",
        `--cpu-prof-dir=${context.profileDir}`,
        `--cpu-prof-name=${label}.cpuprofile`,
      ]
      : []),
  ];
  const process = await BenchProcess.start(`monitor (${label})`, {
    script: "monitor.ts",
    task: "monitor",
    extraFlags,
    env: {
      ZK_HOST: context.zk.connectionString,
      ZK_ROOT_NODE: root,
      ASABRU_API_URL: context.receiver.url,
      // The default level, as users run it: a line per change, a summary per start-up or resync.
      LOG_LEVEL: "info",
      ZK_SESSION_TIMEOUT: `${DRIVER_SESSION_TIMEOUT_MS}ms`,
      STATUS_PORT: String(statusPort),
      STATUS_HOST: "127.0.0.1",
      // The receiver (Deno.serve) drops a request whose client shuts its write side, so the
      // one-shot transport the deployed proxy's text answers select cannot be used against it.
      ...(context.configTemplate
        ? { ASABRU_CONFIG_TEMPLATE: context.configTemplate, ASABRU_TRANSPORT: "keep-alive" }
        : {}),
    },
  });
  return { process, statusPort };
}

/** Starts `client.ts` as `deno task client` would, registering what `nodesFile` lists. */
export function startClientProcess(
  context: BenchContext,
  nodesFile: string,
  label: string,
): Promise<BenchProcess> {
  return BenchProcess.start(`client (${label})`, {
    script: "client.ts",
    task: "client",
    env: {
      ZK_HOST: context.zk.connectionString,
      NODES_FILE: nodesFile,
      LOG_LEVEL: "warning",
      ZK_SESSION_TIMEOUT: `${DRIVER_SESSION_TIMEOUT_MS}ms`,
    },
  });
}

/** Resolves after `ms` (only between bounded steps). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` if `promise` has not settled within `ms` (the tests' own helper). */
export { withTimeout } from "../testing/wait.ts";
