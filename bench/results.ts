/**
 * What one benchmark run measured, as written to `bench/results/*.json`: the schema the
 * scenarios fill, the verdicts judge ({@link ./verdicts.ts}) and the report renders
 * ({@link ./report.ts}).
 *
 * @module
 */
import type { BaselineResult } from "./scenarios/baseline.ts";
import type { BurstResult } from "./scenarios/burst.ts";
import type { CeilingResult } from "./scenarios/ceiling.ts";
import type { ClientResult } from "./scenarios/client_registration.ts";
import type { ColdSyncResult } from "./scenarios/cold_sync.ts";
import type { LatencyResult } from "./scenarios/latency.ts";

/** Everything one run measured (written as JSON). */
export interface BenchResults {
  mode: "full" | "quick";
  /** How the monitors delivered: a request per change, or whole configurations (`--whole-state`). */
  delivery?: "per request" | "whole state";
  machine: {
    cores: number;
    deno: string;
    v8: string;
    typescript: string;
    os: string;
    zookeeper: string;
    /** `Deno.loadavg()` (1, 5, 15 min): other work on the machine skews every figure. */
    loadAverageAtStart: number[];
    loadAverageAtEnd?: number[];
  };
  startedAt: string;
  durationMs?: number;
  baseline?: BaselineResult;
  latency?: LatencyResult;
  /** Scenario 3: the burst of 2,000. */
  burst?: BurstResult;
  /** Scenarios 2 and 5: cold syncs at the growth sizes (the restart check at the largest). */
  coldSyncs: ColdSyncResult[];
  /** The receiver's ceiling at each cold-sync size. */
  ceilings: CeilingResult[];
  /** Scenario 5: bursts at the growth sizes. */
  bursts: BurstResult[];
  client?: ClientResult;
  targets: TargetCheck[];
  /** What failed, when the run did not finish. */
  error?: string;
}

/** One line of the comparison with the issue's targets and baselines. */
export interface TargetCheck {
  figure: string;
  measured: string;
  target: string;
  /** `true` met, `false` missed, `null` not judged (no target, or not measured). */
  met: boolean | null;
  kazoo: string;
  curator: string;
}
