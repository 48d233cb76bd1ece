/**
 * The benchmark's report: the results, the verdicts and the issue's targets as the table `deno
 * task bench` prints (and compares with an earlier run).
 *
 * @module
 */
import type { BenchResults } from "./results.ts";
import { bestRawMs } from "./verdicts.ts";
import { mb, ms } from "./stats.ts";
import { issue16Targets } from "./issue16_targets.ts";

/** The table, as lines. */
export function renderTable(results: BenchResults, previous?: BenchResults): string[] {
  const lines: string[] = [];
  const { machine } = results;
  lines.push(
    `zk-cluster-monitor benchmark (${results.mode}${
      results.durationMs ? `, ${(results.durationMs / 1000).toFixed(0)} s` : ""
    }) — ${machine.cores} cores, Deno ${machine.deno} (V8 ${machine.v8}), ${machine.zookeeper}, ${machine.os}`,
  );
  const load = (values?: number[]) => values ? values.map((v) => v.toFixed(2)).join(" ") : "?";
  lines.push(
    `load average at start ${load(machine.loadAverageAtStart)}, at end ${
      load(machine.loadAverageAtEnd)
    } (other work on the machine skews every figure)`,
  );
  if (results.baseline) {
    const b = results.baseline;
    lines.push(
      `baselines: idle Deno process ${mb(b.idleDenoRssBytes)} MB RSS (issue: ≈37 MB); monitor ` +
        `synced on an empty root ${
          mb(b.idleMonitorRssBytes)
        } MB, spawn → synced ${b.monitorStartMs} ms`,
    );
  }
  if (results.delivery === "whole state") {
    const pushes = [
      ...results.coldSyncs.map((sync) => `cold sync ${sync.services}: ${sync.pushes}`),
      ...(results.burst ? [`burst ${results.burst.services}: ${results.burst.pushes}`] : []),
      ...results.bursts.map((burst) => `burst ${burst.services}: ${burst.pushes}`),
    ];
    lines.push(
      `delivery: whole state (POST /configuration); adds and deletes are the services each push ` +
        `added or dropped; pushes: ${pushes.join(", ") || "none measured"}`,
    );
  }
  if (results.error) lines.push(`RUN FAILED: ${results.error}`);
  lines.push("");
  lines.push("Targets and baselines (issue 7)");
  lines.push(
    ...table(
      ["figure", "measured", "target", "verdict", "Kazoo", "Curator"],
      results.targets.map((check) => [
        check.figure,
        check.measured,
        check.target,
        check.met === null ? "" : check.met ? "met" : "MISSED",
        check.kazoo,
        check.curator,
      ]),
    ),
  );

  lines.push("");
  lines.push(
    `Targets of issue 16, beside the previous run (${previous?.startedAt ?? "none"})`,
  );
  lines.push(
    ...table(
      ["figure", "previous", "measured", "target", "verdict"],
      issue16Targets(results, previous).map((row) => [
        row.figure,
        row.previous,
        row.measured,
        row.target,
        row.met === null ? "" : row.met ? "met" : "MISSED",
      ]),
    ),
  );

  if (results.latency) {
    const l = results.latency;
    lines.push("");
    lines.push(
      `1. Change latency: ${l.rounds} rounds (after ${l.warmupRounds} warm-up), ` +
        `${l.backgroundServices} other services, monitor RSS ${mb(l.monitorRssBytes)} MB` +
        (l.stoppedEarly ? ` — ${l.stoppedEarly}` : ""),
    );
    lines.push(
      ...table(
        ["", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"],
        [
          ["create → add at receiver", ...summaryCells(l.add)],
          ["delete → delete at receiver", ...summaryCells(l.delete)],
          ["(of which: ZooKeeper's create answer)", ...summaryCells(l.zkCreateAck)],
          ["(of which: create answered → add)", ...summaryCells(l.addAfterAck)],
          ...(l.zkReadRoundTrip
            ? [["(reference: one ZooKeeper read, round trip)", ...summaryCells(l.zkReadRoundTrip)]]
            : []),
        ],
      ),
    );
  }

  if (results.coldSyncs.length > 0) {
    lines.push("");
    lines.push(
      "2./5. Cold sync: spawn → every add at the receiver; CPU, spawn → synced: the monitor's, " +
        "ZooKeeper's JVM's and the driver's (the receiver's; 2 cores are shared by all three); " +
        "RSS/svc = (peak − idle monitor) / n; " +
        "requests = adds + the deletes a starting monitor sends first; " +
        "ceiling = those same requests from a plain fetch loop, 32 at a time (raw: " +
        "keep-alive HTTP/1.1 without fetch, 32 connections / 4 connections pipelined 8 deep)",
    );
    lines.push(
      ...table(
        [
          "services",
          "end points",
          "fill ms",
          "first add ms",
          "all adds ms",
          "µs/svc",
          "marginal µs/svc",
          "CPU ms: monitor / ZooKeeper / receiver",
          "ZooKeeper CPU µs per service read",
          "ZooKeeper CPU ms/s quiet before",
          "peak RSS MB",
          "heap MB used / total",
          "B/svc",
          "watches",
          "ZK requests",
          "HTTP requests",
          "HTTP conns",
          "ceiling ms fetch: driver / process; raw: 32 conns / pipelined",
          "sync ÷ fastest raw ceiling",
        ],
        results.coldSyncs.map((s) => {
          const c = results.ceilings.find((ceiling) => ceiling.services === s.services);
          return [
            s.services.toLocaleString("en"),
            String(s.endPoints),
            ms(s.fillMs),
            ms(s.firstAddMs),
            ms(s.allAddsMs),
            ms(s.perServiceUs),
            ms(s.marginalPerServiceUs),
            cpuFigures(s.monitorCpuMs, s.zooKeeperCpuMs, s.receiverCpuMs),
            // Older results lack the field: computed from the same figures.
            ms(s.zooKeeperCpuPerReadUs ?? (s.zooKeeperCpuMs * 1000) / s.services),
            s.zooKeeperQuietCpuMsPerS === undefined ? "—" : String(s.zooKeeperQuietCpuMsPerS),
            mb(s.peakRssBytes),
            `${mb(s.heapUsedBytes)} / ${mb(s.heapTotalBytes)}`,
            String(s.rssPerServiceBytes),
            String(s.watches),
            String(s.zkRequests),
            String(s.requests),
            String(s.httpConnections),
            c
              ? `${ms(c.inDriverMs)} / ${ms(c.separateProcessMs)}; ${ms(c.rawHttpMs)} / ${
                ms(c.pipelinedHttpMs)
              }`
              : "—",
            c ? `${(s.allAddsMs / bestRawMs(c)).toFixed(2)}×` : "—",
          ];
        }),
      ),
    );
    for (const s of results.coldSyncs) {
      if (!s.restart) continue;
      const r = s.restart;
      lines.push(
        `ZooKeeper restart at ${s.services.toLocaleString("en")}: server down ${
          ms(r.serverDownMs)
        } ms, ` +
          `monitor resynced ${ms(r.resyncMs)} ms after; ${r.spuriousDeletes} deletes, ` +
          `${r.spuriousAdds} adds; watches ${r.watchesBefore} → ${r.watchesAfter}; change after: ` +
          `add ${ms(r.addAfterMs)} ms, delete ${ms(r.deleteAfterMs)} ms — ` +
          (r.survived ? "survived" : `FAILED (${r.failure})`),
      );
    }
  }

  const bursts = [...(results.burst ? [results.burst] : []), ...results.bursts];
  if (bursts.length > 0) {
    lines.push("");
    lines.push(
      "3./5. Burst: the monitor synced on empty end points; n ephemerals created at once by " +
        "another session, then that session closed",
    );
    lines.push(
      ...table(
        [
          "services",
          "ZK creates ms",
          "all adds ms",
          "all removals ms",
          "µs/svc add",
          "µs/svc removal",
          "monitor CPU ms adds / removals",
          "adds: ZooKeeper / driver CPU ms",
          "RSS idle → loaded MB",
          "B/svc",
          "watches",
          "ZK requests",
          "HTTP conns",
        ],
        bursts.map((b) => [
          b.services.toLocaleString("en"),
          ms(b.zkCreatesMs),
          ms(b.allAddsMs),
          ms(b.allDeletesMs),
          ms(b.perServiceAddUs),
          ms(b.perServiceDeleteUs),
          `${Math.round(b.monitorCpuAddsMs)} / ${Math.round(b.monitorCpuDeletesMs)}`,
          cpuFigures(b.zooKeeperCpuAddsMs, b.driverCpuAddsMs),
          `${mb(b.idleRssBytes)} → ${mb(b.rssBytes)}`,
          String(b.rssPerServiceBytes),
          String(b.watches),
          String(b.zkRequests),
          String(b.httpConnections),
        ]),
      ),
    );
  }

  if (results.client) {
    const c = results.client;
    lines.push("");
    lines.push(`4. Client registration of ${c.leaves.toLocaleString("en")} leaves (from spawn)`);
    lines.push(
      ...table(["", "ms"], [
        ["first add at the receiver", ms(c.firstAddMs)],
        ["every leaf in ZooKeeper", ms(c.registeredInZkMs)],
        ["every add at the receiver", ms(c.allAddsMs)],
        ["SIGTERM → first delete at the receiver", ms(c.sigtermFirstDeleteMs)],
        ["SIGTERM → every delete at the receiver", ms(c.sigtermAllDeletesMs)],
        ["SIGTERM → client exited", ms(c.sigtermExitMs)],
        [
          `one leaf: SIGTERM → its delete (median of ${c.singleLeafSigtermMs.length})`,
          `${ms(c.singleLeafSigtermMedianMs)} (${c.singleLeafSigtermMs.map(ms).join(", ")})`,
        ],
      ]),
    );
  }
  const duplicates = [
    results.latency?.duplicateAdds ?? 0,
    ...results.coldSyncs.map((s) => s.duplicateAdds),
    ...bursts.map((b) => b.duplicateAdds),
    results.client?.duplicateAdds ?? 0,
  ].reduce((sum, value) => sum + value, 0);
  lines.push("");
  lines.push(
    duplicates === 0
      ? "Correctness: no service was added twice without a delete in between."
      : `Correctness: ${duplicates} adds of a service the receiver already held!`,
  );
  return lines;
}

function summaryCells(
  summary: { p50: number; p90: number; p99: number; max: number; mean: number },
) {
  return [summary.p50, summary.p90, summary.p99, summary.max, summary.mean].map((v) => ms(v));
}

/** A plain-text table with aligned columns. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length))
  );
  const render = (row: string[]) =>
    "| " + row.map((cell, column) => (cell ?? "").padEnd(widths[column])).join(" | ") + " |";
  return [
    render(header),
    "|" + widths.map((width) => "-".repeat(width + 2)).join("|") + "|",
    ...rows.map(render),
  ];
}

/** CPU times as "a / b / c" ms; "—" for one not measured (results written before it existed). */
function cpuFigures(...values: (number | undefined)[]): string {
  return values
    .map((cpu) => cpu === undefined || Number.isNaN(cpu) ? "—" : String(Math.round(cpu)))
    .join(" / ");
}
