/**
 * The client, wired: a ZooKeeper session, the registrar, a health checker per gated service, and
 * the optional status server. `client.ts` only adds configuration and signals.
 *
 * @module
 */
import { openProgramSession } from "../session/program_session.ts";
import { getLogger } from "@logtape/logtape";
import { ZkSession } from "../zookeeper/mod.ts";
import { CREATOR_ALL_WORLD_READ_ACL, OPEN_ACL } from "../zookeeper/mod.ts";
import { Registrar } from "./registrar.ts";
import { HealthChecker } from "./health_check.ts";
import { MetricsRegistry } from "../shared/metrics.ts";
import { createStatusApp, serveStatus, type StatusServer } from "../shared/status_server.ts";
import { registerSessionMetrics } from "../session/metrics.ts";
import { withZooKeeperReason } from "../session/reachability.ts";
import { registerProcessMetrics } from "../shared/process_metrics.ts";
import { type ClientConfig, describeHealthGate } from "./config.ts";
import { clientStatus, type ReportedHealthCheck } from "./status_report.ts";
import { addStatusPage } from "../shared/status_page/routes.ts";

const log = getLogger(["zkcm", "client"]);

/** A running client. */
export interface ClientApp {
  /** The client's ZooKeeper session, which owns its ephemeral registrations. */
  readonly session: ZkSession;
  /** Creates, restores and removes the registrations. */
  readonly registrar: Registrar;
  /** The status server's port, when one runs. */
  readonly statusPort?: number;
  /** Resolves when the session is closed for good (for example refused credentials). */
  readonly sessionClosed: Promise<void>;
  /** Removes our registrations, closes the session and the status server. Idempotent. */
  shutdown(): Promise<void>;
}

/** Starts the client: connects, registers, checks health, serves status. */
export async function startClient(config: ClientConfig): Promise<ClientApp> {
  const { options, plan } = config;
  const { session, reachability, chrootWatch, sessionStatus } = openProgramSession(options);
  const acl = (options.acl ?? (options.zkAuth ? "creator" : "open")) === "creator"
    ? CREATOR_ALL_WORLD_READ_ACL
    : OPEN_ACL;
  const gated = config.healthTargets;
  // Gated services wait for their first healthy check; the others register at once.
  const registrar = new Registrar({ session, plan, acl, startUnwanted: new Set(gated.keys()) });

  const checkers = [...gated].map(([path, target]) =>
    new HealthChecker({
      target,
      intervalMs: options.healthInterval,
      timeoutMs: options.healthTimeout,
      rise: options.healthRise,
      fall: options.healthFall,
      onChange: (healthy, detail) => {
        log.info(`{path} is ${healthy ? "healthy" : "unhealthy"}: {detail}`, {
          path,
          detail,
          target: describeHealthGate(target),
        });
        registrar.setWanted(path, healthy);
      },
    })
  );

  const metrics = new MetricsRegistry();
  registerSessionMetrics(metrics, session);
  registerProcessMetrics(metrics);
  registerClientMetrics(
    metrics,
    registrar,
    checkers.map((checker, i) => ({
      path: [...gated.keys()][i],
      checker,
    })),
  );

  log.info("registering {count} services with ZooKeeper {zkHost}", {
    count: plan.ephemeral.length,
    zkHost: options.zkHost,
    services: plan.ephemeral.map((service) => `${service.path}=${service.data}`),
  });
  registrar.start();
  for (const checker of checkers) checker.start();

  let status: StatusServer | undefined;
  if (options.statusPort !== undefined) {
    const app = createStatusApp({
      ready: () =>
        withProblem(
          withZooKeeperReason(reachability, registrar.ready()),
          chrootWatch?.problem,
        ),
      metrics,
    });
    const paths = [...gated.keys()];
    addStatusPage(app, () =>
      clientStatus({
        session: sessionStatus.report(),
        leaves: registrar.leaves(),
        checks: new Map(paths.map((path, i): [string, ReportedHealthCheck] => {
          const checker = checkers[i];
          return [path, {
            target: describeHealthGate(gated.get(path)),
            healthy: checker.healthy,
            lastDetail: checker.lastDetail,
            inARow: checker.inARow,
            rise: options.healthRise,
            fall: options.healthFall,
          }];
        })),
      }));
    status = await serveStatus(app, { port: options.statusPort, hostname: options.statusHost });
  }

  let stopping: Promise<void> | undefined;
  return {
    session,
    registrar,
    statusPort: status?.port,
    sessionClosed: session.closed,
    shutdown() {
      stopping ??= (async () => {
        chrootWatch?.stop();
        await Promise.all(checkers.map((checker) => checker.stop()));
        await registrar.stop();
        await session.close();
        reachability.stop();
        sessionStatus.stop();
        await status?.shutdown();
      })();
      return stopping;
    },
  };
}

/** Readiness with one more reason first, when there is one (a missing chroot explains the rest). */
function withProblem(
  readiness: { ready: boolean; reasons: string[] },
  problem: string | undefined,
): { ready: boolean; reasons: string[] } {
  if (problem === undefined) return readiness;
  return { ready: false, reasons: [problem, ...readiness.reasons] };
}

function registerClientMetrics(
  metrics: MetricsRegistry,
  registrar: Registrar,
  checkers: { path: string; checker: HealthChecker }[],
): void {
  metrics.gauge(
    "zkcm_client_services",
    "Services of the plan, by status (registered, pending, conflict, unwanted, failing).",
    ["status"],
    () => {
      const counts = new Map<string, number>();
      for (const status of ["registered", "pending", "conflict", "unwanted", "failing"]) {
        counts.set(status, 0);
      }
      for (const leaf of registrar.leaves()) counts.set(leaf.status, counts.get(leaf.status)! + 1);
      return [...counts].map(([status, value]) => ({ labels: { status }, value }));
    },
  );
  const counter = (name: string, help: string, read: () => number) =>
    metrics.collectedCounter(name, help, [], read);
  counter(
    "zkcm_client_registrations_total",
    "Services created in ZooKeeper since start.",
    () => registrar.counters.registrations,
  );
  counter(
    "zkcm_client_reregistrations_total",
    "Services created again in a new session after expiry.",
    () => registrar.counters.reRegistrations,
  );
  counter(
    "zkcm_client_takeovers_total",
    "Leftover registrations of an earlier run replaced.",
    () => registrar.counters.takeovers,
  );
  counter(
    "zkcm_client_deregistrations_total",
    "Services removed because unhealthy or at shutdown.",
    () => registrar.counters.deregistrations,
  );
  metrics.collectedCounter(
    "zkcm_health_checks_total",
    "Health checks run, by service and result.",
    ["path", "result"],
    () =>
      checkers.flatMap(({ path, checker }) => [
        { labels: { path, result: "ok" }, value: checker.checks.ok },
        { labels: { path, result: "failed" }, value: checker.checks.failed },
      ]),
  );
  metrics.gauge(
    "zkcm_health_healthy",
    "1 while the service's health check passes, 0 while it fails, -1 before the first check.",
    ["path"],
    () =>
      checkers.map(({ path, checker }) => ({
        labels: { path },
        value: checker.healthy === undefined ? -1 : checker.healthy ? 1 : 0,
      })),
  );
}
