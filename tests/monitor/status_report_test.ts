/**
 * The monitor's status document from real parts (delivery queues with a send function standing
 * for the proxy, the mass-delete guard, the journal): each state a service can be in towards a
 * proxy, each state of a proxy, and the decisions newest first.
 */
import { ProxyQueue } from "../../src/monitor/delivery/proxy_queue.ts";
import { DeleteGuard } from "../../src/monitor/delete_guard.ts";
import { DecisionJournal } from "../../src/monitor/journal.ts";
import {
  monitorStatus,
  type MonitorStatusSources,
  reportedPusher,
} from "../../src/monitor/status_report.ts";
import { WholeStatePusher } from "../../src/monitor/delivery/whole_state_pusher.ts";
import { parseConfigTemplate } from "../../src/asabru/parse_config_template.ts";
import type { MirroredService } from "../../src/monitor/tree_mirror.ts";
import { toWanted } from "../../src/monitor/wanted_service.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const encoder = new TextEncoder();

function mirrored(endPoint: string, service: string, data: string, czxid = 1n): MirroredService {
  return {
    endPoint,
    service,
    data: encoder.encode(data),
    czxid,
    mzxid: czxid,
    ephemeral: true,
    children: 0,
  };
}

Deno.test("status document: delivered, pending, retrying, held and invalid services", async () => {
  const up = new ProxyQueue({
    proxy: "http://up/updateService",
    send: () => Promise.resolve({ kind: "ok", ms: 1 }),
  });
  const down = new ProxyQueue({
    proxy: "http://down/updateService",
    send: () => Promise.resolve({ kind: "not-sent", reason: "connection refused", ms: 1 }),
    retryBaseMs: 60_000,
  });
  const queues = [up, down];
  const journal = new DecisionJournal(10);
  const guard = new DeleteGuard({
    enabled: true,
    share: 0.5,
    windowMs: 10,
    limboMs: 60_000,
    minServices: 0,
    apply: (key, wanted) => {
      for (const queue of queues) queue.setWanted(key, wanted);
    },
    journal,
  });
  try {
    const services = [
      mirrored("ep1", "a", "10.0.0.1:8123"),
      mirrored("ep1", "b", "10.0.0.2:8123"),
      mirrored("ep1", "c", "10.0.0.3:8123"),
      mirrored("ep2", "bad", "no port"),
    ];
    for (const service of services) {
      const result = toWanted(service);
      const key = `${service.endPoint}/${service.service}`;
      guard.set(key, service.endPoint, "wanted" in result ? result.wanted : undefined);
    }
    await up.idle();
    await waitFor(() => down.unreachable, 5000, "the down proxy's first failure");
    journal.record({ decision: "leader", reason: "epoch 1" });
    guard.remove("ep1/b", "ep1");
    guard.remove("ep1/c", "ep1");
    await waitFor(() => guard.held === 2, 5000, "two deletes held");

    const sources: MonitorStatusSources = {
      monitorId: "m1",
      root: "/cluster1",
      leadership: { leader: true, epoch: 1 },
      session: { state: "connected", since: "2026-01-01T00:00:00.000Z" },
      synced: true,
      services: [services[0], services[3]], // b and c are gone from ZooKeeper
      invalid: new Map([["ep2/bad", 'data "no port": contains whitespace']]),
      withheld: guard.withheldDeletes(),
      queues,
      events: journal.recent(),
    };
    const doc = monitorStatus(sources);

    assertEquals(doc.proxies.map((p) => [p.proxy, p.state]), [
      ["http://up/updateService", "in step"],
      ["http://down/updateService", "down"],
    ]);
    assertEquals(doc.proxies[1].lastError?.reason, "connection refused");
    assert(doc.proxies[1].pending >= 1);
    assertEquals(doc.endPoints.map((e) => e.name), ["ep1", "ep2"]);
    const ep1 = Object.fromEntries(doc.endPoints[0].services.map((s) => [s.name, s]));
    assertEquals(ep1.a.target, "10.0.0.1:8123");
    assertEquals(ep1.a.delivery[0], { state: "delivered" });
    assert(
      ["pending", "retrying"].includes(ep1.a.delivery[1].state),
      JSON.stringify(ep1.a.delivery[1]),
    );
    for (const name of ["b", "c"]) {
      assertEquals(ep1[name].delivery[0], {
        state: "held",
        op: "delete",
        reason: "gone from ZooKeeper; the mass-delete guard holds its delete",
      });
    }
    assertEquals(doc.endPoints[1].services[0].target, "no port");
    assertEquals(doc.endPoints[1].services[0].delivery, [
      { state: "invalid", reason: 'data "no port": contains whitespace' },
      { state: "invalid", reason: 'data "no port": contains whitespace' },
    ]);
    // Newest first: the guard's holds came after the leader decision.
    assertEquals(doc.events.map((e) => e.decision), ["held", "held", "leader"]);

    // The probe that failed is the one retrying, with why.
    const retrying = doc.endPoints[0].services.filter((s) => s.delivery[1].state === "retrying");
    assertEquals(retrying.length, 1);
    assertEquals(retrying[0].delivery[1], {
      state: "retrying",
      op: "add",
      reason: "connection refused",
    });

    // A standby sends nothing: its proxies say so, whatever their queues hold.
    const standby = monitorStatus({ ...sources, leadership: { leader: false, leaderId: "m2" } });
    assertEquals(standby.proxies.map((p) => p.state), ["standby", "standby"]);
    assertEquals([standby.monitor.leader, standby.monitor.leaderId], [false, "m2"]);
  } finally {
    guard.stop();
    await Promise.all(queues.map((queue) => queue.stop(0)));
  }
});

Deno.test("status document: a whole-state proxy, down, its service pending with no operation", async () => {
  const pusher = new WholeStatePusher({
    proxy: "http://whole/configuration",
    template: parseConfigTemplate(`<proxy>
  <protocol-server-config/>
  <END_POINT name="ep1"><SERVICES></SERVICES></END_POINT>
</proxy>`),
    push: () => Promise.resolve({ kind: "not-sent", reason: "connection refused", ms: 1 }),
    retryBaseMs: 60_000,
    random: () => 0,
  });
  try {
    const service = mirrored("ep1", "a", "10.0.0.1:8123");
    const result = toWanted(service);
    assert("wanted" in result);
    pusher.setWanted("ep1/a", result.wanted);
    pusher.startupListed(); // a whole state is pushed once the first read is complete
    await waitFor(() => pusher.unreachable, 5000, "the push failed");
    const doc = monitorStatus({
      monitorId: "m1",
      root: "/cluster1",
      leadership: { leader: true, epoch: 1 },
      session: { state: "connected", since: "2026-01-01T00:00:00.000Z" },
      synced: true,
      services: [service],
      invalid: new Map(),
      withheld: [],
      queues: [reportedPusher(pusher)],
      events: [],
      login: "monitor-user",
    });
    assertEquals(
      doc.proxies.map((p) => [p.delivery, p.state, p.pending, p.lastError?.reason, p.login]),
      [["whole state", "down", 1, "connection refused", "monitor-user"]],
    );
    assertEquals(doc.endPoints[0].services[0].delivery, [{ state: "pending" }]);
  } finally {
    await pusher.stop(0);
  }
});
