/**
 * The monitor's options and routes that change what it does, each given as its environment
 * variable (so the variable's parsing is part of what is proved) to a monitor against a real
 * ZooKeeper and the stand-in proxy: RESYNC_INTERVAL, RESYNC_RATE, READY_MAX_PENDING,
 * MIN_SERVICES with `POST /v1/guard/release`, and `GET /v1/events`.
 */
import { type MonitorApp, monitorOptions, parseOptions, startMonitor } from "../../mod.ts";
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { proxyState, settled } from "../../testing/convergence.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor, withTimeout } from "../../testing/wait.ts";

const text = new TextEncoder();

/** Runs `body` with a monitor configured by `env` (plus ZooKeeper, the proxy, a status port). */
/** The operator's secret these monitors get: the acting routes need it. */
const OPERATOR_TOKEN = "the-operator's-secret";

async function withMonitor(
  zkHost: string,
  proxy: StandInAsabru,
  env: Record<string, string>,
  body: (
    app: MonitorApp,
    status: (path: string, init?: RequestInit) => Promise<Response>,
  ) => Promise<void>,
): Promise<void> {
  const parsed = parseOptions(
    monitorOptions,
    [],
    new Map(Object.entries({
      ZK_HOST: zkHost,
      ASABRU_API_URL: proxy.url,
      ZK_SESSION_TIMEOUT: "2s",
      RETRY_MAX: "200ms",
      STATUS_TOKEN: OPERATOR_TOKEN,
      ...env,
    })),
  );
  if (!parsed.ok || parsed.help) throw new Error(JSON.stringify(parsed));
  // Port 0 (any free port) is not a valid STATUS_PORT for users, only here.
  const app = await startMonitor({
    ...parsed.value,
    configTemplate: undefined, // a template is parsed by loadMonitorConfig; none here
    statusPort: 0,
    statusHost: "127.0.0.1",
  });
  try {
    await body(app, (path, init) => fetch(`http://127.0.0.1:${app.statusPort}${path}`, init));
  } finally {
    await app.shutdown();
  }
}

Deno.test("monitor options and routes", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  const services = async (count: number) => {
    await writer.deleteRecursive("/cluster1");
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < count; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${1000 + i}`));
    }
  };

  await t.step(
    "RESYNC_INTERVAL: a proxy restarted empty is restored with nobody asking",
    async () => {
      await services(5);
      await using proxy = await StandInAsabru.start();
      await withMonitor(zk.connectionString, proxy, { RESYNC_INTERVAL: "300ms" }, async (app) => {
        await settled(proxy, writer, app.queues, "initial");
        proxy.restartEmpty();
        await settled(proxy, writer, app.queues, "restored by the periodic resync");
        assert(app.queues[0].counters.resyncs >= 1, "a resync ran");
      });
    },
  );

  await t.step("RESYNC_RATE: a resync is paced at the rate given", async () => {
    // 40 services: 80 operations (delete + add) at 100/s, of which a first burst of 10 (a tenth
    // of a second's worth) goes at once: the rest takes at least 0.7 s. The default rate (500/s)
    // would take about 0.06 s. A lower bound only: a loaded machine makes it longer, not shorter.
    await services(40);
    await using proxy = await StandInAsabru.start();
    await withMonitor(zk.connectionString, proxy, { RESYNC_RATE: "100" }, async (app) => {
      await settled(proxy, writer, app.queues, "initial");
      const before = proxy.requests.length;
      app.resync("test");
      await app.queues[0].idle();
      const resync = proxy.requests.slice(before);
      assertEquals(resync.length, 80, "a delete and an add per service");
      const spanMs = resync.at(-1)!.at - resync[0].at;
      assert(spanMs >= 600, `80 operations at 100/s took ${Math.round(spanMs)} ms`);
      await settled(proxy, writer, app.queues, "after the paced resync");
    });
  });

  await t.step("READY_MAX_PENDING: /readyz fails while a change waits longer", async () => {
    await services(1);
    await using proxy = await StandInAsabru.start();
    await withMonitor(
      zk.connectionString,
      proxy,
      { READY_MAX_PENDING: "300ms" },
      async (app, status) => {
        await settled(proxy, writer, app.queues, "initial");
        assertEquals((await status("/readyz")).status, 200);
        await proxy.setMode("refuse");
        await writer.create("/cluster1/ep/waiting", text.encode("h:2000"));
        await waitFor(async () => (await status("/readyz")).status === 503, 5000, "not ready");
        const answer = await (await status("/readyz")).json();
        assertMatch(JSON.stringify(answer), /a change has waited/);
        await proxy.setMode("ok");
        await waitFor(async () => (await status("/readyz")).status === 200, 5000, "ready again");
        await settled(proxy, writer, app.queues, "delivered once the proxy is back");
      },
    );
  });

  await t.step(
    "an invalid service is logged once per reason, however its data changes",
    async () => {
      await services(1);
      await using proxy = await StandInAsabru.start();
      await withMonitor(zk.connectionString, proxy, {}, async (app) => {
        await settled(proxy, writer, app.queues, "initial");
        const invalid = () => app.journal.recent().filter((d) => d.decision === "invalid");
        await writer.create("/cluster1/ep/garbled", Uint8Array.of(0xff, 0x3a, 0x31));
        await waitFor(() => invalid().length === 1, 5000, "the invalid service noticed");
        // Other bytes, the same reason (not UTF-8); then another reason.
        await writer.setData("/cluster1/ep/garbled", Uint8Array.of(0xfe, 0x3a, 0x32));
        // Seen by the mirror before the next change (it reads the latest data on each event).
        const garbled = () => [...app.mirror.services()].find((svc) => svc.service === "garbled");
        await waitFor(() => garbled()?.data[0] === 0xfe, 5000, "the other bytes mirrored");
        await writer.setData("/cluster1/ep/garbled", text.encode("h:no-port"));
        await waitFor(() => invalid().length >= 2, 5000, "the new reason noticed");
        await writer.create("/cluster1/ep/after", text.encode("h:3000"));
        await settled(proxy, writer, app.queues, "a valid change after them");
        const reasons = invalid().map((d) => d.reason ?? "");
        assertEquals(reasons.length, 2, reasons.join(" | "));
        assertEquals(reasons[0], "data is not UTF-8");
        assertMatch(reasons[1], /h:no-port/);
      });
    },
  );

  await t.step(
    "MIN_SERVICES keeps the last services; POST /v1/guard/release; GET /v1/events",
    async () => {
      await services(3);
      await using proxy = await StandInAsabru.start();
      const env = { MASS_DELETE_GUARD: "1", MASS_DELETE_WINDOW: "100ms", MIN_SERVICES: "2" };
      await withMonitor(zk.connectionString, proxy, env, async (app, status) => {
        await settled(proxy, writer, app.queues, "initial");
        // One of three, two left: not a mass delete, above the floor: it goes.
        const deletedS0 = proxy.nextRequest((r) => r.op === "delete" && r.service === "s0");
        await writer.delete("/cluster1/ep/s0");
        await withTimeout(deletedS0, 5000, "the delete of s0, after the window");
        // One of the last two: kept.
        await writer.delete("/cluster1/ep/s1");
        await waitFor(() => app.guard.held === 1, 5000, "s1 held by the floor");
        assertEquals(proxyState(proxy), ["ep/s1=h:1001", "ep/s2=h:1002"]);
        const events = async () =>
          (await (await status("/v1/events")).json()).events as {
            decision: string;
            key?: string;
          }[];
        assert(
          (await events()).some((e) => e.decision === "held" && e.key === "ep/s1"),
          "GET /v1/events reports the hold",
        );
        const released = await status("/v1/guard/release", {
          method: "POST",
          headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` },
        });
        assertEquals(await released.json(), { released: 1 });
        await settled(proxy, writer, app.queues, "after the release");
        assert(
          (await events()).some((e) => e.decision === "released" && e.key === "ep/s1"),
          "GET /v1/events reports the release",
        );
        assert(
          (await events()).some((e) => e.decision === "sent" && e.key === "ep/s0"),
          "GET /v1/events reports what was sent",
        );
      });
    },
  );
});
