/**
 * The monitor, wired: a ZooKeeper session, the tree mirror, one delivery queue per proxy (or a
 * dry run that logs), and the status server with `/v1/services` and `POST /v1/resync`.
 * `monitor.ts` only adds configuration and signals.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { zkTlsOf } from "../session/tls.ts";
import { ZkSession } from "../zookeeper/mod.ts";
import {
  MIRROR_WATCH_MODES,
  type MirrorChange,
  type MirroredService,
  type MirrorWatchMode,
  TreeMirror,
} from "./tree_mirror.ts";
import { serviceOddity, toWanted } from "./wanted_service.ts";
import { ProxyQueue } from "./delivery/proxy_queue.ts";
import { AsabruSender } from "../asabru/sender.ts";
import { ProxyCredentials } from "../asabru/login.ts";
import type { ServiceRef } from "../asabru/wire.ts";
import { MetricsRegistry } from "../shared/metrics.ts";
import { createStatusApp, serveStatus, type StatusServer } from "../shared/status_server.ts";
import { registerSessionMetrics } from "../session/metrics.ts";
import { withZooKeeperReason, ZooKeeperReachability } from "../session/reachability.ts";
import { registerProcessMetrics } from "../shared/process_metrics.ts";
import { LeaderElection } from "./leader_election.ts";
import { DeleteGuard } from "./delete_guard.ts";
import { DecisionJournal } from "./journal.ts";
import type { Wanted } from "./delivery/decide.ts";
import type { MonitorOptions } from "./config.ts";
import { redactUrl } from "./proxy_url.ts";
import { watchChroot } from "../session/chroot_watch.ts";
import { connectionChroot } from "../session/connection_string.ts";
import type { WholeStatePusher } from "./delivery/whole_state_pusher.ts";
import { type ConfigTemplate, templateRefusal } from "../asabru/config_template.ts";
import { SessionStatusTracker } from "../session/status.ts";
import { monitorStatus, reportedPusher } from "./status_report.ts";
import { addStatusPage } from "../shared/status_page/routes.ts";
import { readStatusToken } from "./operator_auth.ts";
import { addMonitorActions } from "./actions.ts";

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

/** The name the dry-run "proxy" goes by in logs, metrics and `/v1/services`. */
export const DRY_RUN = "dry-run";

/**
 * How one proxy is delivered to: a request per change (`/updateService`), or its whole
 * configuration per batch of changes (`/configuration`, with `ASABRU_CONFIG_TEMPLATE`).
 */
export type ProxyDelivery = ProxyQueue | WholeStatePusher;

/** Whole-state delivery's template, and its pusher's class (imported only when there is one). */
interface WholeState {
  template: ConfigTemplate;
  Pusher: typeof WholeStatePusher;
}

/** A running monitor. */
export interface MonitorApp {
  readonly session: ZkSession;
  readonly mirror: TreeMirror;
  readonly queues: readonly ProxyDelivery[];
  readonly election: LeaderElection;
  readonly journal: DecisionJournal;
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

/** What a resync request did. */
export interface ResyncResult {
  /** The proxies resynced. */
  resynced: string[];
  /** The proxies skipped: per-request delivery to a proxy whose delete removes nothing. */
  skipped: string[];
}

/** Starts the monitor. */
export async function startMonitor(
  options: MonitorOptions & { zkHost: string },
): Promise<MonitorApp> {
  // First: a token file that cannot be read stops the start before anything is opened.
  const statusToken = await readStatusToken(options);
  const session = ZkSession.open({
    connectionString: options.zkHost,
    sessionTimeoutMs: options.sessionTimeoutMs,
    digestAuth: options.zkAuth,
    tls: zkTlsOf(options),
  });
  const reachability = new ZooKeeperReachability(session);
  const chrootWatch = watchChroot(session, connectionChroot(options.zkHost));
  const sessionStatus = new SessionStatusTracker(session, reachability);
  const metrics = new MetricsRegistry();
  const latency = metrics.histogram(
    "zkcm_delivery_latency_seconds",
    "From a change seen in ZooKeeper to the proxy holding it.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    ["proxy"],
  );

  const journal = new DecisionJournal(1000);
  const monitorId = options.monitorId ?? `${Deno.env.get("HOSTNAME") ?? "monitor"}:${Deno.pid}`;
  /** Set while a standby that just won waits for the old leader's requests to be over. */
  let takeoverPending = false;
  // Fencing: every request asks first whether this monitor still leads.
  const mayDeliver = () => election.leader && !takeoverPending;
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
    ? [dryRunQueue(options, wholeState, latency, mayDeliver, onDecision(DRY_RUN))]
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

  /** Services whose znode cannot be sent, with why (logged once per reason). */
  const invalid = new Map<string, string>();
  let invalidSeen = 0;
  /** Services sent although odd (a persistent znode), with what is odd (logged once each). */
  const odd = new Map<string, string>();
  /** End points refused for not being in the template, each logged once. */
  const refusedEndPoints = new Set<string>();
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
  const onChange = (change: MirrorChange) => {
    if (change.type === "remove") {
      invalid.delete(change.key);
      odd.delete(change.key);
      guard.remove(change.key, change.endPoint);
      return;
    }
    const oddity = serviceOddity(change.service);
    if (oddity === undefined) {
      odd.delete(change.key);
    } else if (odd.get(change.key) !== oddity) {
      odd.set(change.key, oddity);
      log.warn("{key} is a {oddity}; sending it all the same", { key: change.key, oddity });
    }
    const result = wantedFor(change.service);
    if ("invalid" in result) {
      if (invalid.get(change.key) !== result.invalid) {
        invalidSeen++;
        journal.record({ decision: "invalid", key: change.key, reason: result.invalid });
        const endPoint = result.endPointRefused;
        if (endPoint === undefined || !refusedEndPoints.has(endPoint)) {
          log.warn("not sending {key}: {reason}", { key: change.key, reason: result.invalid });
        }
        if (endPoint !== undefined) refusedEndPoints.add(endPoint);
      }
      invalid.set(change.key, result.invalid);
      guard.set(change.key, change.service.endPoint, undefined);
    } else {
      invalid.delete(change.key);
      guard.set(change.key, change.service.endPoint, result.wanted);
    }
  };
  let firstSyncDone = false;
  const mirror = new TreeMirror({
    session,
    root: options.rootNode,
    onChange,
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

  let wasStandby = false;
  /** The epoch this monitor last led with. */
  let ledEpoch: number | undefined;
  let takeoverTimer: ReturnType<typeof setTimeout> | undefined;
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
      if (!leadership.leader) {
        if (leadership.leaderId && leadership.leaderId !== monitorId) wasStandby = true;
        return;
      }
      // Leading with a new candidate after leading with an older one: our session expired in
      // between. Another monitor may have led and sent meanwhile, and left since (so we never
      // saw it lead): what we believe the proxies hold may be stale, as after a standby. Such a
      // monitor's candidate was created after our old one (it was not lower while we led), so
      // it cannot have been when our new candidate's sequence number follows the old one's.
      const othersMayHaveLed = ledEpoch !== undefined && leadership.epoch !== undefined &&
        leadership.epoch - ledEpoch > 1;
      ledEpoch = leadership.epoch;
      if (!wasStandby && !othersMayHaveLed) {
        for (const queue of queues) queue.kick();
        return;
      }
      // Taking over from another leader: let its last requests end (they are bounded by the
      // proxy timeout), then make every proxy hold exactly one copy of each service.
      wasStandby = false;
      takeoverPending = true;
      clearTimeout(takeoverTimer);
      takeoverTimer = setTimeout(() => {
        takeoverPending = false;
        log.info("took over as leader (epoch {epoch}): full resync", { epoch: leadership.epoch });
        for (const queue of queues) queue.resync();
        for (const queue of queues) queue.kick();
      }, options.proxyTimeout);
    },
  });
  journal.epochSource = () => election.leadership.epoch;
  registerSessionMetrics(metrics, session);
  registerProcessMetrics(metrics);
  registerMonitorMetrics(metrics, mirror, queues, () => ({ current: invalid.size, invalidSeen }));
  registerProxyAuthMetrics(metrics, senders);
  metrics.gauge(
    "zkcm_mirror_persistent_services",
    "Services sent although their znode is persistent (a client's registration is ephemeral).",
    [],
    () => odd.size,
  );
  metrics.gauge(
    "zkcm_leader",
    "1 while this monitor leads (writes to the proxies).",
    [],
    () => election.leader ? 1 : 0,
  );
  metrics.gauge(
    "zkcm_leader_epoch",
    "This monitor's election epoch (its candidate's sequence number).",
    [],
    () => election.leadership.epoch ?? -1,
  );
  metrics.gauge(
    "zkcm_guard_held_deletes",
    "Deletes the mass-delete guard holds.",
    [],
    () => guard.held,
  );

  // A resync re-adds every service; where delete removes nothing, each one would get another
  // slot. Restart recovery re-fills such a proxy after a restart instead.
  const resyncAddsCopies = (index: number, queue: ProxyDelivery) =>
    senders[index]?.answersInText === true && queue.delivery === "per request";
  const resync = (reason: string): ResyncResult => {
    log.info("full resync of every proxy ({reason})", { reason });
    const result: ResyncResult = { resynced: [], skipped: [] };
    for (const [index, queue] of queues.entries()) {
      if (resyncAddsCopies(index, queue)) {
        log.warn(
          "{reason} skips {proxy}: its delete removes nothing, so a resync would add a second " +
            "slot of every service; whole-state delivery (ASABRU_CONFIG_TEMPLATE) resyncs it exactly",
          { reason, proxy: queue.proxy },
        );
        result.skipped.push(queue.proxy);
        continue;
      }
      queue.resync(reason);
      result.resynced.push(queue.proxy);
    }
    return result;
  };

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
    resyncTimer = setInterval(() => {
      log.info("full resync of every proxy ({reason})", { reason: "RESYNC_INTERVAL" });
      for (const [index, queue] of queues.entries()) {
        if (resyncAddsCopies(index, queue)) {
          warnOnce(`interval:${queue.proxy}`, () =>
            log.warn(
              "RESYNC_INTERVAL skips {proxy}: its delete removes nothing, so a resync would add a " +
                "second slot of every service (restart recovery re-fills it after a restart)",
              { proxy: queue.proxy },
            ));
          continue;
        }
        queue.resync("RESYNC_INTERVAL");
      }
    }, options.resyncInterval);
  }

  let status: StatusServer | undefined;
  if (options.statusPort !== undefined) {
    const app = createStatusApp({
      // A standby delivers nothing by design: it is ready when its mirror is warm.
      ready: () =>
        withZooKeeperReason(
          reachability,
          readiness(mirror, election.leader ? queues : [], options.readyMaxPending, [
            chrootWatch?.problem,
            election.problem,
            // A refused login or token: one line naming the proxy and its answer.
            ...senders.map((sender) => sender.credentials.report().problem),
          ]),
        ),
      metrics,
    });
    app.get("/v1/services", (c) =>
      c.json({
        ...servicesReport(options.rootNode, mirror, queues, invalid, odd, wantedFor),
        proxies: Object.fromEntries(queues.map((queue) => [queue.proxy, deliveryStatus(queue)])),
        monitor: monitorId,
        leadership: election.leadership,
      }));
    app.get("/v1/events", (c) => c.json({ monitor: monitorId, events: journal.recent() }));
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
        invalid,
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
        clearTimeout(takeoverTimer);
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

/** Without a proxy: every operation is logged as what would have been sent, and succeeds. */
function dryRunQueue(
  options: MonitorOptions,
  wholeState: WholeState | undefined,
  latency: ReturnType<MetricsRegistry["histogram"]>,
  mayDeliver: () => boolean,
  onDecision: (decision: Parameters<DecisionJournal["record"]>[0]) => void,
): ProxyDelivery {
  const dryLog = getLogger(["zkcm", "dry-run"]);
  if (wholeState) {
    return new wholeState.Pusher({
      proxy: DRY_RUN,
      template: wholeState.template,
      push: (document) => {
        dryLog.info("would push a configuration of {bytes} characters", {
          bytes: document.length,
        });
        dryLog.debug("{document}", { document });
        return Promise.resolve({ kind: "ok", ms: 0 });
      },
      mayDeliver,
      onDecision,
      onConverged: (_key, ms) => latency.observe({ proxy: DRY_RUN }, ms / 1000),
    });
  }
  return new ProxyQueue({
    proxy: DRY_RUN,
    send: (op: "add" | "delete", ref: ServiceRef) => {
      dryLog.info(`would send ${op} {service} ({host}:{port}) to end point {endPoint}`, { ...ref });
      return Promise.resolve({ kind: "ok", ms: 0 });
    },
    concurrency: options.concurrency,
    mayDeliver,
    onDecision,
    onConverged: (_key, ms) => latency.observe({ proxy: DRY_RUN }, ms / 1000),
  });
}

function readiness(
  mirror: TreeMirror,
  queues: readonly ProxyDelivery[],
  maxPendingMs: number,
  problems: (string | undefined)[],
): { ready: boolean; reasons: string[] } {
  const reasons = problems.filter((problem) => problem !== undefined);
  if (!mirror.synced) reasons.push("mirror not synced with ZooKeeper");
  for (const queue of queues) {
    if (queue.misconfiguration !== undefined) {
      reasons.push(`${queue.proxy} answers ${queue.misconfiguration}: check ASABRU_API_URL`);
    }
    const waited = queue.oldestPendingMs();
    if (waited > maxPendingMs) {
      reasons.push(`${queue.proxy}: a change has waited ${Math.round(waited / 1000)} s`);
    }
  }
  return { ready: reasons.length === 0, reasons };
}

/**
 * The proxy entry a mirrored service stands for, or why it cannot be sent: {@link toWanted}, and
 * with whole-state delivery also the template's refusal (`endPointRefused` names an end point the
 * template lacks, so that refusal is logged once per end point, not per service).
 */
function wantedByTemplate(
  template: ConfigTemplate | undefined,
  service: MirroredService,
): { wanted: Wanted } | { invalid: string; endPointRefused?: string } {
  const result = toWanted(service);
  if (!template || "invalid" in result) return result;
  const refused = templateRefusal(template, result.wanted.ref);
  if (refused === undefined) return result;
  const endPointRefused = template.hasEndPoint(service.endPoint) ? undefined : service.endPoint;
  return { invalid: refused, endPointRefused };
}

/** One proxy's delivery for `/v1/services`: its mode and state, alike for both modes. */
function deliveryStatus(queue: ProxyDelivery) {
  if (queue.delivery === "whole state") return queue.status();
  return { mode: "per request", pending: queue.pending(), unreachable: queue.unreachable };
}

function servicesReport(
  root: string,
  mirror: TreeMirror,
  queues: readonly ProxyDelivery[],
  invalid: ReadonlyMap<string, string>,
  odd: ReadonlyMap<string, string>,
  wantedFor: (service: MirroredService) => { wanted: Wanted } | { invalid: string },
) {
  const endPoints: Record<string, Record<string, unknown>> = {};
  for (const service of mirror.services()) {
    const key = `${service.endPoint}/${service.service}`;
    const result = wantedFor(service);
    const oddity = odd.get(key);
    const entry = "wanted" in result
      ? {
        host: result.wanted.ref.host,
        port: result.wanted.ref.port,
        czxid: service.czxid.toString(),
        delivered: Object.fromEntries(queues.map((q) => [q.proxy, q.delivered(key)])),
        ...(oddity === undefined ? {} : { warning: oddity }),
      }
      : { czxid: service.czxid.toString(), invalid: invalid.get(key) ?? result.invalid };
    (endPoints[service.endPoint] ??= {})[service.service] = entry;
  }
  return {
    root,
    synced: mirror.synced,
    services: mirror.size,
    watchMode: mirror.watchMode,
    endPoints,
  };
}

function registerMonitorMetrics(
  metrics: MetricsRegistry,
  mirror: TreeMirror,
  queues: readonly ProxyDelivery[],
  invalid: () => { current: number; invalidSeen: number },
): void {
  metrics.gauge(
    "zkcm_mirror_synced",
    "1 when the mirror has read the whole tree.",
    [],
    () => mirror.synced ? 1 : 0,
  );
  metrics.gauge(
    "zkcm_mirror_services",
    "Valid services mirrored from ZooKeeper (the invalid ones: zkcm_mirror_invalid_services).",
    [],
    () => mirror.size - invalid().current,
  );
  metrics.gauge(
    "zkcm_mirror_invalid_services",
    "Mirrored services not sent: data not host:port, names XML cannot carry.",
    [],
    () => invalid().current,
  );
  metrics.gauge(
    "zkcm_mirror_watch_mode",
    "1 for how the mirror watches ZooKeeper (recursiveWatch, oneShotWatches, probing), 0 for the others.",
    ["mode"],
    () =>
      MIRROR_WATCH_MODES.map((mode) => ({
        labels: { mode },
        value: mirror.watchMode === mode ? 1 : 0,
      })),
  );
  metrics.collectedCounter(
    "zkcm_mirror_invalid_total",
    "Invalid service data seen (each znode and reason once).",
    [],
    () => invalid().invalidSeen,
  );
  const perProxy = (read: (queue: ProxyDelivery) => number) => () =>
    queues.map((queue) => ({ labels: { proxy: queue.proxy }, value: read(queue) }));
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
      queues.flatMap((q) =>
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
      queues.flatMap((q) => [
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
}

/** The proxies' credentials: logins, refusals, and whether they work now. */
function registerProxyAuthMetrics(
  metrics: MetricsRegistry,
  senders: readonly AsabruSender[],
): void {
  metrics.gauge(
    "zkcm_asabru_auth_ok",
    "0 while the proxy refuses the login or token (the reason is on /readyz), else 1.",
    ["proxy"],
    () =>
      senders.map((sender) => ({
        labels: { proxy: sender.url },
        value: sender.credentials.report().problem === undefined ? 1 : 0,
      })),
  );
  metrics.collectedCounter(
    "zkcm_asabru_logins_total",
    "Logins at the proxy's /auth/login, by result: ok or refused.",
    ["proxy", "result"],
    () =>
      senders.flatMap((sender) => {
        const report = sender.credentials.report();
        return [
          { labels: { proxy: sender.url, result: "ok" }, value: report.logins },
          { labels: { proxy: sender.url, result: "refused" }, value: report.refusedLogins },
        ];
      }),
  );
}

const warned = new Set<string>();

/** Runs `warn` the first time `key` is seen in this process. */
function warnOnce(key: string, warn: () => void): void {
  if (warned.has(key)) return;
  warned.add(key);
  warn();
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
