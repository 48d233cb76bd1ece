/**
 * Metrics of a ZooKeeper session, shared by both programs.
 *
 * @module
 */
import type { MetricsRegistry } from "./metrics.ts";
import type { SessionState, ZkSession } from "./zookeeper/mod.ts";

const STATES: readonly SessionState[] = [
  "connecting",
  "connected",
  "suspended",
  "expired",
  "closed",
];

/** Registers `zkcm_zookeeper_session_state`, `..._suspended_seconds` and `..._sessions_total`. */
export function registerSessionMetrics(metrics: MetricsRegistry, session: ZkSession): void {
  let newSessions = 0;
  session.onStateChange((change) => {
    if (change.newSession) newSessions++;
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
}
