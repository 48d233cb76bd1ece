/**
 * The monitor's status document (`GET /v1/status`, what the status page shows), as a function
 * over the state the monitor already keeps: who it is and whether it leads, the ZooKeeper
 * session, each proxy's queue, each service per proxy, and the recent decisions.
 *
 * Everything in it (names, data, reasons) may come from ZooKeeper or a proxy: untrusted text,
 * which the page shows as text only.
 *
 * @module
 */
import type { Leadership } from "./leader_election.ts";
import type { MirroredService } from "./tree_mirror.ts";
import { toWanted } from "./wanted_service.ts";
import type { Decision } from "./journal.ts";
import type { Wanted } from "./delivery/decide.ts";
import type { ProxyQueueStatus, ServiceDelivery } from "./delivery/proxy_queue.ts";
import type { SessionStatus } from "../session/status.ts";
import type { WholeStatePusher } from "./delivery/whole_state_pusher.ts";

/** How many decisions the document carries, newest first. */
export const STATUS_EVENTS = 200;

/** One proxy's queue, as the report reads it. */
export interface ReportedQueue {
  readonly proxy: string;
  /** How changes reach the proxy. Default "per request". */
  readonly delivery?: string;
  status(): ProxyQueueStatus;
  serviceDelivery(key: string): ServiceDelivery;
}

/** What {@link monitorStatus} reads. */
export interface MonitorStatusSources {
  monitorId: string;
  root: string;
  leadership: Leadership;
  session: SessionStatus;
  /** Who the monitor logs in to the proxies as (`ASABRU_USERNAME`), when it does. */
  login?: string;
  /** How the mirror watches ZooKeeper ("recursive watch" or "classic"), when it says. */
  watchMode?: string;
  synced: boolean;
  services: readonly MirroredService[];
  /** Services not sent, with why. */
  invalid: ReadonlyMap<string, string>;
  /** Deletes the mass-delete guard has not forwarded yet. */
  withheld: readonly { key: string; endPoint: string; wanted: Wanted; held: boolean }[];
  queues: readonly ReportedQueue[];
  /** The journal's decisions, oldest first (as it returns them). */
  events: readonly Decision[];
  /** Wall-clock milliseconds. Default `Date.now()`. */
  nowMs?: number;
}

/** One proxy in the document. */
export interface ProxyReport extends Omit<ProxyQueueStatus, "lastError" | "unreachable"> {
  proxy: string;
  /** How changes reach it: one request per change, or the whole state at once. */
  delivery: string;
  /** `standby`: this monitor does not lead, so it sends nothing. */
  state: "in step" | "catching up" | "down" | "standby";
  /** Who the monitor logs in as, when the proxy needs a login. */
  login?: string;
  lastError?: { reason: string; at?: string };
}

/** Where one service stands towards one proxy. */
export type ServiceReportState =
  | ServiceDelivery
  | { state: "held"; op: "delete"; reason: string }
  | { state: "invalid"; reason: string };

/** One service in the document. */
export interface ServiceReport {
  name: string;
  /** `host:port`, or the raw data when it is not one. */
  target: string;
  /**
   * Per proxy, in the order of the document's `proxies` (an array, not keyed by URL: with ten
   * thousand services the URLs alone would weigh most of the document).
   */
  delivery: ServiceReportState[];
}

/** The monitor's status document. */
export interface MonitorStatus {
  kind: "monitor";
  /** When the document was made (ISO 8601): the page says how old its data is. */
  at: string;
  monitor: {
    id: string;
    leader: boolean;
    epoch?: number;
    leaderId?: string;
    root: string;
    synced: boolean;
    services: number;
  };
  zookeeper: SessionStatus & { watchMode?: string };
  proxies: ProxyReport[];
  endPoints: { name: string; services: ServiceReport[] }[];
  /** Newest first. */
  events: Decision[];
}

const decoder = new TextDecoder();
/**
 * `toWanted` per mirrored service, kept while the mirror keeps the same object (it makes a new
 * one for every change): validating ten thousand `host:port`s at every poll of the page took
 * most of the document's time.
 */
const wantedOf = new WeakMap<MirroredService, ReturnType<typeof toWanted>>();

/** Builds the status document from the monitor's state. */
export function monitorStatus(sources: MonitorStatusSources): MonitorStatus {
  const nowMs = sources.nowMs ?? Date.now();
  const { leadership } = sources;
  const endPoints = new Map<string, ServiceReport[]>();
  const add = (endPoint: string, report: ServiceReport) => {
    let list = endPoints.get(endPoint);
    if (!list) endPoints.set(endPoint, list = []);
    list.push(report);
  };

  for (const service of sources.services) {
    const key = `${service.endPoint}/${service.service}`;
    let result = wantedOf.get(service);
    if (!result) wantedOf.set(service, result = toWanted(service));
    if ("invalid" in result) {
      const invalid: ServiceReportState = {
        state: "invalid",
        reason: sources.invalid.get(key) ?? result.invalid,
      };
      add(service.endPoint, {
        name: service.service,
        target: decoder.decode(service.data),
        delivery: sources.queues.map(() => invalid),
      });
      continue;
    }
    const { host, port } = result.wanted.ref;
    add(service.endPoint, {
      name: service.service,
      target: `${host}:${port}`,
      delivery: sources.queues.map((queue) => queue.serviceDelivery(key)),
    });
  }
  for (const { key, endPoint, wanted, held } of sources.withheld) {
    const reason = held
      ? "gone from ZooKeeper; the mass-delete guard holds its delete"
      : "gone from ZooKeeper; its delete waits for the guard's window";
    const state: ServiceReportState = { state: "held", op: "delete", reason };
    add(endPoint, {
      name: key.slice(endPoint.length + 1),
      target: `${wanted.ref.host}:${wanted.ref.port}`,
      delivery: sources.queues.map(() => state),
    });
  }

  return {
    kind: "monitor",
    at: new Date(nowMs).toISOString(),
    monitor: {
      id: sources.monitorId,
      leader: leadership.leader,
      epoch: leadership.epoch,
      leaderId: leadership.leaderId,
      root: sources.root,
      synced: sources.synced,
      services: sources.services.length,
    },
    zookeeper: { ...sources.session, watchMode: sources.watchMode },
    proxies: sources.queues.map((queue) => ({
      ...proxyReport(queue, leadership.leader),
      login: sources.login,
    })),
    endPoints: [...endPoints].sort(([a], [b]) => compare(a, b)).map(([name, services]) => ({
      name,
      services: services.sort((a, b) => compare(a.name, b.name)),
    })),
    events: sources.events.slice(-STATUS_EVENTS).reverse(),
  };
}

function proxyReport(queue: ReportedQueue, leader: boolean): ProxyReport {
  const { lastError, unreachable, ...counts } = queue.status();
  const state = !leader
    ? "standby"
    : unreachable
    ? "down"
    : counts.pending > 0
    ? "catching up"
    : "in step";
  return {
    proxy: queue.proxy,
    delivery: queue.delivery ?? "per request",
    state,
    ...counts,
    lastError: lastError && {
      reason: lastError.reason,
      at: lastError.atMs === undefined ? undefined : new Date(lastError.atMs).toISOString(),
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A whole-state pusher as the report reads it: one push carries every service, so a service is
 * delivered or pending, never an operation of its own.
 */
export function reportedPusher(pusher: WholeStatePusher): ReportedQueue {
  return {
    proxy: pusher.proxy,
    delivery: "whole state",
    status: () => {
      const status = pusher.status();
      return {
        inFlight: 0,
        pending: status.pending,
        oldestPendingMs: pusher.oldestPendingMs(),
        retries: 0,
        unreachable: status.unreachable,
        lastError: status.lastError === undefined ? undefined : { reason: status.lastError },
      };
    },
    serviceDelivery: (key) => pusher.delivered(key) ? { state: "delivered" } : { state: "pending" },
  };
}
