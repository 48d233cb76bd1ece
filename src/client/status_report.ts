/**
 * The client's status document (`GET /v1/status`, what its status page shows): each wanted
 * service, whether it is registered and in which session, its health check, and the ZooKeeper
 * session. A function over the registrar's and the checkers' state.
 *
 * @module
 */
import type { LeafReport, LeafStatus } from "./registrar.ts";
import type { SessionStatus } from "../session/status.ts";

/** One health check, as the report reads it. */
export interface ReportedHealthCheck {
  /** The target, as the configuration names it (`clickhouse://ch1:8123`). */
  target: string;
  healthy: boolean | undefined;
  lastDetail: string;
  inARow: { successes: number; failures: number };
  rise: number;
  fall: number;
}

/** One service in the document. */
export interface ClientServiceReport {
  path: string;
  data: string;
  wanted: boolean;
  status: LeafStatus;
  reason?: string;
  /** The session it is registered in, while `registered`. */
  session?: string;
  /** Its health check, when registration is gated on one. */
  health?: {
    target: string;
    /** `"unknown"` until the first check has ended. */
    state: "healthy" | "unhealthy" | "unknown";
    lastResult: string;
    successesInARow: number;
    failuresInARow: number;
    rise: number;
    fall: number;
  };
}

/** The client's status document. */
export interface ClientStatus {
  kind: "client";
  /** When the document was made (ISO 8601). */
  at: string;
  zookeeper: SessionStatus;
  services: ClientServiceReport[];
}

/** Builds the client's status document. */
export function clientStatus(sources: {
  session: SessionStatus;
  leaves: readonly LeafReport[];
  /** Health checks by the service path they gate. */
  checks: ReadonlyMap<string, ReportedHealthCheck>;
  nowMs?: number;
}): ClientStatus {
  return {
    kind: "client",
    at: new Date(sources.nowMs ?? Date.now()).toISOString(),
    zookeeper: sources.session,
    services: sources.leaves.map((leaf) => {
      const check = sources.checks.get(leaf.path);
      return {
        ...leaf,
        session: leaf.status === "registered" ? sources.session.sessionId : undefined,
        health: check && {
          target: check.target,
          state: check.healthy === undefined ? "unknown" : check.healthy ? "healthy" : "unhealthy",
          lastResult: check.lastDetail,
          successesInARow: check.inARow.successes,
          failuresInARow: check.inARow.failures,
          rise: check.rise,
          fall: check.fall,
        },
      };
    }),
  };
}
