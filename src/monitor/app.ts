/**
 * The monitor, wired: it builds the parts and connects them, and decides nothing itself. One
 * change travels
 *
 *   ZooKeeper → `tree_mirror.ts` → `admission.ts` (sendable?) → `delete_guard.ts` (mass delete?)
 *   → `delivery/` (one queue or pusher per proxy) → `asabru/sender.ts` → the proxy,
 *
 * fenced by the election (`leader_election.ts`, `takeover.ts`). Around it: the status server
 * (`routes.ts`, `actions.ts`, the status page), the metrics (`metrics.ts`), readiness
 * (`readiness.ts`) and resyncs (`resync.ts`). `monitor.ts` only adds configuration and signals.
 *
 * @module
 */
import { openProgramSession } from "../session/program_session.ts";
import { getLogger } from "@logtape/logtape";
import { ZkSession } from "../zookeeper/mod.ts";
import { type MirroredService, type MirrorWatchMode, TreeMirror } from "./tree_mirror.ts";
import { wantedByTemplate } from "./wanted_service.ts";
import { ProxyQueue } from "./delivery/proxy_queue.ts";
import { AsabruSender } from "../asabru/sender.ts";
import { ProxyCredentials } from "../asabru/login.ts";
import { MetricsRegistry } from "../shared/metrics.ts";
import { createStatusApp, serveStatus, type StatusServer } from "../shared/status_server.ts";
import { registerSessionMetrics } from "../session/metrics.ts";
import { withZooKeeperReason } from "../session/reachability.ts";
import { registerProcessMetrics } from "../shared/process_metrics.ts";
import { LeaderElection } from "./leader_election.ts";
import { deliveryLatencyHistogram, registerMonitorMetrics } from "./metrics.ts";
import { Takeover } from "./takeover.ts";
import { DeleteGuard } from "./delete_guard.ts";
import { DecisionJournal } from "./journal.ts";
import type { Wanted } from "./delivery/decide.ts";
import type { MonitorOptions } from "./config.ts";
import { redactUrl } from "./proxy_url.ts";
import type { WholeStatePusher } from "./delivery/whole_state_pusher.ts";
import type { ConfigTemplate } from "../asabru/config_template.ts";
import { monitorStatus, reportedPusher } from "./status_report.ts";
import { addStatusPage } from "../shared/status_page/routes.ts";
import { readStatusToken } from "./operator_auth.ts";
import { addMonitorActions } from "./actions.ts";
import { addMonitorRoutes } from "./routes.ts";
import { Admission } from "./admission.ts";
import { DRY_RUN, dryRunDelivery } from "./delivery/dry_run.ts";
import { monitorReadiness } from "./readiness.ts";
import { resyncOnInterval, resyncProxies, type ResyncResult } from "./resync.ts";

const log = getLogger(["zkcm", "monitor"]);
/** The longest the mirror waits for the election's first decision before it starts reading. */
const MIRROR_START_WAIT_MS = 1000;
/**
 * How long the start-up may take before its bulk logging ends anyway: a read that keeps failing
 * (a znode the monitor may not read) would otherwise keep every later change at debug level.
 */
const STARTUP_LOG_GRACE_MS = 60_000;

/** How the status page names the mirror's watch modes. */
const WATCH_MODE_WORDS: Record<MirrorWatchMode, string> = {
  probing: "probing for a recursive watch",
  recursiveWatch: "recursive watch",
  oneShotWatches: "classic (one-shot watches)",
};

export { DRY_RUN };

import type { ProxyDelivery } from "./delivery/proxy_delivery.ts";
export type { ProxyDelivery };

/** Whole-state delivery's template, and its pusher's class (imported only when there is one). */
interface WholeState {
  template: ConfigTemplate;
  Pusher: typeof WholeStatePusher;
}

/** A running monitor. */
export interface MonitorApp {
  /** The monitor's ZooKeeper session. */
  readonly session: ZkSession;
  /** The mirror of the watched root: the services ZooKeeper holds. */
  readonly mirror: TreeMirror;
  /** One delivery per proxy URL, in `ASABRU_API_URL`'s order. */
  readonly queues: readonly ProxyDelivery[];
  /** Who leads: only the leader delivers. */
  readonly election: LeaderElection;
  /** The recent decisions (`GET /v1/events`). */
  readonly journal: DecisionJournal;
  /** The mass-delete guard. */
  readonly guard: DeleteGuard;
  /** The status server's port, when one runs. */
  readonly statusPort?: number;
  /** Resolves when the session is closed for good (for example refused credentials). */
  readonly sessionClosed: Promise<void>;
  /**
   * Full resync of every proxy (SIGHUP, `POST /v1/resync`), except a per-request one whose
   * delete removes nothing (a resync would give each service a second slot there).
   */
  resync(reason: string): ResyncResult;
  /** Stops watching, lets requests in flight finish (bounded), closes everything. Idempotent. */
  shutdown(): Promise<void>;
}

export type { ResyncResult };

/** Starts the monitor. */
export async function startMonitor(
  options: MonitorOptions & { zkHost: string },
): Promise<MonitorApp> {
  // First: a token file that cannot be read stops the start before anything is opened.
  const statusToken = await readStatusToken(options);
  const { session, reachability, chrootWatch, sessionStatus } = openProgramSession(options);
  const metrics = new MetricsRegistry();
  const latency = deliveryLatencyHistogram(metrics);

  const journal = new DecisionJournal(1000);
  const monitorId = options.monitorId ?? `${Deno.env.get("HOSTNAME") ?? "monitor"}:${Deno.pid}`;
  const takeover = new Takeover({
    monitorId,
    drainMs: options.proxyTimeout,
    onContinue: () => {
      for (const queue of queues) queue.kick();
    },
    onTakeover: (epoch) => {
      log.info("took over as leader (epoch {epoch}): full resync", { epoch });
      for (const queue of queues) queue.resync();
      for (const queue of queues) queue.kick();
    },
  });
  // Fencing: every request asks first whether this monitor still leads.
  const mayDeliver = () => election.leader && !takeover.pending;
  const onDecision = (proxy: string) => (decision: Parameters<DecisionJournal["record"]>[0]) =>
    journal.record({ ...decision, proxy });
  const senders: AsabruSender[] = [];
  const template = options.configTemplate;
  // Loaded only with a template: its XML DOM adds megabytes to the resident memory.
  const wholeState: WholeState | undefined = template && {
    template,
    Pusher: (await import("./delivery/whole_state_pusher.ts")).WholeStatePusher,
  };
  const queues: ProxyDelivery[] = options.proxyUrls.length === 0
    ? [dryRunDelivery({
      wholeState,
      concurrency: options.concurrency,
      mayDeliver,
      onDecision: onDecision(DRY_RUN),
      onConverged: (_key, ms) => latency.observe({ proxy: DRY_RUN }, ms / 1000),
    })]
    : options.proxyUrls.map((url): ProxyDelivery => {
      // The name in logs, metrics and status pages: never with a password, however it came in.
      const proxy = redactUrl(url);
      const sender = new AsabruSender({
        url,
        credentials: new ProxyCredentials({
          proxyUrl: url,
          token: options.proxyToken,
          username: options.proxyUsername,
          password: options.proxyPassword,
          timeoutMs: options.proxyTimeout,
        }),
        timeoutMs: options.proxyTimeout,
        maxConnections: options.proxyConnections,
        transport: options.proxyTransport,
        // With whole-state delivery removals take effect: nothing to warn about.
        onTextAnswers: template ? undefined : () => warnDeletesRemoveNothing(url, sender),
      });
      senders.push(sender);
      if (wholeState) {
        return new wholeState.Pusher({
          proxy,
          template: wholeState.template,
          push: (document) => sender.sendConfiguration(document),
          retryMaxMs: options.retryMax,
          mayDeliver,
          onDecision: onDecision(proxy),
          onConverged: (_key, ms) => latency.observe({ proxy }, ms / 1000),
        });
      }
      return new ProxyQueue({
        proxy,
        send: (op, ref) => sender.send(op, ref),
        concurrency: options.concurrency,
        retryMaxMs: options.retryMax,
        resyncPerSecond: options.resyncRate,
        restartRecovery: options.restartRecovery,
        // The deployed proxy (text answers) removes nothing on delete: see decide.ts.
        deletesRemove: () => !sender.answersInText,
        mayDeliver,
        onDecision: onDecision(proxy),
        onConverged: (_key, ms) => latency.observe({ proxy }, ms / 1000),
      });
    });

  const wantedFor = (service: MirroredService) => wantedByTemplate(template, service);
  const toQueues = (key: string, wanted: Wanted | undefined) => {
    // Until the first full read, every service may already be in the proxy (sent by the
    // monitor that ran before this one): delete before add, so it ends with one copy.
    const proxyMayHold = !firstSyncDone;
    for (const queue of queues) queue.setWanted(key, wanted, { proxyMayHold });
  };
  const guard = new DeleteGuard({
    enabled: options.massDeleteGuard,
    share: options.massDeletePercent / 100,
    windowMs: options.massDeleteWindow,
    limboMs: options.massDeleteLimbo,
    minServices: options.minServices,
    apply: toQueues,
    journal,
  });
  const admission = new Admission({ wantedFor, journal, next: guard });
  let firstSyncDone = false;
  const mirror = new TreeMirror({
    session,
    root: options.rootNode,
    onChange: (change) => admission.onChange(change),
    onSynced: () => {
      firstSyncDone = true;
      clearTimeout(startupGraceTimer);
      for (const queue of queues) queue.startupListed();
    },
  });

  let mirrorStarted = false;
  // Set once the election has started, below; `startMirror` may run before that.
  // deno-lint-ignore prefer-const
  let mirrorStartTimer: ReturnType<typeof setTimeout> | undefined;
  let startupGraceTimer: ReturnType<typeof setTimeout> | undefined;
  const startMirror = () => {
    clearTimeout(mirrorStartTimer);
    if (mirrorStarted) return;
    mirrorStarted = true;
    mirror.start();
    startupGraceTimer = setTimeout(() => {
      if (firstSyncDone) return;
      log.warn(
        "the first full read of {root} is not complete after {seconds} s (a read keeps failing): " +
          "changes are logged one by one from now on",
        { root: options.rootNode, seconds: STARTUP_LOG_GRACE_MS / 1000 },
      );
      for (const queue of queues) queue.startupListed();
    }, STARTUP_LOG_GRACE_MS);
  };

  const election: LeaderElection = new LeaderElection({
    session,
    path: options.electionPath ?? `${options.rootNode}-election`,
    id: monitorId,
    onChange: (leadership) => {
      startMirror();
      journal.record({
        decision: leadership.leader ? "leader" : "standby",
        reason: leadership.leader
          ? `epoch ${leadership.epoch}`
          : `leader: ${leadership.leaderId ?? "none"}`,
      });
      takeover.onLeadership(leadership);
    },
  });
  journal.epochSource = () => election.leadership.epoch;
  registerSessionMetrics(metrics, session);
  registerProcessMetrics(metrics);
  registerMonitorMetrics(metrics, {
    mirror,
    queues,
    invalid: () => ({ current: admission.invalid.size, invalidSeen: admission.invalidSeen }),
    persistent: () => admission.odd.size,
    election,
    guard,
    senders,
  });

  // senders[i] sends for queues[i]; the dry run has no sender.
  const resyncTargets = queues.map((queue, index) => ({ queue, sender: senders[index] }));
  const resync = (reason: string): ResyncResult => resyncProxies(resyncTargets, reason);

  log.info("watching {root} on ZooKeeper {zkHost}, delivering to {proxies}", {
    root: options.rootNode,
    zkHost: options.zkHost,
    proxies: queues.map((queue) => queue.proxy),
  });
  // The election first, and the mirror once it has decided (or after a second, whichever comes
  // first): the election's few round trips then do not wait behind thousands of reads in the
  // session's queue, and a leader delivers each service as soon as it is read.
  election.start();
  mirrorStartTimer = setTimeout(startMirror, MIRROR_START_WAIT_MS);

  let resyncTimer: ReturnType<typeof setInterval> | undefined;
  if (options.resyncInterval !== undefined) {
    resyncTimer = setInterval(() => resyncOnInterval(resyncTargets), options.resyncInterval);
  }

  let status: StatusServer | undefined;
  if (options.statusPort !== undefined) {
    const app = createStatusApp({
      // A standby delivers nothing by design: it is ready when its mirror is warm.
      ready: () =>
        withZooKeeperReason(
          reachability,
          monitorReadiness(mirror, election.leader ? queues : [], options.readyMaxPending, [
            chrootWatch?.problem,
            election.problem,
            // A refused login or token: one line naming the proxy and its answer.
            ...senders.map((sender) => sender.credentials.report().problem),
          ]),
        ),
      metrics,
    });
    addMonitorRoutes(app, {
      monitorId,
      root: options.rootNode,
      mirror,
      queues,
      invalid: admission.invalid,
      odd: admission.odd,
      wantedFor,
      leadership: () => election.leadership,
      journal,
    });
    addStatusPage(app, () =>
      monitorStatus({
        monitorId,
        root: options.rootNode,
        leadership: election.leadership,
        session: sessionStatus.report(),
        watchMode: WATCH_MODE_WORDS[mirror.watchMode],
        login: options.proxyUsername,
        synced: mirror.synced,
        services: mirror.services(),
        invalid: admission.invalid,
        withheld: guard.withheldDeletes(),
        queues: queues.map((queue) =>
          queue.delivery === "whole state" ? reportedPusher(queue) : queue
        ),
        events: journal.recent(),
      }));
    addMonitorActions(app, {
      token: statusToken,
      resync: () => resync("POST /v1/resync"),
      releaseGuard: () => guard.releaseAll(),
    });
    status = await serveStatus(app, { port: options.statusPort, hostname: options.statusHost });
  }

  let stopping: Promise<void> | undefined;
  return {
    session,
    mirror,
    queues,
    election,
    journal,
    guard,
    statusPort: status?.port,
    sessionClosed: session.closed,
    resync,
    shutdown() {
      stopping ??= (async () => {
        clearInterval(resyncTimer);
        clearTimeout(mirrorStartTimer);
        clearTimeout(startupGraceTimer);
        mirrorStarted = true; // a late election change must not start it now
        takeover.stop();
        chrootWatch?.stop();
        guard.stop();
        await mirror.stop();
        await election.stop();
        await Promise.all(queues.map((queue) => queue.stop(options.proxyTimeout)));
        for (const sender of senders) sender.close();
        await session.close();
        reachability.stop();
        sessionStatus.stop();
        await status?.shutdown();
      })();
      return stopping;
    },
  };
}

/** Once per proxy: it is the deployed kind, whose delete removes nothing. */
function warnDeletesRemoveNothing(url: string, sender: AsabruSender): void {
  log.warn(
    "{proxy} answers in the deployed Asabru proxy's text format: requests go one per connection " +
      "(transport {transport}), and its delete removes nothing, so a service removed from " +
      "ZooKeeper stays in its rotation. Removals take effect only with whole-state delivery " +
      "through /configuration: set ASABRU_CONFIG_TEMPLATE to the config.xml the proxy runs with.",
    { proxy: url, transport: sender.transport },
  );
}
