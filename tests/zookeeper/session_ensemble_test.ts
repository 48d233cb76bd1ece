/**
 * The session layer against a real 3-member ensemble: failover after a member is killed, and the
 * watchdog leaving a silent (blackholed) member before the session dies.
 */
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalEnsemble } from "../../src/dev/local_zookeeper.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { nextStateChange } from "../../testing/wait.ts";

Deno.test("session layer against a 3-member ensemble", async (t) => {
  await using ensemble = await LocalEnsemble.start(3);

  await t.step(
    "kill -9 of the member in use: failover, same session, ephemeral survives",
    async () => {
      await using session = ZkSession.open({
        connectionString: ensemble.connectionString,
        sessionTimeoutMs: 4000,
      });
      await session.waitUntilConnected({ timeoutMs: 10_000 });
      await session.create("/failover", undefined, { mode: "ephemeral" });
      const sessionId = session.sessionId;
      const memberInUse = ensemble.members.find((m) => m.connectionString === session.server);
      assert(memberInUse, `the session's server ${session.server} is a member`);

      const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "failover");
      await memberInUse.kill();
      const change = await back;
      assertEquals(change.newSession, false);
      assertEquals(change.sessionId, sessionId);
      assert(change.server !== memberInUse.connectionString, "now on another member");
      assertEquals((await session.exists("/failover"))?.ephemeralOwner, sessionId);
      await memberInUse.restart();
    },
  );

  await t.step("a blackholed member: the watchdog fails over before the session dies", async () => {
    const proxies = await Promise.all(
      ensemble.members.map((m) => FaultProxy.start({ hostname: "127.0.0.1", port: m.port })),
    );
    try {
      await using session = ZkSession.open({
        connectionString: proxies.map((p) => p.address).join(","),
        sessionTimeoutMs: 4000,
      });
      await session.waitUntilConnected({ timeoutMs: 10_000 });
      await session.create("/watchdog", undefined, { mode: "ephemeral" });
      const sessionId = session.sessionId;
      const proxyInUse = proxies.find((p) => p.address === session.server);
      assert(proxyInUse, `the session's server ${session.server} is one of the proxies`);

      const suspended = nextStateChange(
        session,
        (c) => c.state === "suspended",
        10_000,
        "suspended",
      );
      const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "failover");
      proxyInUse.setMode("blackhole");
      await suspended;
      const change = await back;
      // Within the session timeout, which the ensemble enforces: a failover that came later
      // would find the session expired and start a new one.
      assertEquals(change.newSession, false, "the same session, not a new one");
      assertEquals(change.sessionId, sessionId);
      assert(change.server !== proxyInUse.address, "now through another member");
      assertEquals((await session.exists("/watchdog"))?.ephemeralOwner, sessionId);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});
