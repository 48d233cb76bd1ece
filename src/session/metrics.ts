/**
 * Metrics of a ZooKeeper session, shared by both programs.
 *
 * @module
 */
import type { MetricsRegistry } from "../shared/metrics.ts";
import type { SessionState, ZkConnectionFailure, ZkSession } from "../zookeeper/mod.ts";

const STATES: readonly SessionState[] = [
  "connecting",
  "connected",
  "suspended",
  "expired",
  "closed",
];

/** Every kind of {@link ZkConnectionFailure}: each series exists from the start, at 0. */
const FAILURE_KINDS: readonly ZkConnectionFailure["kind"][] = [
  "refused",
  "timeout",
  "unresolved",
  "tls",
  "auth",
  "expired",
  "reset",
  "other",
];

/**
 * Registers `zkcm_zookeeper_session_state`, `..._suspended_seconds`, `..._sessions_total` and
 * `..._connection_failures_total` (by `reason`, one of a fixed set of kinds).
 */
export function registerSessionMetrics(metrics: MetricsRegistry, session: ZkSession): void {
  let newSessions = 0;
  session.onStateChange((change) => {
    if (change.newSession) newSessions++;
  });
  const failures = new Map(FAILURE_KINDS.map((kind) => [kind, 0]));
  session.onConnectionFailure((failure) => {
    failures.set(failure.kind, (failures.get(failure.kind) ?? 0) + 1);
  });
  metrics.gauge(
    "zkcm_zookeeper_session_state",
    "1 for the ZooKeeper session's current state, 0 for the others.",
    ["state"],
    () => STATES.map((state) => ({ labels: { state }, value: session.state === state ? 1 : 0 })),
  );
  metrics.gauge(
    "zkcm_zookeeper_suspended_seconds",
    "How long the connection to ZooKeeper has been down (0 while connected).",
    [],
    () => session.suspendedForMs() / 1000,
  );
  metrics.collectedCounter(
    "zkcm_zookeeper_sessions_total",
    "Sessions established since start, the first one included.",
    [],
    () => newSessions,
  );
  metrics.collectedCounter(
    "zkcm_zookeeper_connection_failures_total",
    "Failed attempts to reach a ZooKeeper server or keep a session, by kind of reason.",
    ["reason"],
    () => [...failures].map(([reason, value]) => ({ labels: { reason }, value })),
  );
}
