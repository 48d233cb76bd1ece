/**
 * The monitor's reading routes on its status server (open to anyone who reaches the port; the
 * acting ones are in `actions.ts`):
 *
 * - `GET /v1/services`: the mirrored tree, each service with its data and what each proxy
 *   acknowledged, or why it is not sent; each proxy's delivery; who leads;
 * - `GET /v1/events`: the decision journal, oldest first.
 *
 * Functions over the state the monitor keeps, added to the status app, so tests call
 * `app.request(...)` on real parts without a port.
 *
 * @module
 */
import type { Hono } from "hono";
import type { MirroredService, MirrorWatchMode } from "./tree_mirror.ts";
import type { Wanted } from "./delivery/decide.ts";
import type { ProxyDelivery } from "./delivery/proxy_delivery.ts";
import type { Leadership } from "./leader_election.ts";
import type { DecisionJournal } from "./journal.ts";

/** What the routes read of the tree mirror. */
export interface MirrorView {
  readonly synced: boolean;
  readonly size: number;
  readonly watchMode: MirrorWatchMode;
  services(): Iterable<MirroredService>;
}

/** The state the reading routes report. */
export interface MonitorRouteSources {
  monitorId: string;
  root: string;
  mirror: MirrorView;
  queues: readonly ProxyDelivery[];
  /** Services not sent, by key, with why. */
  invalid: ReadonlyMap<string, string>;
  /** Services sent although odd (a persistent znode), by key, with what is odd. */
  odd: ReadonlyMap<string, string>;
  /** The proxy entry a mirrored service stands for, or why it cannot be sent. */
  wantedFor: (service: MirroredService) => { wanted: Wanted } | { invalid: string };
  leadership: () => Leadership;
  journal: DecisionJournal;
}

/** Adds `GET /v1/services` and `GET /v1/events` to the monitor's status app. */
export function addMonitorRoutes(app: Hono, sources: MonitorRouteSources): void {
  const { monitorId, queues } = sources;
  app.get("/v1/services", (c) =>
    c.json({
      ...servicesReport(sources),
      proxies: Object.fromEntries(queues.map((queue) => [queue.proxy, deliveryStatus(queue)])),
      monitor: monitorId,
      leadership: sources.leadership(),
    }));
  app.get("/v1/events", (c) => c.json({ monitor: monitorId, events: sources.journal.recent() }));
}

/** One proxy's delivery for `/v1/services`: its mode and state, alike for both modes. */
function deliveryStatus(queue: ProxyDelivery) {
  if (queue.delivery === "whole state") return queue.status();
  return { mode: "per request", pending: queue.pending(), unreachable: queue.unreachable };
}

function servicesReport(
  { root, mirror, queues, invalid, odd, wantedFor }: MonitorRouteSources,
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
