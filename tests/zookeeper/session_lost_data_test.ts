/**
 * An ensemble that lost its data: the server restarts on an empty data directory, so it has not
 * seen the client's last zxid and hangs up on every reconnect. After the session timeout the
 * client starts a new session from zxid 0, with one warning that says why.
 */
import { type ZkConnectionFailure, ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalEnsemble, LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { planRegistrations } from "../../src/client/registrations.ts";
import { Registrar } from "../../src/client/registrar.ts";
import { connected } from "../../testing/session.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { nextStateChange, waitFor } from "../../testing/wait.ts";
import { withCapturedLogs } from "../../testing/logs.ts";

Deno.test("a server restarted empty: a new session after the session timeout, one warning", async () => {
  await withCapturedLogs(["zkcm", "session"], "info", async (records) => {
    await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 2000 });
    await using session = ZkSession.open({
      connectionString: zk.connectionString,
      sessionTimeoutMs: 2000,
      requestTimeoutMs: 30_000,
    });
    await session.waitUntilConnected({ timeoutMs: 10_000 });
    for (let i = 0; i < 20; i++) await session.create(`/before-${i}`);
    await session.create("/mine", undefined, { mode: "ephemeral" });
    const oldId = session.sessionId;
    const failures: ZkConnectionFailure[] = [];
    session.onConnectionFailure((failure) => failures.push(failure));

    const suspended = nextStateChange(session, (c) => c.state === "suspended", 5000, "suspended");
    await zk.kill();
    await suspended;
    for await (const entry of Deno.readDir(zk.dataDir)) {
      await Deno.remove(`${zk.dataDir}/${entry.name}`, { recursive: true });
    }
    const renewed = nextStateChange(session, (c) => c.newSession, 30_000, "a new session");
    const refusedFrom = performance.now();
    await zk.restart();
    const change = await renewed;
    assert(change.sessionId !== oldId, "a different session");
    assert(
      performance.now() - refusedFrom >= session.sessionTimeoutMs * 0.9,
      "not before the session timeout",
    );
    assert(
      failures.some((f) => f.kind === "reset" && f.reason.includes("has not seen zxid")),
      `the refusals were reported: ${JSON.stringify(failures)}`,
    );
    assertEquals(await session.exists("/before-0"), null, "the server's data is gone");
    await session.create("/mine", undefined, { mode: "ephemeral" });
    assertEquals((await session.exists("/mine"))?.ephemeralOwner, session.sessionId);

    // One warning says why (a loaded machine may add a watchdog's "silent" line of its own).
    const warnings = records.filter((r) => r.level === "warning").map((r) => r.message.join(""));
    assertEquals(warnings.filter((w) => w.includes("lost its data")).length, 1, `${warnings}`);
  });
});

/** Kills the server, empties its data directory and starts it again on the same port. */
async function restartEmpty(zk: LocalZooKeeper): Promise<void> {
  await zk.kill();
  for await (const entry of Deno.readDir(zk.dataDir)) {
    await Deno.remove(`${zk.dataDir}/${entry.name}`, { recursive: true });
  }
  await zk.restart();
}

Deno.test("a server restarted empty: the registrar puts every node back", async () => {
  await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 2000 });
  const planned = planRegistrations({
    "/cluster1": "",
    "/cluster1/node1": "",
    "/cluster1/node1/svc": "localhost:2023",
  });
  if (!planned.ok) throw new Error(planned.problems.join("; "));
  await using session = await connected({
    connectionString: zk.connectionString,
    sessionTimeoutMs: 2000,
    requestTimeoutMs: 30_000,
  });
  const registrar = new Registrar({ session, plan: planned.value });
  registrar.start();
  try {
    await waitFor(
      () => registrar.leaves().every((leaf) => leaf.status === "registered"),
      5000,
      "registered",
    );
    const oldId = session.sessionId;
    const renewed = nextStateChange(session, (c) => c.newSession, 30_000, "a new session");
    await restartEmpty(zk);
    await renewed;
    await using observer = await connected({ connectionString: zk.connectionString });
    await waitFor(
      async () =>
        (await observer.exists("/cluster1/node1/svc"))?.ephemeralOwner === session.sessionId,
      10_000,
      "the leaf is back, owned by the new session",
    );
    assert(session.sessionId !== oldId);
    assertEquals((await observer.exists("/cluster1/node1"))?.ephemeralOwner, 0n);
  } finally {
    await registrar.stop();
  }
});

Deno.test(
  "every member hanging up, none serving (no quorum) beyond the session timeout: no new session",
  async () => {
    await withCapturedLogs(["zkcm", "session"], "warning", async (records) => {
      await using ensemble = await LocalEnsemble.start(3, { maxSessionTimeoutMs: 2000 });
      // Through proxies, so that the killed members also accept and hang up, as a member
      // without quorum does: every member refuses the handshake, none can serve.
      const proxies = await Promise.all(
        ensemble.members.map((m) => FaultProxy.start({ hostname: "127.0.0.1", port: m.port })),
      );
      try {
        await using session = await connected({
          connectionString: proxies.map((p) => p.address).join(","),
          sessionTimeoutMs: 2000,
          requestTimeoutMs: 30_000,
        });
        await session.create("/kept", undefined, { mode: "ephemeral" });
        const inUse = proxies.findIndex((p) => p.address === session.server);
        const others = ensemble.members.filter((_, i) => i !== inUse);
        const suspended = nextStateChange(
          session,
          (c) => c.state === "suspended",
          10_000,
          "suspended",
        );
        const failures: ZkConnectionFailure[] = [];
        session.onConnectionFailure((failure) => failures.push(failure));
        await Promise.all(others.map((member) => member.kill()));
        await suspended;
        await waitFor(
          () => session.suspendedForMs() > 3 * session.sessionTimeoutMs,
          30_000,
          "three session timeouts of refusals",
        );
        const refusedBy = new Set(
          failures.filter((f) => f.reason.includes("before a session was established"))
            .map((f) => f.server),
        );
        assertEquals(refusedBy.size, 3, "every member hung up on the handshake");
        assertEquals(session.state, "suspended", "still waiting for the same session");
        const warnings = records.map((r) => r.message.join(""));
        assertEquals(warnings.filter((w) => w.includes("lost its data")), []);
      } finally {
        await Promise.all(proxies.map((p) => p.close()));
      }
    });
  },
);
