/**
 * What both programs say about reaching ZooKeeper: a warning naming the server and the system's
 * reason at the first failed attempt, a reminder at most every 30 s while it lasts (attempts and
 * the last reason), one info line when a session is (re)established saying after how long, and
 * the one-line reason `/readyz` gives meanwhile. Logger category `["zkcm", "zookeeper"]`.
 *
 * The metric of failures by kind is in `metrics.ts`, with the session's other metrics.
 *
 * @example
 * ```ts
 * const session = ZkSession.open({ connectionString: "127.0.0.1:2181" });
 * const reachability = new ZooKeeperReachability(session);
 * const ready = () => withZooKeeperReason(reachability, registrar.ready());
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  formatSessionId,
  type SessionStateChange,
  type ZkConnectionFailure,
  type ZkSession,
} from "../zookeeper/mod.ts";
import {
  type OutageNotice,
  OutageReport,
  type OutageReportOptions,
} from "../shared/outage_report.ts";
import type { Readiness } from "../shared/status_server.ts";

const log = getLogger(["zkcm", "zookeeper"]);

/** What happened, by kind, in words an operator reads before the system's own reason. */
const WHAT_HAPPENED: Record<ZkConnectionFailure["kind"], string> = {
  refused: "ZooKeeper server {server} refused the connection",
  unresolved: "the name of ZooKeeper server {server} does not resolve",
  timeout: "ZooKeeper server {server} does not answer",
  tls: "TLS handshake with ZooKeeper server {server} failed",
  auth: "ZooKeeper server {server} refused our credentials",
  expired: "ZooKeeper session expired on {server}",
  reset: "connection to ZooKeeper server {server} lost",
  other: "connection to ZooKeeper server {server} failed",
};

/**
 * The warning's message template for a failure notice: the first line of an outage, or a
 * reminder with the count. Placeholders are the notice's properties (see {@link noticeProperties}).
 */
export function noticeMessage(notice: OutageNotice<ZkConnectionFailure>): string {
  const what = `${WHAT_HAPPENED[notice.last.kind]}: {reason}`;
  const flaps = notice.flaps > 0
    ? "; the session came back and was lost again {flaps} times since the last warning"
    : "";
  return notice.first
    ? what + flaps
    : `still no ZooKeeper session after {seconds} s and {attempts} failed attempts; the last: ${what}${flaps}`;
}

/** The structured properties of a failure notice's line. */
export function noticeProperties(notice: OutageNotice<ZkConnectionFailure>) {
  return {
    ...notice.last,
    attempts: notice.attempts,
    seconds: Math.round(notice.downForMs / 1000),
    ...(notice.flaps > 0 ? { flaps: notice.flaps } : {}),
  };
}

/**
 * `/readyz`'s one-line reason while there is no live session: the state, for how long, and the
 * last failure as the system gave it. `undefined` while connected.
 */
export function readinessReason(
  state: ZkSession["state"],
  outage: OutageReport<ZkConnectionFailure>["outage"],
  now: number,
): string | undefined {
  if (state === "connected") return undefined;
  const seconds = outage ? Math.round((now - outage.since) / 1000) : 0;
  const head = `ZooKeeper session ${state} for ${seconds} s`;
  const last = outage?.last;
  if (!last) return head;
  return `${head}, ${outage.attempts} failed attempts; the last at ${last.server}: ` +
    `${last.reason} (${last.kind})`;
}

/** Watches one session's connection attempts and says what an operator needs. See module doc. */
export class ZooKeeperReachability {
  readonly #session: ZkSession;
  readonly #outage: OutageReport<ZkConnectionFailure>;
  readonly #now: () => number;
  readonly #stops: (() => void)[];

  /** Starts listening; the session is taken to be without a session from now on. */
  constructor(session: ZkSession, options: OutageReportOptions = {}) {
    this.#session = session;
    this.#now = options.now ?? (() => performance.now());
    this.#outage = new OutageReport({ ...options, now: this.#now });
    if (session.state !== "connected") this.#outage.lost();
    this.#stops = [
      session.onConnectionFailure((failure) => this.#onFailure(failure)),
      session.onStateChange((change) => this.#onStateChange(change)),
    ];
  }

  /** `/readyz`'s reason while there is no live session, `undefined` while connected. */
  readinessReason(): string | undefined {
    return readinessReason(this.#session.state, this.#outage.outage, this.#now());
  }

  /** Stops listening. */
  stop(): void {
    for (const stop of this.#stops) stop();
  }

  #onFailure(failure: ZkConnectionFailure): void {
    const notice = this.#outage.failed(failure);
    if (!notice) return;
    const sessionId = this.#session.sessionId;
    log.warn(noticeMessage(notice), {
      ...noticeProperties(notice),
      ...(sessionId === 0n ? {} : { sessionId: formatSessionId(sessionId) }),
    });
  }

  #onStateChange(change: SessionStateChange): void {
    if (change.state !== "connected") {
      // Today the failure comes first and starts the outage; the contract does not order the two
      // hooks, so a state change starts it as well.
      if (change.state !== "closed") this.#outage.lost();
      return;
    }
    const ended = this.#outage.recovered();
    const properties = {
      sessionId: formatSessionId(change.sessionId),
      server: change.server,
      ms: Math.round(ended?.downForMs ?? 0),
      attempts: ended?.attempts ?? 0,
      reason: ended?.last?.reason,
    };
    const what = change.newSession
      ? "ZooKeeper session {sessionId} established with {server} after {ms} ms"
      : "ZooKeeper session {sessionId} reconnected to {server} after {ms} ms";
    // The last reason too: after a drop it may be what the operator must know (an expiry).
    // A flap's recovery is counted in the next warning instead (see OutageReport).
    (ended?.quiet ? log.debug : log.info).bind(log)(
      properties.attempts > 0 ? `${what} and {attempts} failed attempts; the last: {reason}` : what,
      properties,
    );
  }
}

/** `readiness` with ZooKeeper's reason first when there is no live session. */
export function withZooKeeperReason(
  reachability: ZooKeeperReachability,
  readiness: Readiness,
): Readiness {
  const reason = reachability.readinessReason();
  if (reason === undefined) return readiness;
  return { ready: false, reasons: [reason, ...readiness.reasons] };
}
