/**
 * The benchmarks of issue 7, end to end: a real ZooKeeper, the monitor and the client as real
 * processes, and a timestamping stand-in for the proxy. Prints a table (with the targets and the
 * Kazoo / Curator baselines the issue quotes) and writes every figure as JSON.
 *
 * Usage: deno run -A bench/main.ts [--quick] [--profile] [--only=latency,burst,growth,client]
 * (`--help` lists every option)
 *
 * - `--quick`: a small version (under a minute); writes `bench/results/latest-quick.json`.
 * - `--proxy=deployed`: instead, the deployed proxy's set (`bench/deployed.ts`): per-request
 *   throughput and a 2,000-service burst against the deployed-behaviour stand-in
 *   (`--transport=one-shot|keep-alive`: the monitor's `ASABRU_TRANSPORT`, default auto).
 * - `--profile`: every monitor runs with `--cpu-prof`; profiles land in `bench/results/profiles/`.
 * - `--only`: a subset of the scenarios (for investigating one); writes `bench/results/partial.json`.
 * - `--monitor-flag=F` (repeatable): an extra `deno run` flag for every monitor, e.g.
 *   `--monitor-flag=--v8-flags=--max-semi-space-size=1` to compare V8 settings.
 * - `--sizes=N,N`: the growth series' sizes instead of the default ones.
 * - `--whole-state`: the monitors push whole configurations (`ASABRU_CONFIG_TEMPLATE`) instead of
 *   a request per change; the receiver counts each push's added and dropped services as adds and
 *   deletes. The receiver-ceiling replay (per-request) is left out. Writes `*-whole-state.json`.
 *
 * Loopback only; every load is bounded in count and time; every process, server, session and
 * temporary directory is removed at the end, also after a failure or SIGINT/SIGTERM.
 *
 * @module
 */
import { LocalZooKeeper, printLines } from "../mod.ts";
import { type BenchContext, Cleanup, progress } from "./context.ts";
import { BenchReceiver } from "./receiver.ts";
import { runDeployedBench } from "./deployed.ts";
import type { BenchResults } from "./results.ts";
import { checkTargets } from "./verdicts.ts";
import { renderTable } from "./report.ts";
import { baselines } from "./scenarios/baseline.ts";
import { burst } from "./scenarios/burst.ts";
import { receiverCeiling } from "./scenarios/ceiling.ts";
import { clientRegistration, SINGLE_LEAF_END_POINT } from "./scenarios/client_registration.ts";
import { coldSync } from "./scenarios/cold_sync.ts";
import { changeLatency, LATENCY_END_POINT } from "./scenarios/latency.ts";
import { writeBenchTemplate } from "./whole_state_template.ts";

const SCENARIOS = ["latency", "burst", "growth", "client"] as const;
type Scenario = typeof SCENARIOS[number];

interface Plan {
  quick: boolean;
  profile: boolean;
  /** Extra `deno run` flags for every monitor (`--monitor-flag=--v8-flags=...`, repeatable). */
  monitorFlags: string[];
  wholeState: boolean;
  only: ReadonlySet<Scenario>;
  latencyRounds: number;
  latencyWarmup: number;
  latencyBudgetMs: number;
  burstSize: number;
  growthSizes: number[];
  clientLeaves: number;
  singleLeafRounds: number;
}

function plan(args: readonly string[]): Plan {
  const quick = args.includes("--quick");
  const onlyArg = args.find((arg) => arg.startsWith("--only="));
  const only = new Set<Scenario>(
    onlyArg
      ? onlyArg.slice("--only=".length).split(",").map((name) => {
        if (!(SCENARIOS as readonly string[]).includes(name)) {
          throw new Error(`--only: unknown scenario ${name} (${SCENARIOS.join(", ")})`);
        }
        return name as Scenario;
      })
      : SCENARIOS,
  );
  const unknown = args.filter((arg) =>
    !["--quick", "--profile", "--whole-state"].includes(arg) && !arg.startsWith("--only=") &&
    !arg.startsWith("--monitor-flag=") && !arg.startsWith("--sizes=")
  );
  const sizesArg = args.find((arg) => arg.startsWith("--sizes="))?.slice("--sizes=".length);
  const sizes = sizesArg?.split(",").map((size) => {
    const n = Number(size);
    if (!Number.isInteger(n) || n < 100 || n > 100_000) {
      throw new Error(`--sizes: ${size} is not a whole number of services from 100 to 100,000`);
    }
    return n;
  });
  if (unknown.length > 0) throw new Error(`unknown arguments: ${unknown.join(" ")}`);
  return {
    quick,
    profile: args.includes("--profile"),
    monitorFlags: args.filter((arg) => arg.startsWith("--monitor-flag="))
      .map((arg) => arg.slice("--monitor-flag=".length)),
    wholeState: args.includes("--whole-state"),
    only,
    latencyRounds: quick ? 50 : 500,
    // ZooKeeper (a JVM) and the monitor (V8) compile their hot paths over the first few hundred
    // rounds; a long-running monitor is measured after that.
    latencyWarmup: quick ? 5 : 200,
    latencyBudgetMs: quick ? 10_000 : 60_000,
    burstSize: 2000,
    growthSizes: sizes ?? (quick ? [1000, 5000] : [1000, 10_000, 50_000]),
    clientLeaves: 1000,
    singleLeafRounds: quick ? 2 : 5,
  };
}

const resultsDirectory = new URL("./results/", import.meta.url);

const HELP = `Usage: deno task bench [options]   (deno run -A bench/main.ts [options])

End to end on loopback: a real ZooKeeper, the monitor and the client as processes, a stand-in
proxy. Prints the figures beside the targets (issue 7's, issue 16's) and writes them as JSON.

  --quick               a small version (under a minute): bench/results/latest-quick.json
  --only=S,S            a subset of the scenarios (${SCENARIOS.join(", ")}): partial.json
  --sizes=N,N           the growth series' sizes (100 to 100,000 services)
  --whole-state         monitors push whole configurations (ASABRU_CONFIG_TEMPLATE)
  --profile             monitors run with --cpu-prof: bench/results/profiles/
  --monitor-flag=F      an extra deno run flag for every monitor (repeatable)
  --proxy=deployed      the deployed proxy's set instead (--transport=auto|keep-alive|one-shot,
                        --quick, --whole-state)
  --help                this text

bench/README.md says what each scenario times and how to read the figures.`;

async function main(): Promise<number> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    printLines(Deno.stdout, [HELP]);
    return 0;
  }
  // The deployed proxy's benchmarks are their own set (issue 15): `--proxy=deployed [--quick]`.
  if (Deno.args.includes("--proxy=deployed")) {
    const transport = Deno.args.find((arg) => arg.startsWith("--transport="))?.slice(12) ?? "auto";
    if (!["auto", "keep-alive", "one-shot"].includes(transport)) {
      throw new Error(`--transport: ${transport} is not auto, keep-alive or one-shot`);
    }
    return await runDeployedBench(
      Deno.args.includes("--quick"),
      transport as "auto" | "keep-alive" | "one-shot",
      Deno.args.includes("--whole-state"),
    );
  }
  const settings = plan(Deno.args);
  const cleanup = new Cleanup();
  const started = performance.now();
  const interrupted = async (signal: Deno.Signal) => {
    progress(`${signal}: cleaning up`);
    await cleanup.runAll();
    Deno.exit(130);
  };
  const onSigint = () => void interrupted("SIGINT");
  const onSigterm = () => void interrupted("SIGTERM");
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);

  const results: BenchResults = {
    mode: settings.quick ? "quick" : "full",
    delivery: settings.wholeState ? "whole state" : "per request",
    machine: {
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
      zookeeper: "ZooKeeper (not started)",
      loadAverageAtStart: Deno.loadavg(),
    },
    startedAt: new Date().toISOString(),
    coldSyncs: [],
    ceilings: [],
    bursts: [],
    targets: [],
  };
  let exitCode = 0;
  try {
    const tmpDir = await Deno.makeTempDir({ prefix: "zkcm-bench-" });
    cleanup.add("temporary directory", () => Deno.remove(tmpDir, { recursive: true }));
    let profileDir: string | undefined;
    if (settings.profile) {
      profileDir = new URL("profiles/", resultsDirectory).pathname;
      await Deno.mkdir(profileDir, { recursive: true });
    }
    progress("starting ZooKeeper");
    const zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
    cleanup.add("ZooKeeper", () => zk.close());
    const version = /Zookeeper version: ([^\s,-]+)/.exec(await zk.fourLetterWord("srvr"))?.[1];
    results.machine.zookeeper = `ZooKeeper ${version ?? "?"}`;
    const receiver = await BenchReceiver.start();
    cleanup.add("receiver", () => receiver.close());
    const context: BenchContext = {
      zk,
      receiver,
      cleanup,
      tmpDir,
      quick: settings.quick,
      profileDir,
      monitorFlags: settings.monitorFlags,
      configTemplate: settings.wholeState
        ? await writeBenchTemplate(tmpDir, Math.max(...settings.growthSizes, 2000) / 100, [
          LATENCY_END_POINT,
          SINGLE_LEAF_END_POINT,
        ])
        : undefined,
    };

    progress("baselines");
    results.baseline = await baselines(context);
    const idle = results.baseline.idleMonitorRssBytes;

    if (settings.only.has("latency")) {
      progress(`scenario 1: change latency, ${settings.latencyRounds} rounds`);
      results.latency = await changeLatency(
        context,
        settings.latencyRounds,
        settings.latencyWarmup,
        settings.latencyBudgetMs,
      );
    }
    if (settings.only.has("burst")) {
      progress(`scenario 3: burst of ${settings.burstSize}`);
      results.burst = await burst(context, settings.burstSize);
    }
    if (settings.only.has("growth")) {
      const largest = Math.max(...settings.growthSizes);
      for (const size of settings.growthSizes) {
        progress(`scenarios 2/5: cold sync of ${size}, then the receiver's ceiling`);
        const { result, sent } = await coldSync(context, size, idle, size === largest);
        results.coldSyncs.push(result);
        if (!settings.wholeState) {
          results.ceilings.push(await receiverCeiling(context, size, sent, !settings.quick));
        }
        progress(`scenario 5: burst of ${size}`);
        results.bursts.push(await burst(context, size));
      }
    }
    if (settings.only.has("client")) {
      progress(`scenario 4: client registration of ${settings.clientLeaves} leaves`);
      results.client = await clientRegistration(
        context,
        settings.clientLeaves,
        settings.singleLeafRounds,
      );
    }
  } catch (error) {
    results.error = error instanceof Error ? error.message : String(error);
    progress(`failed: ${error instanceof Error ? error.stack : error}`);
    exitCode = 1;
  } finally {
    progress("cleaning up");
    await cleanup.runAll();
    Deno.removeSignalListener("SIGINT", onSigint);
    Deno.removeSignalListener("SIGTERM", onSigterm);
  }

  results.durationMs = Math.round(performance.now() - started);
  results.machine.loadAverageAtEnd = Deno.loadavg();
  results.targets = checkTargets(results);
  await Deno.mkdir(resultsDirectory, { recursive: true });
  // A subset (`--only`) must not replace the full results the README quotes.
  const partial = settings.only.size < SCENARIOS.length;
  const file = new URL(
    (partial ? "partial" : settings.quick ? "latest-quick" : "latest") +
      (settings.wholeState ? "-whole-state.json" : ".json"),
    resultsDirectory,
  );
  const previous = await readPrevious(file);
  await Deno.writeTextFile(file, JSON.stringify(results, bigintSafe, 2) + "\n");
  printLines(Deno.stdout, [
    ...renderTable(results, previous),
    "",
    `figures written to ${file.pathname}`,
  ]);
  return exitCode;
}

/** The results this run replaces, printed beside its own; `undefined` when there are none. */
async function readPrevious(file: URL): Promise<BenchResults | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(file)) as BenchResults;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

if (import.meta.main) Deno.exit(await main());
