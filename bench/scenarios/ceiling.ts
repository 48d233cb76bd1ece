/**
 * The receiver's own ceiling: how fast it absorbs exactly the updates the monitor sent in a cold
 * sync (same operations, same bodies, same order) from a plain fetch loop with the monitor's
 * concurrency (32): once from the driver itself (the same process as the receiver, as the issue
 * asks), once from a separate process (as the monitor is), and once over plain keep-alive
 * HTTP/1.1 connections without `fetch` (what the receiver itself can take).
 *
 * @module
 */
import { type BenchContext, withTimeout } from "../context.ts";
import { BenchProcess } from "../processes.ts";
import {
  loadRequests,
  loadRequestsPipelined,
  loadRequestsRaw,
  type LoadResult,
} from "../load_requests.ts";
import { round } from "../stats.ts";
import type { SentUpdate } from "../tree_layout.ts";

/** One ceiling measurement. */
export interface CeilingResult {
  /** The cold sync's size. */
  services: number;
  /** Updates sent (what the monitor sent: with the start-up deletes, 2 per service). */
  requests: number;
  concurrency: number;
  /** Fetch loop in the driver's process: first request to last answer. */
  inDriverMs: number;
  /** Fetch loop in its own process: first request to last answer (its own clock); NaN if skipped. */
  separateProcessMs: number;
  /**
   * Plain keep-alive HTTP/1.1 loop in the driver (no `fetch`): the receiver's capacity when the
   * client costs next to nothing.
   */
  rawHttpMs: number;
  /**
   * The same, pipelined: 4 connections with 8 requests outstanding on each (the monitor's own
   * client pipelines beyond 4 connections), so the ceiling is not flattered by the monitor's
   * packing of requests.
   */
  pipelinedHttpMs: number;
  /** Requests per second of the faster of the two. */
  bestPerSecond: number;
  failed: number;
}

/** Measures the ceiling for `updates` at `concurrency`. */
export async function receiverCeiling(
  context: BenchContext,
  services: number,
  updates: readonly SentUpdate[],
  separateProcess: boolean,
  concurrency = 32,
): Promise<CeilingResult> {
  const { receiver, cleanup, tmpDir } = context;
  const budgetMs = 120_000;
  const count = updates.length;

  // Warm both loops up (JIT, connection set-up) so the first one measured is not the cold one.
  const warmUp = updates.slice(0, Math.min(updates.length, 500));
  await loadRequests(receiver.url, warmUp, concurrency, 10_000);
  await loadRequestsRaw(receiver.url, warmUp, concurrency, 10_000);
  await loadRequestsPipelined(receiver.url, warmUp, 4, concurrency / 4, 10_000);

  // One load at a time, each counted once every request it sent has reached the receiver.
  const measure = async (what: string, load: () => Promise<LoadResult>) => {
    receiver.reset();
    const result = await load();
    await receiver.until(
      () => receiver.adds + receiver.deletes >= count - result.failed - result.skipped,
      10_000,
      what,
    );
    return result;
  };
  const inDriver = await measure(
    "in-driver load",
    () => loadRequests(receiver.url, updates, concurrency, budgetMs),
  );
  const raw = await measure(
    "raw HTTP load",
    () => loadRequestsRaw(receiver.url, updates, concurrency, budgetMs),
  );
  const pipelined = await measure(
    "pipelined HTTP load",
    () => loadRequestsPipelined(receiver.url, updates, 4, concurrency / 4, budgetMs),
  );

  receiver.reset();
  const rawFailed = raw.failed + raw.skipped + pipelined.failed + pipelined.skipped;
  if (!separateProcess) {
    return {
      services,
      requests: count,
      concurrency,
      inDriverMs: round(inDriver.elapsedMs, 1),
      separateProcessMs: NaN,
      rawHttpMs: round(raw.elapsedMs, 1),
      pipelinedHttpMs: round(pipelined.elapsedMs, 1),
      bestPerSecond: Math.round(count / (inDriver.elapsedMs / 1000)),
      failed: inDriver.failed + inDriver.skipped + rawFailed,
    };
  }
  const updatesFile = `${tmpDir}/updates-${services}.json`;
  await Deno.writeTextFile(updatesFile, JSON.stringify(updates));
  const load = await BenchProcess.start("fetch loop", {
    script: "bench/_load.ts",
    flags: ["--allow-net=127.0.0.1", `--allow-read=${tmpDir}`],
    args: [receiver.url, updatesFile, String(concurrency)],
  });
  await using _load = cleanup.add("fetch loop process", () => load.stop(1000));
  await withTimeout(load.status, budgetMs + 30_000, "the fetch loop process");
  const status = await load.stop(); // returns once its output is read
  const output = load.tail(5).split("\n").find((line) => line.startsWith("{"));
  if (status.code !== 0 || output === undefined) {
    throw new Error(`the fetch loop process failed (code ${status.code}):\n${load.tail()}`);
  }
  const separate = JSON.parse(output) as Awaited<ReturnType<typeof loadRequests>>;
  receiver.reset();
  return {
    services,
    requests: count,
    concurrency,
    inDriverMs: round(inDriver.elapsedMs, 1),
    separateProcessMs: round(separate.elapsedMs, 1),
    rawHttpMs: round(raw.elapsedMs, 1),
    pipelinedHttpMs: round(pipelined.elapsedMs, 1),
    bestPerSecond: Math.round(count / (Math.min(inDriver.elapsedMs, separate.elapsedMs) / 1000)),
    failed: inDriver.failed + inDriver.skipped + separate.failed + separate.skipped + rawFailed,
  };
}
