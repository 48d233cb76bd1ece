/**
 * `deno task bench --proxy=deployed`: the monitor against the deployed-behaviour stand-in (issue
 * 15), which runs as a process of its own (`bench/deployed_proxy.ts`):
 *
 * 1. per-request throughput: the sender alone (auto transport, so one-shot after the first
 *    answer), `n` adds of distinct services with 32 in flight, and 1,000 one at a time;
 * 2. a 2,000-service burst through the monitor (a real process, its default options): the time
 *    until the proxy holds every service, the outcomes the monitor counted (0 unknown is the
 *    target), and whether any service ever held two slots (0 is the target).
 *
 * `--transport=one-shot|keep-alive` runs the monitor and the sender with that `ASABRU_TRANSPORT`
 * (default `auto`). Prints a table and writes `bench/results/deployed[-TRANSPORT][-quick].json`.
 * Loopback only; bounded.
 *
 * @module
 */
import { LocalZooKeeper, printLines } from "../mod.ts";
import { AsabruSender, type AsabruTransport, type DeliveryOutcome } from "../src/asabru/sender.ts";
import { Cleanup, progress } from "./context.ts";
import type { DeployedProxyStats } from "./deployed_proxy.ts";
import { BenchProcess, freePort, waitForStatus } from "./processes.ts";
import { round, summarize } from "./stats.ts";
import { endPointCount, treeServices } from "./tree_layout.ts";
import { connect, createEndPoints, createServices } from "./zk_tree.ts";
import { wholeStateOnDeployed } from "./deployed_whole_state.ts";
import { startDeployedMonitor } from "./deployed_monitor.ts";

/** A stand-in proxy process and how to read its stats. */
interface ProxyProcess {
  url: string;
  process: BenchProcess;
  stats: () => Promise<DeployedProxyStats>;
}

/** Starts the deployed-behaviour stand-in as a process of its own. */
export async function startProxy(cleanup: Cleanup, label: string): Promise<ProxyProcess> {
  const port = freePort();
  const statsPort = freePort();
  const process = await BenchProcess.start(`deployed proxy (${label})`, {
    script: "bench/deployed_proxy.ts",
    flags: ["--allow-net=127.0.0.1", "--allow-env=PROXY_PORT,STATS_PORT,STAND_IN_BEHAVIOUR"],
    env: { PROXY_PORT: String(port), STATS_PORT: String(statsPort) },
  });
  cleanup.add(`deployed proxy (${label})`, () => process.stop());
  const stats = async () => {
    const response = await fetch(`http://127.0.0.1:${statsPort}/stats`, {
      signal: AbortSignal.timeout(2000),
    });
    return await response.json() as DeployedProxyStats;
  };
  const deadline = performance.now() + 15_000;
  for (;;) {
    if (process.exited) throw new Error(`${process.name} exited:\n${process.tail()}`);
    try {
      await stats();
      break;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { url: `http://127.0.0.1:${port}/updateService`, process, stats };
}

/** Outcomes by kind. */
function tally(outcomes: DeliveryOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome.kind] = (counts[outcome.kind] ?? 0) + 1;
  return counts;
}

async function throughput(cleanup: Cleanup, count: number, transport: AsabruTransport) {
  const proxy = await startProxy(cleanup, "throughput");
  using sender = new AsabruSender({ url: proxy.url, transport });
  const ref = (i: number) => ({ endPoint: "ep", service: `s${i}`, host: "127.0.0.1", port: 8123 });

  // One at a time: the latency of one request.
  const sequentialCount = 1000;
  const latencies: number[] = [];
  const sequentialOutcomes: DeliveryOutcome[] = [];
  let started = performance.now();
  for (let i = 0; i < sequentialCount; i++) {
    const outcome = await sender.send("add", ref(i));
    latencies.push(outcome.ms);
    sequentialOutcomes.push(outcome);
  }
  const sequentialMs = performance.now() - started;

  // 32 in flight (the monitor's default concurrency): the sender opens at most 4 connections.
  const outcomes: DeliveryOutcome[] = [];
  let next = sequentialCount;
  const end = sequentialCount + count;
  started = performance.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < end) outcomes.push(await sender.send("add", ref(next++)));
  }));
  const concurrentMs = performance.now() - started;
  const stats = await proxy.stats();
  const latency = summarize(latencies);
  return {
    transport: sender.transport,
    sequential: {
      requests: sequentialCount,
      perSecond: Math.round(sequentialCount / (sequentialMs / 1000)),
      p50Ms: round(latency.p50, 2),
      p99Ms: round(latency.p99, 2),
      outcomes: tally(sequentialOutcomes),
    },
    concurrent: {
      requests: count,
      inFlight: 32,
      perSecond: Math.round(count / (concurrentMs / 1000)),
      outcomes: tally(outcomes),
    },
    proxy: stats,
  };
}

async function burst(
  cleanup: Cleanup,
  zk: LocalZooKeeper,
  count: number,
  transport: AsabruTransport,
) {
  const proxy = await startProxy(cleanup, "burst");
  const root = "/bench-deployed-burst";
  const driver = await connect(zk);
  cleanup.add("burst driver", async () => {
    await driver.deleteRecursive(root).catch(() => {});
    await driver.close();
  });
  await createEndPoints(driver, root, endPointCount(count));
  const { monitor, statusPort } = await startDeployedMonitor(
    cleanup,
    zk,
    proxy.url,
    root,
    "deployed burst",
    { ASABRU_TRANSPORT: transport },
  );
  await waitForStatus(monitor, statusPort, (s) => s.synced, 15_000, "synced");

  const registrar = await connect(zk);
  cleanup.add("burst registrar", () => registrar.close());
  const started = performance.now();
  await createServices(registrar, treeServices(root, count));
  const deadline = started + 60_000;
  let stats = await proxy.stats();
  while (stats.slots < count) {
    if (performance.now() > deadline) throw new Error(`burst: ${stats.slots}/${count} slots`);
    if (monitor.exited) throw new Error(`the monitor exited:\n${monitor.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    stats = await proxy.stats();
  }
  const allAddsMs = performance.now() - started;
  const metrics = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
  const result = (name: string) =>
    Number(
      new RegExp(`zkcm_delivery_results_total\\{[^}]*result="${name}"\\} (\\d+)`)
        .exec(metrics)?.[1] ?? NaN,
    );
  return {
    services: count,
    allAddsMs: round(allAddsMs, 1),
    addsPerSecond: Math.round(count / (allAddsMs / 1000)),
    monitorOutcomes: {
      ok: result("ok"),
      uncertain: result("uncertain"),
      notApplied: result("not_applied"),
      notSent: result("not_sent"),
      rejected: result("rejected"),
    },
    proxy: stats,
    // Why an outcome was unknown, as the monitor said it (its warnings).
    unknownOutcomeLines: monitor.tail(200).split("\n").filter((line) => line.includes(" unknown ("))
      .slice(0, 5),
  };
}

/**
 * Runs the deployed-proxy benchmarks with the monitor's `transport` (default `auto`, as users run
 * it), or with `wholeState` the whole-state set (`deployed_whole_state.ts`); returns the process
 * exit code.
 */
export async function runDeployedBench(
  quick: boolean,
  transport: AsabruTransport = "auto",
  wholeState = false,
): Promise<number> {
  if (wholeState) return await runWholeStateBench(quick);
  const suffix = `${transport === "auto" ? "" : `-${transport}`}${quick ? "-quick" : ""}`;
  const results: Record<string, unknown> = { mode: quick ? "quick" : "full", transport };
  return await recorded(`deployed${suffix}.json`, results, async (cleanup) => {
    progress("deployed proxy: per-request throughput");
    const perRequest = await throughput(cleanup, quick ? 2000 : 10_000, transport);
    results.perRequest = perRequest;
    progress("deployed proxy: a 2,000-service burst through the monitor");
    const zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
    cleanup.add("ZooKeeper", () => zk.close());
    const burstResult = await burst(cleanup, zk, 2000, transport);
    results.burst = burstResult;
    printLines(Deno.stdout, [
      `deployed-behaviour stand-in (its own process), loopback; ASABRU_TRANSPORT=${transport}`,
      `per request, one at a time: ${perRequest.sequential.perSecond}/s, p50 ` +
      `${perRequest.sequential.p50Ms} ms, p99 ${perRequest.sequential.p99Ms} ms ` +
      `(target >= 1,500/s) ${JSON.stringify(perRequest.sequential.outcomes)}`,
      `per request, 32 in flight (${perRequest.transport}): ${perRequest.concurrent.perSecond}/s ` +
      `${JSON.stringify(perRequest.concurrent.outcomes)}; proxy: ${
        JSON.stringify(perRequest.proxy)
      }`,
      `burst of 2,000 through the monitor: ${burstResult.allAddsMs} ms ` +
      `(${burstResult.addsPerSecond}/s); outcomes ${
        JSON.stringify(burstResult.monitorOutcomes)
      }; ` +
      `proxy: ${JSON.stringify(burstResult.proxy)}`,
      `targets: 0 unknown outcomes: ${
        burstResult.monitorOutcomes.uncertain === 0 ? "met" : "MISSED"
      }; ` +
      `0 duplicate slots: ${burstResult.proxy.everDuplicated === 0 ? "met" : "MISSED"}; ` +
      `>= 1,500 requests/s: ${
        Math.max(perRequest.sequential.perSecond, perRequest.concurrent.perSecond) >= 1500
          ? "met"
          : "MISSED"
      }`,
    ]);
  });
}

/**
 * Runs `body` with a cleanup that always runs; writes `results` (with the load average before and
 * after, and what failed) to `bench/results/NAME`; returns the process exit code.
 */
async function recorded(
  name: string,
  results: Record<string, unknown>,
  body: (cleanup: Cleanup) => Promise<void>,
): Promise<number> {
  const cleanup = new Cleanup();
  results.startedAt = new Date().toISOString();
  results.loadAverageAtStart = Deno.loadavg();
  let exitCode = 0;
  try {
    await body(cleanup);
  } catch (error) {
    results.error = error instanceof Error ? error.message : String(error);
    progress(`failed: ${error instanceof Error ? error.stack : error}`);
    exitCode = 1;
  } finally {
    await cleanup.runAll();
  }
  results.loadAverageAtEnd = Deno.loadavg();
  const file = new URL(`results/${name}`, import.meta.url);
  await Deno.writeTextFile(file, JSON.stringify(results, null, 2) + "\n");
  return exitCode;
}

/** `--proxy=deployed --whole-state`: see `deployed_whole_state.ts`. */
async function runWholeStateBench(quick: boolean): Promise<number> {
  const results: Record<string, unknown> = { mode: quick ? "quick" : "full" };
  const name = `deployed-whole-state${quick ? "-quick" : ""}.json`;
  return await recorded(name, results, async (cleanup) => {
    const zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
    cleanup.add("ZooKeeper", () => zk.close());
    const runs = [];
    for (const size of quick ? [2000] : [2000, 10_000]) {
      const run = await wholeStateOnDeployed(cleanup, zk, startProxy, size, quick ? 10 : 50);
      runs.push(run);
      printLines(Deno.stdout, [
        `whole state on the deployed-behaviour stand-in, ${size} services in ${run.endPoints} ` +
        `end points: removal p50 ${run.removalLatency.p50Ms} ms, p99 ${run.removalLatency.p99Ms} ` +
        `ms (${run.removalLatency.rounds} rounds); burst: all adds ${run.burst.allAddsMs} ms in ` +
        `${run.burst.pushes} pushes, all removals ${run.burst.allRemovalsMs} ms in ` +
        `${run.burst.removalPushes}; cold sync ${run.coldSync.ms} ms in ${run.coldSync.pushes} ` +
        `pushes; proxy after the burst ${JSON.stringify(run.burst.proxy)}`,
      ]);
    }
    results.wholeState = runs;
  });
}
