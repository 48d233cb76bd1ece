/**
 * Metrics of the process itself, shared by both programs: resident memory as Prometheus' client
 * libraries name it, and V8's heap, so an operator (and the benchmark) can tell live data from
 * the memory a burst left behind.
 *
 * @module
 */
import type { MetricsRegistry } from "./metrics.ts";

/**
 * Registers `process_resident_memory_bytes` and `zkcm_js_heap_bytes{kind}` (`used`, `total`,
 * `external`), read at each scrape from `Deno.memoryUsage()`.
 */
export function registerProcessMetrics(metrics: MetricsRegistry): void {
  metrics.gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    [],
    () => Deno.memoryUsage().rss,
  );
  metrics.gauge(
    "zkcm_js_heap_bytes",
    "V8's heap: used (live objects and not yet collected garbage), total (reserved), external.",
    ["kind"],
    () => {
      const usage = Deno.memoryUsage();
      return [
        { labels: { kind: "used" }, value: usage.heapUsed },
        { labels: { kind: "total" }, value: usage.heapTotal },
        { labels: { kind: "external" }, value: usage.external },
      ];
    },
  );
}
