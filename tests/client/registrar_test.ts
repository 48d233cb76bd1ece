/**
 * The registrar against a real ZooKeeper: what it creates, take-over of our own leftovers,
 * conflicts, re-registration after expiry, health gating, shutdown, ACLs.
 */
import {
  CREATOR_ALL_WORLD_READ_ACL,
  ZkNoAuthError,
  ZkSession,
  type ZkSessionOptions,
} from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { planRegistrations, type RegistrationPlan } from "../../src/client/registrations.ts";
import { Registrar } from "../../src/client/registrar.ts";
import { expireSession } from "../../testing/expire_session.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { nextStateChange, waitFor } from "../../testing/wait.ts";

const decoder = new TextDecoder();
const SERVICE = "/cluster1/ch_http_node1/ch_http_service2";

function plan(entries: Record<string, string>): RegistrationPlan {
  const result = planRegistrations(entries);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.value;
}

const samplePlan = plan({
  "/cluster1": "",
  "/cluster1/ch_http_node1": "",
  [SERVICE]: "localhost:2023",
});

async function openSession(connectionString: string, extra: Partial<ZkSessionOptions> = {}) {
  const session = ZkSession.open({ connectionString, sessionTimeoutMs: 4000, ...extra });
  await session.waitUntilConnected({ timeoutMs: 10_000 });
  return session;
}

async function registered(registrar: Registrar, path = SERVICE): Promise<void> {
  await waitFor(
    () => registrar.leaves().find((leaf) => leaf.path === path)?.status === "registered",
    5000,
    `${path} registered`,
  );
}

Deno.test("registrar", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using observer = await openSession(zk.connectionString);

  const reset = () => observer.deleteRecursive("/cluster1");

  await t.step("the sample nodes.json: two persistent nodes and one ephemeral leaf", async () => {
    await reset();
    await using session = await openSession(zk.connectionString);
    const registrar = new Registrar({ session, plan: samplePlan });
    registrar.start();
    await registered(registrar);
    assertEquals((await observer.exists("/cluster1"))?.ephemeralOwner, 0n);
    assertEquals((await observer.exists("/cluster1/ch_http_node1"))?.ephemeralOwner, 0n);
    const leaf = await observer.getData(SERVICE);
    assertEquals(decoder.decode(leaf.data), "localhost:2023");
    assertEquals(leaf.stat.ephemeralOwner, session.sessionId);
    assertEquals(registrar.ready(), { ready: true, reasons: [] });
    await registrar.stop();
  });

  await t.step(
    "a restart takes over its own leftover leaf at once; the old one is replaced",
    async () => {
      await reset();
      // The "crashed" run: its session is still alive, as after kill -9 within the timeout.
      await using crashed = await openSession(zk.connectionString);
      const first = new Registrar({ session: crashed, plan: samplePlan });
      first.start();
      await registered(first);

      await using restarted = await openSession(zk.connectionString);
      const second = new Registrar({ session: restarted, plan: samplePlan });
      second.start();
      await registered(second);
      // At once: the crashed run's session is alive (and would stay so), so the leaf was taken
      // over, not waited out. No wall-clock bound: a loaded machine is slow too.
      assertEquals(crashed.state, "connected", "the crashed run's session still lives");
      assertEquals((await observer.exists(SERVICE))?.ephemeralOwner, restarted.sessionId);
      assertEquals(second.counters.takeovers, 1);
      // The older run, were it still alive, yields instead of taking the leaf back.
      await waitFor(() => first.leaves()[0].status === "conflict", 5000, "the older run yields");
      await first.settled();
      assertEquals((await observer.exists(SERVICE))?.ephemeralOwner, restarted.sessionId);
      await first.stop();
      await second.stop();
    },
  );

  await t.step(
    "a different registration at the path is never deleted; ours waits for it",
    async () => {
      await reset();
      await using other = await openSession(zk.connectionString);
      await other.ensurePath("/cluster1/ch_http_node1");
      await other.create(SERVICE, new TextEncoder().encode("otherhost:9000"), {
        mode: "ephemeral",
      });

      await using session = await openSession(zk.connectionString);
      const registrar = new Registrar({ session, plan: samplePlan });
      registrar.start();
      await waitFor(
        () => registrar.leaves()[0].status === "conflict",
        5000,
        "the conflict is seen",
      );
      await registrar.settled();
      const held = await observer.getData(SERVICE);
      assertEquals(decoder.decode(held.data), "otherhost:9000");
      assertEquals(held.stat.ephemeralOwner, other.sessionId);
      assertEquals(registrar.ready().ready, false);

      await other.close();
      await registered(registrar);
      assertEquals(decoder.decode((await observer.getData(SERVICE)).data), "localhost:2023");
      await registrar.stop();
    },
  );

  await t.step("after session expiry every leaf is re-created in the new session", async () => {
    await reset();
    await using session = await openSession(zk.connectionString);
    const registrar = new Registrar({ session, plan: samplePlan });
    registrar.start();
    await registered(registrar);
    const renewed = nextStateChange(session, (c) => c.newSession, 10_000, "new session");
    const { sessionId, password } = session.credentials();
    await expireSession(zk.connectionString, sessionId, password, 4000);
    await renewed;
    await waitFor(
      async () => (await observer.exists(SERVICE))?.ephemeralOwner === session.sessionId,
      5000,
      "leaf owned by the new session",
    );
    assert(session.sessionId !== sessionId);
    assertEquals(registrar.counters.reRegistrations, 1);
    await registrar.stop();
  });

  await t.step("a leaf deleted by hand is put back", async () => {
    await reset();
    await using session = await openSession(zk.connectionString);
    const registrar = new Registrar({ session, plan: samplePlan });
    registrar.start();
    await registered(registrar);
    await observer.delete(SERVICE);
    await waitFor(async () => (await observer.exists(SERVICE)) !== null, 5000, "put back");
    await registrar.stop();
  });

  await t.step("unwanted leaves are removed, wanted ones come back", async () => {
    await reset();
    await using session = await openSession(zk.connectionString);
    const registrar = new Registrar({
      session,
      plan: samplePlan,
      startUnwanted: new Set([SERVICE]),
    });
    registrar.start();
    await registrar.settled();
    assertEquals(await observer.exists(SERVICE), null);
    assertEquals(registrar.ready().ready, true, "nothing is wanted, so nothing is missing");
    registrar.setWanted(SERVICE, true);
    await registered(registrar);
    registrar.setWanted(SERVICE, false);
    await waitFor(async () => (await observer.exists(SERVICE)) === null, 5000, "removed");
    assertEquals(registrar.leaves()[0].status, "unwanted");
    await registrar.stop();
  });

  await t.step("stop removes our leaves and only ours", async () => {
    await reset();
    const twoPlan = plan({
      "/cluster1/ch_http_node1/mine": "localhost:1",
      "/cluster1/ch_http_node1/theirs": "localhost:2",
    });
    await using other = await openSession(zk.connectionString);
    await other.ensurePath("/cluster1/ch_http_node1");
    await other.create("/cluster1/ch_http_node1/theirs", new TextEncoder().encode("x:1"), {
      mode: "ephemeral",
    });
    await using session = await openSession(zk.connectionString);
    const registrar = new Registrar({ session, plan: twoPlan });
    registrar.start();
    await registered(registrar, "/cluster1/ch_http_node1/mine");
    await registrar.stop();
    assertEquals(await observer.exists("/cluster1/ch_http_node1/mine"), null);
    assert((await observer.exists("/cluster1/ch_http_node1/theirs")) !== null, "theirs stays");
  });

  await t.step(
    "with credentials, another identity cannot delete or overwrite the leaf",
    async () => {
      await reset();
      await using session = await openSession(zk.connectionString, { digestAuth: "tenant-a:pw" });
      const registrar = new Registrar({
        session,
        plan: samplePlan,
        acl: CREATOR_ALL_WORLD_READ_ACL,
      });
      registrar.start();
      await registered(registrar);
      await using intruder = await openSession(zk.connectionString, { digestAuth: "tenant-b:pw" });
      await assertRejects(() => intruder.delete(SERVICE), ZkNoAuthError);
      await assertRejects(
        () => intruder.setData(SERVICE, new TextEncoder().encode("evil:1")),
        ZkNoAuthError,
      );
      await assertRejects(() => intruder.deleteRecursive("/cluster1"), ZkNoAuthError);
      assertEquals(decoder.decode((await intruder.getData(SERVICE)).data), "localhost:2023");
      await registrar.stop();
      await session.deleteRecursive("/cluster1");
    },
  );
});
