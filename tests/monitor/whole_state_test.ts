/**
 * Whole-state delivery (`ASABRU_CONFIG_TEMPLATE`) end to end: the monitor against a real ZooKeeper
 * and the deployed-mode stand-in, whose `/updateService` delete removes nothing and whose
 * `/configuration` replaces every end point's list. Removals must take effect, no slot may ever be
 * duplicated (the stand-in's whole history is checked, not only its end state), nothing the monitor
 * sends may crash the proxy, and a restarted proxy must be filled again.
 */
import { type MonitorApp, type MonitorOptions, startMonitor } from "../../mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { parseConfigTemplate } from "../../src/asabru/parse_config_template.ts";
import { WholeStatePusher } from "../../src/monitor/delivery/whole_state_pusher.ts";
import { StandInAsabru, type StandInAsabruOptions } from "../../testing/stand_in_asabru.ts";
import { asabruConfigXml } from "../../testing/asabru_config.ts";
import { connectWriter, monitorTestOptions } from "../../testing/monitor_setup.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const text = new TextEncoder();
const STATIC = { service: "ch_http_service1", host: "127.0.0.1", port: 8123 };
/** The proxy's configuration: one end point with a static service, one without. */
const CONFIG = asabruConfigXml({ ch_http_node1: [STATIC], ch_http_bare: [] });

/** `service=host:port` of an end point at the proxy, in its order. */
function slots(proxy: StandInAsabru, endPoint: string): string[] {
  return proxy.list(endPoint).map((entry) => `${entry.service}=${entry.host}:${entry.port}`);
}

function pusherOf(app: MonitorApp): WholeStatePusher {
  const [queue] = app.queues;
  assert(queue instanceof WholeStatePusher, "whole-state mode chose the pusher");
  return queue;
}

/** Nothing the monitor sent was malformed, crashed the proxy or doubled a slot, ever. */
function assertClean(proxy: StandInAsabru): void {
  assertEquals(proxy.everDuplicated(), [], "no slot ever duplicated");
  assertEquals(proxy.malformedReasons, [], "nothing malformed");
  assertEquals(proxy.crashes, 0, "the proxy never crashed");
  const kinds = new Set(proxy.history.map((record) => record.kind));
  assert(!kinds.has("/updateService"), "whole-state mode sends no /updateService");
}

Deno.test("monitor in whole-state mode against the deployed-mode stand-in", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using writer = await connectWriter(zk.connectionString);
  await writer.ensurePath("/cluster1/ch_http_node1");
  await writer.ensurePath("/cluster1/ch_http_bare");

  /** One scenario: a deployed-mode stand-in, a whole-state monitor, services registered. */
  interface Scenario {
    proxy: StandInAsabru;
    app: MonitorApp;
    /** Creates an ephemeral service (removed when the scenario ends). */
    register(path: string, data: string): Promise<void>;
  }
  async function scenario(
    standIn: Partial<StandInAsabruOptions>,
    overrides: Partial<MonitorOptions>,
    body: (scenario: Scenario) => Promise<void>,
  ): Promise<void> {
    await using proxy = await StandInAsabru.start({
      behaviour: "deployed",
      config: CONFIG,
      ...standIn,
    });
    const app = await startMonitor({
      ...monitorTestOptions(zk.connectionString, [proxy.url], {
        configTemplate: parseConfigTemplate(CONFIG),
        ...overrides,
      }),
    });
    const created: string[] = [];
    const register = async (path: string, data: string) => {
      created.push(await writer.create(path, text.encode(data), { mode: "ephemeral" }));
    };
    try {
      await body({ proxy, app, register });
    } finally {
      await app.shutdown();
      for (const path of created) {
        if (await writer.exists(path)) await writer.delete(path);
      }
    }
  }

  await t.step("a removal takes effect: the proxy's list loses the service", async () => {
    await scenario({}, {}, async ({ proxy, app, register }) => {
      await register("/cluster1/ch_http_node1/ch_http_service2", "localhost:2023");
      await register("/cluster1/ch_http_node1/ch_http_service3", "localhost:2024");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 3, 10_000, "both pushed");
      assertEquals(slots(proxy, "ch_http_node1"), [
        "ch_http_service1=127.0.0.1:8123",
        "ch_http_service2=localhost:2023",
        "ch_http_service3=localhost:2024",
      ]);
      await writer.delete("/cluster1/ch_http_node1/ch_http_service2");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "removed");
      assertEquals(slots(proxy, "ch_http_node1"), [
        "ch_http_service1=127.0.0.1:8123",
        "ch_http_service3=localhost:2024",
      ]);
      await pusherOf(app).idle();
      assertEquals(pusherOf(app).pending(), 0);
      assertClean(proxy);
      await writer.delete("/cluster1/ch_http_node1/ch_http_service3");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 1, 10_000, "static only");
    });
  });

  await t.step(
    "an end point with no service yet is left out of the push, not sent empty",
    async () => {
      await scenario({}, {}, async ({ proxy, app, register }) => {
        await register("/cluster1/ch_http_node1/ch_http_service2", "localhost:2023");
        await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "pushed");
        await pusherOf(app).idle();
        // Pushed empty, the proxy would crash at this request (and again after each restart).
        assertEquals(proxy.dataPlaneRequest("ch_http_bare"), undefined);
        assertEquals(proxy.crashes, 0, "the data-plane request did not crash the proxy");
        const pushes = () => proxy.history.filter((record) => record.kind === "/configuration");
        assertEquals(pushes().at(-1)!.detail, "1 end points, 2 services");
        await register("/cluster1/ch_http_bare/b1", "localhost:2031");
        await waitFor(() => slots(proxy, "ch_http_bare").length === 1, 10_000, "bare pushed");
        assertEquals(pushes().at(-1)!.detail, "2 end points, 3 services");
        const picked = proxy.dataPlaneRequest("ch_http_bare");
        assertEquals(picked !== "crashed" ? picked?.service : picked, "b1");
        assertClean(proxy);
      });
    },
  );

  await t.step("a burst of 300 goes out in a few pushes, each slot once", async () => {
    await scenario({}, {}, async ({ proxy, app }) => {
      await waitFor(() => app.mirror.synced, 10_000, "synced");
      const paths = Array.from({ length: 300 }, (_, i) => `/cluster1/ch_http_bare/b${i}`);
      const burst = await connectWriter(zk.connectionString);
      try {
        await Promise.all(
          paths.map((path, i) =>
            burst.create(path, text.encode(`10.0.${i >> 8}.${i & 255}:9000`), {
              mode: "ephemeral",
            })
          ),
        );
        await waitFor(() => slots(proxy, "ch_http_bare").length === 300, 20_000, "all pushed");
      } finally {
        await burst.close(); // ZooKeeper removes its ephemerals at once
      }
      // Never pushed empty: one of the bare end point's last pushed services stays.
      await waitFor(() => slots(proxy, "ch_http_bare").length === 1, 20_000, "the removals");
      assert(/^b\d+=10\.0\.\d+\.\d+:9000$/.test(slots(proxy, "ch_http_bare")[0]));
      await pusherOf(app).idle();
      const pushes = proxy.history.filter((record) => record.kind === "/configuration").length;
      assert(pushes < 60, `300 adds and 300 removals went out in ${pushes} pushes`);
      assertEquals(pusherOf(app).status().kept, ["ch_http_bare"]);
      assertClean(proxy);
    });
  });

  await t.step("an end point the template lacks is refused, never pushed", async () => {
    const status = { statusPort: 0, statusHost: "127.0.0.1" };
    await writer.ensurePath("/cluster1/not_in_template");
    await scenario({}, status, async ({ proxy, app, register }) => {
      await register("/cluster1/not_in_template/svc", "localhost:1");
      await register("/cluster1/ch_http_node1/ch_http_service1", "localhost:2");
      await register("/cluster1/ch_http_bare/after", "localhost:3");
      await waitFor(() => slots(proxy, "ch_http_bare").length === 1, 10_000, "a valid change");
      await pusherOf(app).idle();
      const report = await (await fetch(`http://127.0.0.1:${app.statusPort}/v1/services`)).json();
      assert(
        /not in the proxy's configuration template/.test(
          report.endPoints.not_in_template.svc.invalid,
        ),
        JSON.stringify(report.endPoints.not_in_template),
      );
      assert("invalid" in report.endPoints.ch_http_node1.ch_http_service1);
      assertEquals(report.proxies[proxy.url].mode, "whole state");
      assertEquals(report.proxies[proxy.url].lastPush.result, "ok");
      const metrics = await (await fetch(`http://127.0.0.1:${app.statusPort}/metrics`)).text();
      assert(/^zkcm_mirror_invalid_services 2$/m.test(metrics), "both counted as invalid");
      assert(/zkcm_delivery_requests_total\{proxy="[^"]+",op="configuration"\} \d+/.test(metrics));
      assertEquals([...proxy.table().keys()].includes("not_in_template"), false);
      assertEquals(slots(proxy, "ch_http_node1"), ["ch_http_service1=127.0.0.1:8123"]);
      assertClean(proxy);
    });
    await writer.deleteRecursive("/cluster1/not_in_template");
  });

  await t.step("the last service of an end point without static ones stays", async () => {
    await scenario({}, {}, async ({ proxy, app, register }) => {
      await register("/cluster1/ch_http_bare/only", "localhost:4");
      await waitFor(() => slots(proxy, "ch_http_bare").length === 1, 10_000, "pushed");
      await pusherOf(app).idle();
      const pushes = pusherOf(app).counters.ok;
      await writer.delete("/cluster1/ch_http_bare/only");
      await waitFor(() => pusherOf(app).counters.ok > pushes, 10_000, "a push after the delete");
      assertEquals(slots(proxy, "ch_http_bare"), ["only=localhost:4"], "never pushed empty");
      assertEquals(pusherOf(app).status().kept, ["ch_http_bare"]);
      assertEquals(proxy.dataPlaneRequest("ch_http_bare"), {
        service: "only",
        host: "localhost",
        port: 4,
      }, "a request to it is served, not a crash");
      assertClean(proxy);
    });
  });

  await t.step("hostile names reach the proxy as they are; hostile data is refused", async () => {
    // Znode names cannot hold "/", so no closing tag; everything else XML cares about is here.
    const names = [
      `q" x="1"><SERVICE name="evil"><HOST>evil<`,
      "<![CDATA[x]]>",
      "amp&amp;lt<!--'",
    ];
    await scenario({}, {}, async ({ proxy, app, register }) => {
      for (const [index, name] of names.entries()) {
        await register(`/cluster1/ch_http_node1/${name}`, `localhost:${3000 + index}`);
      }
      await register("/cluster1/ch_http_node1/bad_host", "</HOST><HOST>evil:1");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 4, 10_000, "pushed");
      await pusherOf(app).idle();
      assertEquals(
        proxy.list("ch_http_node1").map((entry) => entry.service).sort(),
        [STATIC.service, ...names].sort(),
      );
      assertEquals([...proxy.table().keys()].sort(), ["ch_http_node1"]);
      assertClean(proxy);
    });
  });

  await t.step("delivery goes on across token expiry, without a hand", async () => {
    const login = { proxyUsername: "monitor", proxyPassword: "s3cret" };
    await scenario({ users: { monitor: "s3cret" } }, login, async ({ proxy, app, register }) => {
      await register("/cluster1/ch_http_node1/before", "localhost:6");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "pushed");
      assertEquals(proxy.auth.logins, 1);
      proxy.expireTokens(); // as after the token's exp: every request with it gets 401
      await register("/cluster1/ch_http_node1/after", "localhost:7");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 3, 10_000, "pushed anew");
      assertEquals(proxy.auth.logins, 2, "logged in again after the 401");
      assertEquals(pusherOf(app).counters.unauthorized, 0, "no push ended unauthorized");
      assertClean(proxy);
    });
  });

  await t.step("a proxy that restarts is re-filled by the next push, without a hand", async () => {
    // The proxy stays down long enough for the push of the next change to find it down.
    await scenario({ restartMs: 1500 }, {}, async ({ proxy, app, register }) => {
      await register("/cluster1/ch_http_node1/first", "localhost:8");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "pushed");
      proxy.restartEmpty();
      await register("/cluster1/ch_http_bare/during", "localhost:9");
      await waitFor(() => pusherOf(app).unreachable, 10_000, "the push finds the proxy down");
      await proxy.settled();
      await waitFor(() => slots(proxy, "ch_http_bare").length === 1, 10_000, "re-filled");
      await pusherOf(app).idle(); // the stand-in applies a push before the pusher has its answer
      assertEquals(slots(proxy, "ch_http_node1"), [
        "ch_http_service1=127.0.0.1:8123",
        "first=localhost:8",
      ], "what the restart forgot is back");
      assertEquals(
        pusherOf(app).counters.restartRecoveries,
        1,
        JSON.stringify({ ...pusherOf(app).counters, history: proxy.history.slice(-6) }),
      );
      assertEquals(proxy.everDuplicated(), []);
      assertEquals(proxy.malformedReasons, []);
    });
  });

  await t.step(
    "RESYNC_INTERVAL re-fills a proxy that restarted while nothing changed",
    async () => {
      await scenario({}, { resyncInterval: 300 }, async ({ proxy, app, register }) => {
        await register("/cluster1/ch_http_node1/svc_i", "localhost:10");
        await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "pushed");
        proxy.restartEmpty();
        await proxy.settled();
        assertEquals(slots(proxy, "ch_http_node1"), ["ch_http_service1=127.0.0.1:8123"]);
        await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "re-filled");
        assert(pusherOf(app).counters.resyncs > 0);
        assertEquals(proxy.everDuplicated(), []);
      });
    },
  );

  await t.step("a standby that takes over pushes the whole state, removals included", async () => {
    const quick = { proxyTimeout: 500, monitorId: "first" };
    await scenario({}, quick, async ({ proxy, app, register }) => {
      await waitFor(() => app.election.leader, 10_000, "the first monitor leads");
      const standby = await startMonitor({
        ...monitorTestOptions(zk.connectionString, [proxy.url], {
          configTemplate: parseConfigTemplate(CONFIG),
          proxyTimeout: 500,
          monitorId: "second",
        }),
      });
      try {
        await waitFor(() => standby.mirror.synced, 10_000, "the standby's mirror is warm");
        await register("/cluster1/ch_http_node1/stays", "localhost:11");
        await register("/cluster1/ch_http_node1/goes", "localhost:12");
        await waitFor(() => slots(proxy, "ch_http_node1").length === 3, 10_000, "pushed");
        assertEquals(pusherOf(standby).counters.sent.configuration, 0, "a standby pushes nothing");
        await app.shutdown(); // the leader leaves; nobody pushes until the standby takes over
        await writer.delete("/cluster1/ch_http_node1/goes");
        await waitFor(() => standby.election.leader, 10_000, "the standby leads");
        await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "the removal");
        assertEquals(slots(proxy, "ch_http_node1"), [
          "ch_http_service1=127.0.0.1:8123",
          "stays=localhost:11",
        ]);
        assertClean(proxy);
      } finally {
        await standby.shutdown();
      }
    });
  });

  await t.step("a restarted proxy is filled again by a resync", async () => {
    await scenario({}, {}, async ({ proxy, app, register }) => {
      await register("/cluster1/ch_http_node1/svc_r", "localhost:5");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "pushed");
      proxy.restartEmpty();
      await proxy.settled();
      assertEquals(slots(proxy, "ch_http_node1"), ["ch_http_service1=127.0.0.1:8123"]);
      app.resync("test");
      await waitFor(() => slots(proxy, "ch_http_node1").length === 2, 10_000, "filled again");
      assertEquals(proxy.everDuplicated(), []);
    });
  });
});
