/**
 * The reachability report on a live session against a real ZooKeeper behind the fault proxy: a
 * dropped connection is one warning and one "reconnected after" line; an expiry is named in the
 * line of the new session; `/readyz`'s reason follows the session.
 */
import { reset as resetLogging } from "@logtape/logtape";
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { configureLogging } from "../../src/shared/logging.ts";
import { ZooKeeperReachability } from "../../src/session/reachability.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { expireSession } from "../../testing/expire_session.ts";
import { assertEquals, assertMatch } from "../../testing/assert.ts";
import { nextStateChange, waitFor } from "../../testing/wait.ts";

interface Line {
  level: string;
  message: string;
  logger: string;
}

Deno.test("reachability of a live session: a drop, a silent server, an expiry", async (t) => {
  const lines: Line[] = [];
  await configureLogging({
    level: "info",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  await using zk = await LocalZooKeeper.start();
  await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
  const session = ZkSession.open({ connectionString: proxy.address, sessionTimeoutMs: 1_000 });
  // The steps are separate outages seconds apart: with the programs' 30 s interval the later
  // ones would be flaps, held back (tests/shared/outage_report_test.ts covers that).
  const reachability = new ZooKeeperReachability(session, { reminderEveryMs: 1 });
  /** The report's lines since the last call. */
  let seen = 0;
  const said = () => {
    const report = lines.filter((line) => line.logger === "zkcm.zookeeper").slice(seen);
    seen += report.length;
    return report.map(({ level, message }) => `${level} ${message}`);
  };
  const sessionId = () => `0x${session.sessionId.toString(16)}`;
  try {
    await session.waitUntilConnected({ timeoutMs: 10_000 });
    const first = said();
    assertEquals(first.length, 1, first.join("\n"));
    assertMatch(
      first[0],
      new RegExp(
        `^INFO ZooKeeper session ${sessionId()} established with ${proxy.address} ` +
          `after \\d+ ms$`,
      ),
    );
    assertEquals(reachability.readinessReason(), undefined);

    await t.step("a dropped connection: one warning, then reconnected after how long", async () => {
      const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "back");
      proxy.dropAll();
      await back;
      const report = said();
      assertEquals(report.length, 2, report.join("\n"));
      assertEquals(
        report[0],
        `WARN connection to ZooKeeper server ${proxy.address} lost: connection closed by the server`,
      );
      assertMatch(
        report[1],
        new RegExp(
          `^INFO ZooKeeper session ${sessionId()} reconnected to ${proxy.address} ` +
            `after \\d+ ms and 1 failed attempts; the last: connection closed by the server$`,
        ),
      );
    });

    await t.step("a silent server: /readyz says suspended, with the timeout", async () => {
      proxy.setMode("blackhole");
      await waitFor(() => said().length > 0, 10_000, "the warning");
      assertMatch(
        reachability.readinessReason() ?? "",
        new RegExp(
          `^ZooKeeper session suspended for \\d+ s, \\d+ failed attempts; the last at ` +
            `${proxy.address}: no answer for \\d+ ms \\(limit \\d+ ms\\) \\(timeout\\)$`,
        ),
      );
      proxy.setMode("pass");
      await session.waitUntilConnected({ timeoutMs: 10_000 });
      said();
      assertEquals(reachability.readinessReason(), undefined);
    });

    await t.step("an expiry is named in the new session's line", async () => {
      const expired = sessionId();
      const renewed = nextStateChange(session, (c) => c.newSession, 10_000, "a new session");
      const { sessionId: id, password } = session.credentials();
      await expireSession(zk.connectionString, id, password, 1_000);
      await renewed;
      const report = said();
      assertMatch(
        report.at(-1) ?? "",
        new RegExp(
          `^INFO ZooKeeper session ${sessionId()} established with ${proxy.address} ` +
            `after \\d+ ms and \\d+ failed attempts; the last: the server no longer knows ` +
            `session ${expired}$`,
        ),
      );
    });
  } finally {
    reachability.stop();
    await session.close();
    await resetLogging();
  }
});
