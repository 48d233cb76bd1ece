/**
 * The ClickHouse health check against a real ClickHouse: Debian's `clickhouse-server` 18.16, one
 * server (with a real ZooKeeper for its replicated tables) shared by the steps, started by
 * `testing/local_clickhouse.ts`. The stand-in (`testing/stand_in_clickhouse.ts`) must answer as it.
 */
import { checkOnce, HealthChecker, type HealthTarget } from "../../src/client/health_check.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { assertEquals, assertMatch } from "../../testing/assert.ts";
import { LocalClickHouse } from "../../testing/local_clickhouse.ts";
import { ReplicaPair } from "../../testing/replica_lag.ts";
import { StandInClickHouse } from "../../testing/stand_in_clickhouse.ts";
import { waitFor } from "../../testing/wait.ts";

/** What a health check can see of an answer. */
interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

async function ask(url: string, method = "GET"): Promise<Answer> {
  const response = await fetch(url, {
    method,
    body: method === "POST" ? "" : undefined,
    // A kept-alive connection would hold up the server's graceful stop in a later step.
    headers: { connection: "close" },
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: await response.text(),
  };
}

/** A `/replicas_status` body that lists delays: one `db.table:<TAB>Absolute delay: ...` per line. */
const DELAY_LINES = /^(\S+:\tAbsolute delay: \d+\. Relative delay: \d+\.\n)+$/;

Deno.test("the ClickHouse health check against a real ClickHouse 18.16", async (t) => {
  await using zookeeper = await LocalZooKeeper.start();
  await using clickhouse = await LocalClickHouse.start({
    zookeeper: zookeeper.connectionString,
    // Off by default in 18.16: without it /replicas_status says `Ok.` however far a replica lags.
    mergeTree: { min_absolute_delay_to_close: 1 },
  });
  const target: HealthTarget = { kind: "clickhouse", baseUrl: clickhouse.url };
  const check = () => checkOnce(target, { timeoutMs: 2000 });

  await t.step("the stand-in answers as the real server does", async () => {
    // The answers below are 18.16's: a newer clickhouse-server on PATH answers lag with 503.
    assertMatch(await clickhouse.query("SELECT version()"), /^18\.16\./);
    await using standIn = await StandInClickHouse.start();
    const requests = [
      ["GET", "/ping"],
      ["HEAD", "/ping"],
      ["GET", "/replicas_status"],
      ["HEAD", "/replicas_status"],
      ["GET", "/nothing"],
      ["POST", "/ping"],
      ["DELETE", "/ping"],
    ];
    for (const [method, path] of requests) {
      assertEquals(
        await ask(`${standIn.url}${path}`, method),
        await ask(`${clickhouse.url}${path}`, method),
        `${method} ${path}`,
      );
    }
  });

  await t.step(
    "stopped: unhealthy after `fall` failures; started again: healthy after `rise`",
    async () => {
      const flips: { healthy: boolean; detail: string; checks: { ok: number; failed: number } }[] =
        [];
      await using checker = new HealthChecker({
        target,
        intervalMs: 20,
        fall: 3,
        rise: 2,
        onChange: (healthy, detail) => flips.push({ healthy, detail, checks: checker.checks }),
      });
      checker.start();
      await waitFor(() => flips.length === 1, 5000, "the initial state");
      assertEquals(flips[0], { healthy: true, detail: "ok", checks: { ok: 1, failed: 0 } });

      const beforeStop = checker.checks;
      const stopping = clickhouse.stop();
      await waitFor(() => flips.length === 2, 15_000, "unhealthy once the server stops");
      // The checks hold no connection open: one kept busy would keep 18.16 answering `Ok.` on it,
      // and running, until it is killed.
      assertEquals(await stopping, "stopped", "SIGTERM alone stopped the server");
      assertEquals(flips[1].healthy, false);
      assertEquals(flips[1].detail, "connection refused");
      assertEquals(flips[1].checks.failed - beforeStop.failed, 3, "failures when it flipped");

      const beforeStart = flips[1].checks;
      await clickhouse.restart();
      await waitFor(() => flips.length === 3, 15_000, "healthy once the server runs again");
      assertEquals(flips[2].healthy, true);
      assertEquals(flips[2].checks.ok - beforeStart.ok, 2, "successes when it flipped");
      assertEquals(flips.map((flip) => flip.healthy), [true, false, true]);
    },
  );

  await t.step(
    "a replica that lags is unhealthy, and healthy again once it caught up",
    async () => {
      const replicas = await ReplicaPair.create(clickhouse);
      assertEquals(await check(), { healthy: true, detail: "ok" });

      await replicas.fallBehind();
      let lagging = await check();
      await waitFor(
        async () => !(lagging = await check()).healthy,
        10_000,
        "the lag reported",
        100,
      );
      assertMatch(
        lagging.detail,
        /^replicas lag, says \/replicas_status: default\.events_behind: Absolute delay: [1-9]\d*\. Relative delay: 0\.$/,
      );
      // How 18.16 says it: 200 with the delays of every replicated table in place of `Ok.`; HEAD
      // cannot tell.
      const real = await ask(`${clickhouse.url}/replicas_status`);
      assertEquals({ ...real, body: "" }, { status: 200, contentType: null, body: "" });
      assertMatch(real.body, DELAY_LINES);
      assertMatch(
        real.body,
        /^default\.events_in_time:\tAbsolute delay: 0\. Relative delay: 0\.$/m,
      );
      assertEquals(await ask(`${clickhouse.url}/replicas_status`, "HEAD"), {
        status: 200,
        contentType: null,
        body: "",
      });
      await using standIn = await StandInClickHouse.start();
      standIn.setReplicas("lagging");
      const stood = await ask(`${standIn.url}/replicas_status`);
      assertEquals({ ...stood, body: "" }, { ...real, body: "" });
      assertMatch(stood.body, DELAY_LINES);

      await replicas.catchUp();
      await waitFor(async () => (await check()).healthy, 10_000, "healthy once caught up", 50);
    },
  );

  await t.step("a replicated table that lost ZooKeeper makes the server unhealthy", async () => {
    await zookeeper.stop();
    let readonly = await check();
    await waitFor(
      async () => !(readonly = await check()).healthy,
      20_000,
      "unhealthy once the ZooKeeper session is gone",
      100,
    );
    assertEquals(readonly, {
      healthy: false,
      detail: "HTTP 500 from /replicas_status: Code: 242, e.displayText() = DB::Exception: " +
        "Table is in readonly mode, e.what() = DB::Exception",
    });
    await using standIn = await StandInClickHouse.start();
    standIn.setReplicas("readonly");
    assertEquals(
      await ask(`${standIn.url}/replicas_status`),
      await ask(`${clickhouse.url}/replicas_status`),
    );
  });
});
