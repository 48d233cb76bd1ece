/**
 * Summaries of measured samples.
 *
 * @module
 */

/** Percentiles of a set of durations, in milliseconds. */
export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Summarises `samples` with nearest-rank percentiles (p99 of 500 samples is the 495th smallest).
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  return {
    count: sorted.length,
    p50: rank(50),
    p90: rank(90),
    p99: rank(99),
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
  };
}

/** The median of a few samples. */
export function median(samples: readonly number[]): number {
  return summarize(samples).p50;
}

/** Milliseconds, rounded to 3 significant-ish digits for the table: `0.412`, `41.2`, `4123`. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "—";
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return value.toFixed(0);
}

/** Bytes as MB (10^6, as `ps` and the figures do), one decimal. */
export function mb(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1e6).toFixed(1) : "—";
}

/** Rounds for JSON: 3 decimals. */
export function round(value: number, decimals = 3): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** A summary with every figure rounded for JSON. */
export function roundSummary(summary: Summary): Summary {
  return {
    count: summary.count,
    p50: round(summary.p50),
    p90: round(summary.p90),
    p99: round(summary.p99),
    max: round(summary.max),
    mean: round(summary.mean),
  };
}
