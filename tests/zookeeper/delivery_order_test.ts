/**
 * Replies and events reach callers in the order the server sent them, also when they arrive in one
 * read: the code awaiting a reply runs before the watcher of an event that came after it.
 */
import { ZkSession, type ZkWatchEvent } from "../../src/zookeeper/mod.ts";
import { FakeZooKeeper, frame, stat } from "../../testing/fake_zookeeper.ts";
import { assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

Deno.test("a reply, then an event in the same packet: the reply's reader runs first", async () => {
  // getData with a watch is answered, and its watch fires, in one write.
  await using server = new FakeZooKeeper(({ xid, type }) =>
    type === 4
      ? [
        frame((w) => stat(w.int(xid).long(2n).int(0).buffer(new Uint8Array([1])))),
        frame((w) => w.int(-1).long(-1n).int(0).int(3).int(3).string("/n")),
      ]
      : undefined
  );
  await using session = ZkSession.open({ connectionString: server.address, spinDelayMs: 10 });
  await session.waitUntilConnected({ timeoutMs: 5000 });
  const order: string[] = [];
  const events: ZkWatchEvent[] = [];
  await session.getData("/n", (event) => {
    events.push(event);
    order.push("event");
  }).then(() => order.push("reply"));
  await waitFor(() => order.length === 2, 5000, "the reply and the event");
  assertEquals(order, ["reply", "event"]);
  assertEquals(events, [{ type: "dataChanged", path: "/n" }]);
});

Deno.test("a reply filling one read, then an event in the next: the reply's reader runs first", async () => {
  // The reply is exactly as long as the client's read buffer (64 KiB), so the event sent right
  // behind it in the same write comes in the next read, which resolves at once (the bytes are
  // already there): within a few microtasks, before a caller's continuation several awaits deep.
  const readBuffer = 64 * 1024;
  const frameOverhead = 4 + 16 + 4 + 68; // length, reply header, buffer length, Stat
  await using server = new FakeZooKeeper(({ xid, type }) =>
    type === 4
      ? [
        frame((w) =>
          stat(w.int(xid).long(2n).int(0).buffer(new Uint8Array(readBuffer - frameOverhead)))
        ),
        frame((w) => w.int(-1).long(-1n).int(0).int(3).int(3).string("/n")),
      ]
      : undefined
  );
  await using session = ZkSession.open({ connectionString: server.address, spinDelayMs: 10 });
  await session.waitUntilConnected({ timeoutMs: 5000 });
  const order: string[] = [];
  const read = async () => await session.getData("/n", () => order.push("event"));
  await read().then(() => order.push("reply"));
  await waitFor(() => order.length === 2, 5000, "the reply and the event");
  assertEquals(order, ["reply", "event"]);
});
