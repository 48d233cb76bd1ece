/**
 * The targets of issue 16 (our own ZooKeeper client, the mirror on a recursive watch), each
 * printed beside the figure of a previous run: the results file this run replaces.
 *
 * @module
 */
import type { BenchResults } from "./results.ts";
import { mb, ms } from "./stats.ts";

/** One figure: this run's, the previous run's, the target and whether it is met. */
export interface Issue16Row {
  figure: string;
  previous: string;
  measured: string;
  target: string;
  /** `null`: not measured in this run. */
  met: boolean | null;
}

interface Figure {
  figure: string;
  target: string;
  /** The value in this run's unit, `undefined` when not measured; then the formatting. */
  value: (results: BenchResults) => number | undefined;
  format: (value: number) => string;
  meets: (value: number) => boolean;
}

const coldSyncAt = (size: number) => (results: BenchResults) =>
  results.coldSyncs.find((sync) => sync.services === size);

const FIGURES: readonly Figure[] = [
  {
    figure: "add latency p50",
    target: "≤ 1 ms",
    value: (r) => r.latency?.add.p50,
    format: (v) => `${ms(v)} ms`,
    meets: (v) => v <= 1,
  },
  {
    figure: "add latency p99",
    target: "< 3 ms",
    value: (r) => r.latency?.add.p99,
    format: (v) => `${ms(v)} ms`,
    meets: (v) => v < 3,
  },
  {
    figure: "delete latency p50",
    target: "≤ 0.6 ms",
    value: (r) => r.latency?.delete.p50,
    format: (v) => `${ms(v)} ms`,
    meets: (v) => v <= 0.6,
  },
  {
    figure: "cold sync of 10,000 (spawn → last add)",
    target: "< 1000 ms",
    value: (r) => coldSyncAt(10_000)(r)?.allAddsMs,
    format: (v) => `${ms(v)} ms`,
    meets: (v) => v < 1000,
  },
  {
    figure: "ZooKeeper's CPU in that cold sync",
    target: "< 200 ms",
    value: (r) => coldSyncAt(10_000)(r)?.zooKeeperCpuMs,
    format: (v) => `${ms(v)} ms`,
    meets: (v) => v < 200,
  },
  {
    figure: "burst of 2,000 adds",
    target: "< 400 ms",
    value: (r) => r.burst?.allAddsMs,
    format: (v) => `${ms(v)} ms`,
    meets: (v) => v < 400,
  },
  {
    figure: "monitor RSS idle (synced, empty root)",
    target: "≤ 45 MB",
    value: (r) => r.baseline?.idleMonitorRssBytes,
    format: (v) => `${mb(v)} MB`,
    meets: (v) => v <= 45e6,
  },
  {
    figure: "monitor peak RSS at 10,000",
    target: "≤ 60 MB",
    value: (r) => coldSyncAt(10_000)(r)?.peakRssBytes,
    format: (v) => `${mb(v)} MB`,
    meets: (v) => v <= 60e6,
  },
  {
    figure: "ZooKeeper restart at the largest size: deletes + adds",
    target: "0, and survived",
    value: (r) => {
      const restart = r.coldSyncs.find((sync) => sync.restart)?.restart;
      return restart && (restart.survived ? restart.spuriousDeletes + restart.spuriousAdds : -1);
    },
    format: (v) => v < 0 ? "failed" : String(v),
    meets: (v) => v === 0,
  },
];

/** Compares this run with the targets, beside the previous run's figures (when there is one). */
export function issue16Targets(results: BenchResults, previous?: BenchResults): Issue16Row[] {
  return FIGURES.map((figure) => {
    const value = figure.value(results);
    const before = previous && figure.value(previous);
    return {
      figure: figure.figure,
      previous: before === undefined ? "—" : figure.format(before),
      measured: value === undefined ? "not measured" : figure.format(value),
      target: figure.target,
      met: value === undefined ? null : figure.meets(value),
    };
  });
}
