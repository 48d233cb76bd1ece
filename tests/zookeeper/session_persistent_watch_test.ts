/**
 * ZooKeeper 3.6+ operations against a real server: `multiRead` batches, persistent and
 * persistent recursive watches (`addWatch`), and their re-registration after a reconnect
 * (SetWatches2), chroot included.
 */
import { ZkNoNodeError, type ZkWatchEvent } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { connected } from "../../testing/session.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { nextStateChange, waitFor } from "../../testing/wait.ts";

const text = new TextEncoder();

Deno.test("ZooKeeper 3.6+ reads and watches", async (t) => {
  await using zk = await LocalZooKeeper.start();

  await t.step("multiRead: data and children in one request, each read on its own", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    await session.ensurePath("/mr/a");
    await session.create("/mr/a/one", text.encode("1"));
    await session.create("/mr/a/two", text.encode("22"));
    const results = await session.multiRead([
      { type: "getData", path: "/mr/a/one" },
      { type: "getData", path: "/mr/a/gone" },
      { type: "getChildren", path: "/mr/a" },
      { type: "getData", path: "/mr/a/two" },
    ]);
    assertEquals(results.length, 4);
    const [one, gone, children, two] = results;
    assert(one.op === "getData" && "data" in one, "the first read succeeded");
    assertEquals(new TextDecoder().decode(one.data), "1");
    assertEquals(one.stat.dataLength, 1);
    assert(
      "error" in gone && gone.error instanceof ZkNoNodeError,
      "a missing node is its own error",
    );
    assertEquals(gone.error.path, "/mr/a/gone");
    assert(children.op === "getChildren" && "children" in children);
    assertEquals(children.children.sort(), ["one", "two"]);
    assert(two.op === "getData" && "data" in two);
    assertEquals(new TextDecoder().decode(two.data), "22");
  });

  await t.step("a batch of 200 reads comes back whole and in order", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    await session.ensurePath("/batch");
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => session.create(`/batch/n${i}`, text.encode(`v${i}`))),
    );
    const results = await session.multiRead(
      Array.from({ length: 200 }, (_, i) => ({ type: "getData" as const, path: `/batch/n${i}` })),
    );
    assertEquals(
      results.map((r) => "data" in r ? new TextDecoder().decode(r.data) : "error"),
      Array.from({ length: 200 }, (_, i) => `v${i}`),
    );
  });

  await t.step(
    "a recursive watch reports every change under its root, by the changed path",
    async () => {
      await using session = await connected({ connectionString: zk.connectionString });
      await using writer = await connected({ connectionString: zk.connectionString });
      await session.ensurePath("/rw");
      const events: ZkWatchEvent[] = [];
      await session.addWatch("/rw", "persistentRecursive", (event) => events.push(event));
      await writer.create("/rw/a");
      await writer.create("/rw/a/b", text.encode("x"));
      await writer.setData("/rw/a/b", text.encode("y"));
      await writer.delete("/rw/a/b");
      await writer.setData("/rw", text.encode("root"));
      await waitFor(() => events.length >= 5, 5000, "five events");
      assertEquals(events, [
        { type: "created", path: "/rw/a" },
        { type: "created", path: "/rw/a/b" },
        { type: "dataChanged", path: "/rw/a/b" },
        { type: "deleted", path: "/rw/a/b" },
        { type: "dataChanged", path: "/rw" },
      ]);
    },
  );

  await t.step("a persistent watch sees its node and its children list, not below", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    await using writer = await connected({ connectionString: zk.connectionString });
    await session.ensurePath("/pw");
    const events: ZkWatchEvent[] = [];
    await session.addWatch("/pw", "persistent", (event) => events.push(event));
    await writer.create("/pw/child");
    await writer.create("/pw/child/grandchild");
    await writer.setData("/pw", text.encode("1"));
    await writer.setData("/pw", text.encode("2"));
    await waitFor(() => events.length >= 3, 5000, "three events");
    assertEquals(events, [
      { type: "childrenChanged", path: "/pw" },
      { type: "dataChanged", path: "/pw" },
      { type: "dataChanged", path: "/pw" },
    ]);
  });

  await t.step("a removed listener hears nothing more", async () => {
    await using session = await connected({ connectionString: zk.connectionString });
    await using writer = await connected({ connectionString: zk.connectionString });
    await session.ensurePath("/rm");
    const heard: ZkWatchEvent[] = [];
    const kept: ZkWatchEvent[] = [];
    const listener = (event: ZkWatchEvent) => heard.push(event);
    await session.addWatch("/rm", "persistentRecursive", listener);
    await session.addWatch("/rm", "persistentRecursive", (event) => kept.push(event));
    await writer.create("/rm/1");
    await waitFor(() => heard.length === 1 && kept.length === 1, 5000, "both hear /rm/1");
    await session.removeWatch("/rm", "persistentRecursive", listener);
    await writer.create("/rm/2");
    await waitFor(() => kept.length === 2, 5000, "the other hears /rm/2");
    assertEquals(heard.map((e) => e.path), ["/rm/1"]);
  });

  await t.step(
    "recursive watches survive a server restart (SetWatches2), through a chroot",
    async () => {
      await using plain = await connected({ connectionString: zk.connectionString });
      await plain.ensurePath("/jail/apps");
      await using session = await connected({
        connectionString: `${zk.connectionString}/jail`,
        sessionTimeoutMs: 10_000,
      });
      const events: ZkWatchEvent[] = [];
      await session.addWatch("/apps", "persistentRecursive", (event) => events.push(event));
      // Also a one-shot watch, so SetWatches2 carries both kinds.
      const oneShot: ZkWatchEvent[] = [];
      await session.exists("/apps/later", (event) => oneShot.push(event));

      const sessionId = session.sessionId;
      const suspended = nextStateChange(session, (c) => c.state === "suspended", 5000, "suspended");
      await zk.kill();
      await suspended;
      const back = nextStateChange(session, (c) => c.state === "connected", 20_000, "reconnected");
      await zk.restart();
      const change = await back;
      assertEquals(change.sessionId, sessionId);
      assertEquals(change.newSession, false);

      await using writer = await connected({ connectionString: zk.connectionString });
      await writer.create("/jail/apps/later", text.encode("x"));
      await writer.create("/jail/apps/later/deeper");
      await waitFor(() => events.length >= 2 && oneShot.length >= 1, 5000, "events after restart");
      assertEquals(events, [
        { type: "created", path: "/apps/later" },
        { type: "created", path: "/apps/later/deeper" },
      ]);
      assertEquals(oneShot, [{ type: "created", path: "/apps/later" }]);
    },
  );
});
