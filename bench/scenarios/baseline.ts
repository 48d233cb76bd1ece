/**
 * What memory figures are measured against: an idle Deno process (the issue quotes about 37 MB)
 * and the monitor itself, synced on an empty root.
 *
 * @module
 */
import { type BenchContext, sleep, startMonitorProcess } from "../context.ts";
import { BenchProcess, waitForStatus } from "../processes.ts";

/** Resident memory of the two baselines, in bytes. */
export interface BaselineResult {
  idleDenoRssBytes: number;
  idleMonitorRssBytes: number;
  /** Spawn → the monitor is synced on an empty root (start-up cost in every cold sync). */
  monitorStartMs: number;
}

/** Measures both baselines. */
export async function baselines(context: BenchContext): Promise<BaselineResult> {
  const idle = await BenchProcess.start("idle deno", { script: "bench/_idle.ts", flags: [] });
  await using _idle = context.cleanup.add("idle deno process", () => idle.stop(1000));
  await idle.waitForOutput(/^ready$/, 10_000);
  await sleep(300);
  const idleDenoRssBytes = idle.memory().rss;
  await idle.stop(1000);

  const monitor = await startMonitorProcess(context, "/bench-empty", "idle");
  await using _monitor = context.cleanup.add("idle monitor", () => monitor.process.stop());
  await waitForStatus(monitor.process, monitor.statusPort, (s) => s.synced, 15_000, "synced", 5);
  const monitorStartMs = performance.now() - monitor.process.startedAt;
  await sleep(300);
  const idleMonitorRssBytes = monitor.process.memory().rss;
  return { idleDenoRssBytes, idleMonitorRssBytes, monitorStartMs: Math.round(monitorStartMs) };
}
