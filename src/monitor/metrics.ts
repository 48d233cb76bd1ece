/**
 * The monitor's own metrics (the session's and the process's are registered apart, as in the
 * client): the mirror, each proxy's delivery, the proxies' credentials, the election and the
 * mass-delete guard. Each is computed at scrape time from the part that knows it, so the wiring
 * keeps no counters of its own.
 *
 * @module
 */
import type { MetricsRegistry } from "../shared/metrics.ts";
import type { AsabruSender } from "../asabru/sender.ts";
import type { ProxyDelivery } from "./delivery/proxy_delivery.ts";
import type { DeleteGuard } from "./delete_guard.ts";
import type { LeaderElection } from "./leader_election.ts";
import { MIRROR_WATCH_MODES, type MirrorWatchMode } from "./tree_mirror.ts";

/** The delivery latency histogram, created before the queues that observe it. */
export function deliveryLatencyHistogram(
  metrics: MetricsRegistry,
): ReturnType<MetricsRegistry["histogram"]> {
  return metrics.histogram(
    "zkcm_delivery_latency_seconds",
    "From a change seen in ZooKeeper to the proxy holding it.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    ["proxy"],
  );
}

/** What the monitor's metrics read, each at scrape time. */
export interface MonitorMetricSources {
  mirror: { readonly synced: boolean; readonly size: number; readonly watchMode: MirrorWatchMode };
  queues: readonly ProxyDelivery[];
  /** Services not sent now, and invalid data seen so far (each znode and reason once). */
  invalid: () => { current: number; invalidSeen: number };
  /** Services sent although their znode is persistent. */
  persistent: () => number;
  election: Pick<LeaderElection, "leader" | "leadership">;
  guard: Pick<DeleteGuard, "held">;
  senders: readonly AsabruSender[];
}

/** Registers the mirror's, the delivery's, the credentials', the election's and the guard's. */
export function registerMonitorMetrics(
  metrics: MetricsRegistry,
  sources: MonitorMetricSources,
): void {
  metrics.gauge(
    "zkcm_mirror_synced",
    "1 when the mirror has read the whole tree.",
    [],
    () => sources.mirror.synced ? 1 : 0,
  );
  metrics.gauge(
    "zkcm_mirror_services",
    "Valid services mirrored from ZooKeeper (the invalid ones: zkcm_mirror_invalid_services).",
    [],
    () => sources.mirror.size - sources.invalid().current,
  );
  metrics.gauge(
    "zkcm_mirror_invalid_services",
    "Mirrored services not sent: data not host:port, names XML cannot carry.",
    [],
    () => sources.invalid().current,
  );
  metrics.gauge(
    "zkcm_mirror_watch_mode",
    "1 for how the mirror watches ZooKeeper (recursiveWatch, oneShotWatches, probing), 0 for the others.",
    ["mode"],
    () =>
      MIRROR_WATCH_MODES.map((mode) => ({
        labels: { mode },
        value: sources.mirror.watchMode === mode ? 1 : 0,
      })),
  );
  metrics.collectedCounter(
    "zkcm_mirror_invalid_total",
    "Invalid service data seen (each znode and reason once).",
    [],
    () => sources.invalid().invalidSeen,
  );
  const perProxy = (read: (queue: ProxyDelivery) => number) => () =>
    sources.queues.map((queue) => ({ labels: { proxy: queue.proxy }, value: read(queue) }));
  metrics.gauge(
    "zkcm_delivery_pending",
    "Services whose proxy state differs from ZooKeeper's.",
    ["proxy"],
    perProxy((q) => q.pending()),
  );
  metrics.gauge(
    "zkcm_delivery_proxy_up",
    "0 while the proxy is unreachable (paused, probing), else 1.",
    ["proxy"],
    perProxy((q) => q.unreachable ? 0 : 1),
  );
  metrics.collectedCounter(
    "zkcm_delivery_requests_total",
    "Requests sent to the proxy, by operation (add, delete; configuration: a whole-state push).",
    ["proxy", "op"],
    () =>
      sources.queues.flatMap((q) =>
        Object.entries(q.counters.sent).map(([op, value]) => ({
          labels: { proxy: q.proxy, op },
          value,
        }))
      ),
  );
  metrics.collectedCounter(
    "zkcm_delivery_results_total",
    "Answers by kind: ok, rejected (proxy said error), not_sent (unreachable), uncertain, misconfigured (404/405: not the update route).",
    ["proxy", "result"],
    () =>
      sources.queues.flatMap((q) => [
        { labels: { proxy: q.proxy, result: "ok" }, value: q.counters.ok },
        { labels: { proxy: q.proxy, result: "rejected" }, value: q.counters.rejected },
        { labels: { proxy: q.proxy, result: "not_sent" }, value: q.counters.notSent },
        { labels: { proxy: q.proxy, result: "uncertain" }, value: q.counters.uncertain },
        { labels: { proxy: q.proxy, result: "misconfigured" }, value: q.counters.misconfigured },
        { labels: { proxy: q.proxy, result: "not_applied" }, value: q.counters.notApplied },
        { labels: { proxy: q.proxy, result: "unauthorized" }, value: q.counters.unauthorized },
      ]),
  );
  metrics.collectedCounter(
    "zkcm_delivery_restart_recoveries_total",
    "Resyncs of a proxy that answered again after refused or broken connections (it may have restarted).",
    ["proxy"],
    perProxy((q) => q.counters.restartRecoveries),
  );
  metrics.collectedCounter(
    "zkcm_delivery_assumed_applied_total",
    "Adds of unknown outcome taken as applied, on a proxy whose delete removes nothing.",
    ["proxy"],
    perProxy((q) => q.counters.assumedApplied),
  );
  metrics.collectedCounter(
    "zkcm_delivery_retries_total",
    "Operations sent again after a failure.",
    ["proxy"],
    perProxy((q) => q.counters.retried),
  );
  metrics.collectedCounter(
    "zkcm_resyncs_total",
    "Full resyncs started.",
    ["proxy"],
    perProxy((q) => q.counters.resyncs),
  );
  registerProxyAuthMetrics(metrics, sources);
  metrics.gauge(
    "zkcm_mirror_persistent_services",
    "Services sent although their znode is persistent (a client's registration is ephemeral).",
    [],
    sources.persistent,
  );
  metrics.gauge(
    "zkcm_leader",
    "1 while this monitor leads (writes to the proxies).",
    [],
    () => sources.election.leader ? 1 : 0,
  );
  metrics.gauge(
    "zkcm_leader_epoch",
    "This monitor's election epoch (its candidate's sequence number).",
    [],
    () => sources.election.leadership.epoch ?? -1,
  );
  metrics.gauge(
    "zkcm_guard_held_deletes",
    "Deletes the mass-delete guard holds.",
    [],
    () => sources.guard.held,
  );
}

/** The proxies' credentials: logins, refusals, and whether they work now. */
function registerProxyAuthMetrics(
  metrics: MetricsRegistry,
  sources: Pick<MonitorMetricSources, "senders">,
): void {
  metrics.gauge(
    "zkcm_asabru_auth_ok",
    "0 while the proxy refuses the login or token (the reason is on /readyz), else 1.",
    ["proxy"],
    () =>
      sources.senders.map((sender) => ({
        labels: { proxy: sender.url },
        value: sender.credentials.report().problem === undefined ? 1 : 0,
      })),
  );
  metrics.collectedCounter(
    "zkcm_asabru_logins_total",
    "Logins at the proxy's /auth/login, by result: ok or refused.",
    ["proxy", "result"],
    () =>
      sources.senders.flatMap((sender) => {
        const report = sender.credentials.report();
        return [
          { labels: { proxy: sender.url, result: "ok" }, value: report.logins },
          { labels: { proxy: sender.url, result: "refused" }, value: report.refusedLogins },
        ];
      }),
  );
}
