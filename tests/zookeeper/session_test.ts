/**
 * The session layer against one real ZooKeeper server: data, errors, chroot, auth, restarts,
 * expiry, timeouts, recursive delete.
 */
import {
  CREATOR_ALL_WORLD_READ_ACL,
  ZkClosedError,
  ZkInvalidAclError,
  ZkNoAuthError,
  ZkNodeExistsError,
  ZkNoNodeError,
  ZkNotEmptyError,
  ZkTimeoutError,
  type ZkWatchEvent,
} from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { connected } from "../../testing/session.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { expireSession } from "../../testing/expire_session.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { deferred, nextStateChange, withTimeout } from "../../testing/wait.ts";

const text = new TextEncoder();

Deno.test("session layer against one server", async (t) => {
  await using zk = await LocalZooKeeper.start();

  await t.step("data goes in and out as Uint8Array: empty, binary, 1 MB, views", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    await session.create("/data");
    const backing = new Uint8Array(16);
    const view = backing.subarray(4, 8);
    view.set([9, 8, 7, 6]);
    const cases: [string, Uint8Array][] = [
      ["empty", new Uint8Array()],
      ["binary", Uint8Array.from({ length: 256 }, (_, i) => i)],
      ["one-megabyte", Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 31) & 0xff)],
      ["view", view],
    ];
    for (const [name, data] of cases) {
      await session.create(`/data/${name}`, data);
      const read = await session.getData(`/data/${name}`);
      assertEquals(read.data.constructor, Uint8Array, `${name} comes back as a plain Uint8Array`);
      assertEquals(read.data.length, data.length, `${name} length`);
      assert(read.data.every((byte, i) => byte === data[i]), `${name} bytes round-trip`);
      assertEquals(read.stat.dataLength, data.length);
    }
    const stat = await session.setData("/data/empty", text.encode("now set"));
    assertEquals(stat.version, 1);
    assertEquals(new TextDecoder().decode((await session.getData("/data/empty")).data), "now set");
    assertEquals((await session.getChildren("/data")).children.sort(), [
      "binary",
      "empty",
      "one-megabyte",
      "view",
    ]);
  });

  await t.step("errors are named classes that carry the path", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    const missing = await assertRejects(() => session.getData("/no/such/node"), ZkNoNodeError);
    assertEquals(missing.path, "/no/such/node");
    await session.create("/exists");
    await session.create("/exists/child");
    await assertRejects(() => session.create("/exists"), ZkNodeExistsError);
    await assertRejects(() => session.delete("/exists"), ZkNotEmptyError);
    assertEquals(await session.exists("/no/such/node"), null);
    assertEquals(await session.deleteRecursive("/exists"), true);
  });

  await t.step(
    "a recursive delete removes a whole subtree, and reports an absent one",
    async () => {
      await using session = await connected({ connectionString: zk.connectionString });
      await session.ensurePath("/tree/a/b/c");
      await session.ensurePath("/tree/a/b/d");
      await session.ensurePath("/tree/e");
      for (let i = 0; i < 50; i++) await session.create(`/tree/e/leaf${i}`, text.encode(`${i}`));
      assertEquals(await session.deleteRecursive("/tree"), true);
      assertEquals(await session.exists("/tree"), null);
      assertEquals(await session.deleteRecursive("/tree"), false);
    },
  );

  await t.step("a chroot in the connection string scopes every path", async () => {
    await using plain = await connected({ connectionString: zk.connectionString });
    await plain.ensurePath("/chroot/cluster1");
    await using rooted = await connected({ connectionString: `${zk.connectionString}/chroot` });
    await rooted.create("/cluster1/node", text.encode("inside"));
    const seen = deferred<ZkWatchEvent>();
    await rooted.getData("/cluster1/node", seen.resolve);
    assertEquals(
      new TextDecoder().decode((await plain.getData("/chroot/cluster1/node")).data),
      "inside",
    );
    assertEquals((await rooted.getChildren("/")).children, ["cluster1"]);
    await plain.setData("/chroot/cluster1/node", text.encode("changed"));
    assertEquals(await withTimeout(seen.promise, 5000, "watch through the chroot"), {
      type: "dataChanged",
      path: "/cluster1/node",
    });
  });

  await t.step(
    "digest auth: only the owner writes; a wrong password is a clear error",
    async () => {
      await using owner = await connected({
        connectionString: zk.connectionString,
        digestAuth: "alice:secret",
      });
      await owner.create("/guarded", text.encode("v1"), { acl: CREATOR_ALL_WORLD_READ_ACL });
      await owner.setData("/guarded", text.encode("v2"));

      await using intruder = await connected({
        connectionString: zk.connectionString,
        digestAuth: "alice:wrong",
      });
      // The server's refusal, not a hang: a request that hung would end in a timeout error.
      const denied = await assertRejects(
        () => intruder.setData("/guarded", text.encode("hijacked")),
        ZkNoAuthError,
      );
      assertEquals(denied.path, "/guarded");
      assert(denied.message.includes("ZK_AUTH"), "the message points at the credentials");
      assertEquals(new TextDecoder().decode((await intruder.getData("/guarded")).data), "v2");

      await using anonymous = await connected({ connectionString: zk.connectionString });
      await assertRejects(
        () => anonymous.create("/needs-auth", undefined, { acl: CREATOR_ALL_WORLD_READ_ACL }),
        ZkInvalidAclError,
      );
    },
  );

  await t.step("digest auth is applied again in the new session after expiry", async () => {
    await using owner = await connected({
      connectionString: zk.connectionString,
      digestAuth: "bob:pw",
    });
    await owner.create("/bobs", text.encode("x"), { acl: CREATOR_ALL_WORLD_READ_ACL });
    const renewed = nextStateChange(owner, (c) => c.newSession, 10_000, "a new session");
    const { sessionId, password } = owner.credentials();
    await expireSession(zk.connectionString, sessionId, password, 4000);
    await renewed;
    await owner.setData("/bobs", text.encode("still mine"));
  });

  await t.step(
    "session expiry: announced, a new session follows, old ephemerals are gone",
    async () => {
      await using session = await connected({ connectionString: zk.connectionString });
      await session.create("/expiry");
      await session.create("/expiry/eph", text.encode("x"), { mode: "ephemeral" });
      const oldId = session.sessionId;
      const states: string[] = [];
      session.onStateChange((change) => states.push(change.state));
      const renewed = nextStateChange(session, (c) => c.newSession, 10_000, "a new session");
      const { sessionId, password } = session.credentials();
      await expireSession(zk.connectionString, sessionId, password, 4000);
      const change = await renewed;
      assert(change.sessionId !== oldId, "a different session id");
      assertEquals(session.sessionId, change.sessionId);
      assertEquals(states.slice(-3), ["expired", "connecting", "connected"]);
      assertEquals(await session.exists("/expiry/eph"), null);
      await session.create("/expiry/eph", text.encode("y"), { mode: "ephemeral" });
      assertEquals((await session.exists("/expiry/eph"))?.ephemeralOwner, session.sessionId);
    },
  );

  await t.step(
    "server restart within the session timeout: same session, watches fire",
    async () => {
      await using session = await connected({ connectionString: zk.connectionString });
      await session.create("/restart", text.encode("before"));
      await session.create("/restart-eph", undefined, { mode: "ephemeral" });
      const fired = deferred<ZkWatchEvent>();
      await session.getData("/restart", fired.resolve);
      const sessionId = session.sessionId;

      const suspended = nextStateChange(session, (c) => c.state === "suspended", 5000, "suspended");
      await zk.kill();
      await suspended;
      assertEquals(session.state, "suspended");
      assert(session.suspendedForMs() >= 0);
      const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "reconnected");
      await zk.restart();
      const change = await back;
      assertEquals(change.newSession, false);
      assertEquals(change.sessionId, sessionId);
      assert(change.suspendedForMs > 0, "reports how long it was suspended");
      assert((await session.exists("/restart-eph")) !== null, "the ephemeral survived");

      await using writer = await connected({ connectionString: zk.connectionString });
      await writer.setData("/restart", text.encode("after"));
      assertEquals(await withTimeout(fired.promise, 5000, "watch after restart"), {
        type: "dataChanged",
        path: "/restart",
      });
    },
  );

  await t.step("a request to a silent server fails with ZkTimeoutError, not a hang", async () => {
    await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    await using session = await connected({
      connectionString: proxy.address,
      requestTimeoutMs: 500,
    });
    await session.exists("/");
    proxy.setMode("blackhole");
    const error = await assertRejects(() => session.getData("/"), ZkTimeoutError);
    assertEquals(error.path, "/");
  });

  await t.step("a watcher that throws is logged, and the session carries on", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    await session.create("/throws");
    const second = deferred<ZkWatchEvent>();
    await session.getData("/throws", () => {
      throw new Error("a careless watcher");
    });
    await session.setData("/throws", text.encode("1"));
    await session.getData("/throws", second.resolve);
    await session.setData("/throws", text.encode("2"));
    await withTimeout(second.promise, 5000, "the next watch still fires");
    assertEquals(session.state, "connected");
  });

  await t.step("close: state closed, iterator ends, later requests rejected", async () => {
    const session = await connected({ connectionString: zk.connectionString });
    await session.create("/closing", undefined, { mode: "ephemeral" });
    const seen: string[] = [];
    const iterating = (async () => {
      for await (const change of session.stateChanges()) seen.push(change.state);
    })();
    await session.close();
    await withTimeout(iterating, 2000, "the iterator ends on close");
    assertEquals(seen, ["closed"]);
    assertEquals(session.state, "closed");
    await assertRejects(() => session.exists("/"), ZkClosedError);
    await using observer = await connected({ connectionString: zk.connectionString });
    assertEquals(await observer.exists("/closing"), null, "the ephemeral went with the session");
  });
});
