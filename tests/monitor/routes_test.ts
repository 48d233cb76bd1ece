/**
 * The monitor's reading routes (`GET /v1/services`, `GET /v1/events`) through `app.request()`,
 * over real parts: a delivery queue whose send function stands for the proxy, the journal, and
 * mirrored services as the mirror hands them over. No port, no ZooKeeper.
 */
import { addMonitorRoutes, type MonitorRouteSources } from "../../src/monitor/routes.ts";
import { ProxyQueue } from "../../src/monitor/delivery/proxy_queue.ts";
import type { DeliveryOutcome } from "../../src/asabru/sender.ts";
import { DecisionJournal } from "../../src/monitor/journal.ts";
import type { MirroredService } from "../../src/monitor/tree_mirror.ts";
import { serviceOddity, wantedByTemplate } from "../../src/monitor/wanted_service.ts";
import { createStatusApp } from "../../src/shared/status_server.ts";
import { MetricsRegistry } from "../../src/shared/metrics.ts";
import { assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const encoder = new TextEncoder();

function mirrored(
  endPoint: string,
  service: string,
  data: string,
  ephemeral = true,
): MirroredService {
  return {
    endPoint,
    service,
    data: encoder.encode(data),
    czxid: 7n,
    mzxid: 7n,
    ephemeral,
    children: 0,
  };
}

/**
 * A status app with the monitor's routes over `services`, fed through one queue whose proxy
 * applies every add except those of `refused`.
 */
async function monitorRoutesOver(services: MirroredService[], refused = new Set<string>()) {
  const queue = new ProxyQueue({
    proxy: "http://proxy/updateService",
    send: (_op, ref): Promise<DeliveryOutcome> =>
      Promise.resolve(
        refused.has(ref.service)
          ? { kind: "rejected", message: "no such end point", ms: 1 }
          : { kind: "ok", ms: 1 },
      ),
    retryBaseMs: 60_000,
  });
  const journal = new DecisionJournal(10);
  const invalid = new Map<string, string>();
  const odd = new Map<string, string>();
  const wantedFor = (service: MirroredService) => wantedByTemplate(undefined, service);
  for (const service of services) {
    const key = `${service.endPoint}/${service.service}`;
    const oddity = serviceOddity(service);
    if (oddity !== undefined) odd.set(key, oddity);
    const result = wantedFor(service);
    if ("invalid" in result) invalid.set(key, result.invalid);
    else queue.setWanted(key, result.wanted);
  }
  // Every add answered: applied, or refused (a refusal stays pending, retried after a minute).
  const adds = services.length - invalid.size;
  await waitFor(
    () => queue.counters.ok + queue.counters.rejected === adds,
    5000,
    "every add answered",
  );
  const sources: MonitorRouteSources = {
    monitorId: "m1",
    root: "/cluster1",
    mirror: {
      synced: true,
      size: services.length,
      watchMode: "recursiveWatch",
      services: () => services,
    },
    queues: [queue],
    invalid,
    odd,
    wantedFor,
    leadership: () => ({ leader: true, epoch: 3, leaderId: "m1" }),
    journal,
  };
  const app = createStatusApp({
    ready: () => ({ ready: true, reasons: [] }),
    metrics: new MetricsRegistry(),
  });
  addMonitorRoutes(app, sources);
  return { app, queue, journal };
}

Deno.test("GET /v1/services: each service with what the proxy acknowledged, or why not sent", async () => {
  const { app, queue } = await monitorRoutesOver(
    [
      mirrored("ep1", "a", "10.0.0.1:8123"),
      mirrored("ep1", "refused", "10.0.0.2:8123"),
      mirrored("ep1", "kept", "10.0.0.3:8123", false),
      mirrored("ep2", "bad", "no port"),
    ],
    new Set(["refused"]),
  );
  try {
    const response = await app.request("/v1/services");
    assertEquals(response.status, 200);
    const body = await response.json();
    const proxy = "http://proxy/updateService";
    assertEquals(body.root, "/cluster1");
    assertEquals(body.synced, true);
    assertEquals(body.services, 4);
    assertEquals(body.watchMode, "recursiveWatch");
    assertEquals(body.monitor, "m1");
    assertEquals(body.leadership, { leader: true, epoch: 3, leaderId: "m1" });
    assertEquals(body.endPoints.ep1.a, {
      host: "10.0.0.1",
      port: 8123,
      czxid: "7",
      delivered: { [proxy]: true },
    });
    assertEquals(body.endPoints.ep1.refused.delivered, { [proxy]: false });
    assertEquals(body.endPoints.ep1.kept.warning, serviceOddity(mirrored("x", "y", "", false)));
    assertEquals(body.endPoints.ep2.bad.czxid, "7");
    assertEquals(typeof body.endPoints.ep2.bad.invalid, "string");
    assertEquals(body.endPoints.ep2.bad.host, undefined);
    assertEquals(body.proxies, {
      [proxy]: { mode: "per request", pending: 1, unreachable: false },
    });
  } finally {
    await queue.stop(0);
  }
});

Deno.test("GET /v1/events: the journal, oldest first, with the monitor's id", async () => {
  const { app, queue, journal } = await monitorRoutesOver([]);
  try {
    journal.record({ decision: "standby", reason: "leader: m2" });
    journal.record({ decision: "leader", reason: "epoch 3" });
    const body = await (await app.request("/v1/events")).json();
    assertEquals(body.monitor, "m1");
    assertEquals(
      body.events.map((event: { decision: string }) => event.decision),
      ["standby", "leader"],
    );
  } finally {
    await queue.stop(0);
  }
});

Deno.test("the reading routes answer GET only", async () => {
  const { app, queue } = await monitorRoutesOver([]);
  try {
    for (const path of ["/v1/services", "/v1/events"]) {
      const response = await app.request(path, { method: "POST" });
      assertEquals(response.status, 404, path);
      assertEquals(await response.json(), { error: "not found" });
    }
  } finally {
    await queue.stop(0);
  }
});
