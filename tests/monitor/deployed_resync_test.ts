/**
 * A resync request (SIGHUP, `POST /v1/resync`) against a proxy whose delete removes nothing, with
 * per-request delivery: the monitor against a real ZooKeeper and the deployed-mode stand-in. A
 * resync there would delete nothing and add every service again (a second slot each), so it is
 * skipped, with one warning per request, and the route says which proxies it skipped.
 */
import { type MonitorApp, startMonitor } from "../../mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { connectWriter, monitorTestOptions } from "../../testing/monitor_setup.ts";
import { withCapturedLogs } from "../../testing/logs.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const text = new TextEncoder();
const TOKEN = "operator-s3cret";

Deno.test("per-request delivery: a resync request skips a proxy whose delete removes nothing", async () => {
  await using zk = await LocalZooKeeper.start();
  await using writer = await connectWriter(zk.connectionString);
  await writer.ensurePath("/cluster1/ep");
  for (let i = 0; i < 3; i++) await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${i + 1}`));
  // Loopback in this process: a connect that waits behind the monitor's work is not the subject.
  await using proxy = await StandInAsabru.start({ behaviour: "deployed", firstByteMs: 2000 });
  await withCapturedLogs(["zkcm", "monitor"], "warning", async (records) => {
    const app: MonitorApp = await startMonitor(
      monitorTestOptions(zk.connectionString, [proxy.url], {
        statusPort: 0,
        statusHost: "127.0.0.1",
        statusToken: TOKEN,
      }),
    );
    try {
      await waitFor(() => proxy.list("ep").length === 3, 10_000, "the three services added");
      await app.queues[0].idle();
      const sent = proxy.history.length;

      assertEquals(app.resync("SIGHUP"), { resynced: [], skipped: [app.queues[0].proxy] });
      const answer = await fetch(`http://127.0.0.1:${app.statusPort}/v1/resync`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      assertEquals(answer.status, 202);
      assertEquals(await answer.json(), {
        status: "ok",
        resync: [],
        skipped: [app.queues[0].proxy],
      });
      // Whatever a resync would have sent is queued at once; let it (not) go out.
      assertEquals(app.queues[0].pending(), 0, "nothing queued by the resync requests");
      await app.queues[0].idle();

      assertEquals(proxy.history.length, sent, "no request went out");
      assertEquals(proxy.list("ep").length, 3);
      assertEquals(proxy.everDuplicated(), [], "no second slot, ever");
      const skips = records.filter((record) => String(record.rawMessage).includes("skips {proxy}"));
      assertEquals(
        skips.map((record) => [record.properties.reason, record.properties.proxy]),
        [["SIGHUP", app.queues[0].proxy], ["POST /v1/resync", app.queues[0].proxy]],
        "one warning per request, naming the proxy",
      );
      const line = String(skips[0].rawMessage);
      assert(line.includes("delete removes nothing") && line.includes("ASABRU_CONFIG_TEMPLATE"));
    } finally {
      await app.shutdown();
    }
  });
});
