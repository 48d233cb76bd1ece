/**
 * The mirror's persistent recursive watch against a real ZooKeeper 3.8, read on the wire by a
 * protocol-aware proxy: what it asks of the server (no standard watch, one read per add, none per
 * delete), what it re-reads after a reconnection, and how it falls back to one-shot watches on
 * servers that lack `addWatch`/`multiRead` (made so by the proxy, as 3.4/3.5 answer) or whose
 * events name the watched root (ClickHouse Keeper, imitated by the proxy).
 */
import { type MirrorChange, TreeMirror } from "../../src/monitor/tree_mirror.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import type { ZkReadOp, ZkSession } from "../../src/zookeeper/mod.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import {
  Opcode,
  ZkProtocolProxy,
  type ZkProtocolProxyOptions,
} from "../../testing/zk_protocol_proxy.ts";
import { connected } from "../../testing/session.ts";
import { withCapturedLogs } from "../../testing/logs.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { deferred, nextStateChange, waitFor, withTimeout } from "../../testing/wait.ts";

const text = new TextEncoder();
const decoder = new TextDecoder();
const GET_DATA = 4;
const READS_OF_LEVELS = [3, 8, 12]; // exists, getChildren, getChildren2

function describe(change: MirrorChange): string {
  return change.type === "set"
    ? `set ${change.key}=${decoder.decode(change.service.data)}`
    : `remove ${change.key}`;
}

/** A mirror of /cluster1 over `session`, its changes described, and a way to wait for one. */
function mirrorOf(session: ZkSession) {
  const changes: string[] = [];
  const mirror = new TreeMirror({
    session,
    root: "/cluster1",
    onChange: (change) => changes.push(describe(change)),
  });
  const seen = (expected: string) =>
    waitFor(() => changes.includes(expected), 5000, `change: ${expected}`);
  return { mirror, changes, seen, take: () => changes.splice(0) };
}

/**
 * A fresh ZooKeeper with two sessions straight to it: `writer` makes the changes, `session` is
 * the mirror's. Disposing closes the sessions, then stops ZooKeeper.
 */
async function directSessions() {
  await using stack = new AsyncDisposableStack();
  const zk = stack.use(await LocalZooKeeper.start());
  const writer = stack.use(await connected({ connectionString: zk.connectionString }));
  const session = stack.use(await connected({ connectionString: zk.connectionString }));
  const owned = stack.move();
  return { zk, writer, session, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

/** As directSessions, but the mirror's session goes through a ZkProtocolProxy made with `options`. */
async function proxiedSessions(options: ZkProtocolProxyOptions) {
  await using stack = new AsyncDisposableStack();
  const zk = stack.use(await LocalZooKeeper.start());
  const proxy = stack.use(
    await ZkProtocolProxy.start({ hostname: "127.0.0.1", port: zk.port }, options),
  );
  const writer = stack.use(await connected({ connectionString: zk.connectionString }));
  const session = stack.use(await connected({ connectionString: proxy.address }));
  const owned = stack.move();
  return { zk, proxy, writer, session, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

Deno.test("recursive watch: no standard watch; an add or a data change is one getData, a delete no read", async () => {
  await using zooKeeper = await proxiedSessions({});
  const { proxy, writer, session } = zooKeeper;
  await writer.ensurePath("/cluster1/ep1");
  await writer.create("/cluster1/ep1/old", text.encode("h0:1"));
  const { mirror, seen, take } = mirrorOf(session);
  try {
    mirror.start();
    await waitFor(() => mirror.synced, 5000, "synced");
    assertEquals(mirror.watchMode, "recursiveWatch");
    assertEquals(take(), ["set ep1/old=h0:1"]);
    const count = (opcodes: number[]) =>
      opcodes.reduce((sum, op) => sum + (proxy.requestsByOpcode.get(op) ?? 0), 0);
    const before = { getData: count([GET_DATA]), levels: count(READS_OF_LEVELS) };

    await writer.create("/cluster1/ep1/a", text.encode("h1:1"));
    await seen("set ep1/a=h1:1");
    await writer.setData("/cluster1/ep1/a", text.encode("h1:2"));
    await seen("set ep1/a=h1:2");
    // A second change of the same node: a standard data watch set on it would have ended the
    // recursive watch on 3.8 after the first (ZOOKEEPER-4466).
    await writer.setData("/cluster1/ep1/a", text.encode("h1:3"));
    await seen("set ep1/a=h1:3");
    await writer.delete("/cluster1/ep1/old");
    await seen("remove ep1/old");
    await writer.create("/cluster1/ep2");
    await writer.create("/cluster1/ep2/b", text.encode("h2:1"));
    await seen("set ep2/b=h2:1");
    await mirror.settled();

    assertEquals(take(), [
      "set ep1/a=h1:1",
      "set ep1/a=h1:2",
      "set ep1/a=h1:3",
      "remove ep1/old",
      "set ep2/b=h2:1",
    ]);
    assertEquals(
      {
        getData: count([GET_DATA]) - before.getData,
        levels: count(READS_OF_LEVELS) - before.levels,
      },
      { getData: 4, levels: 0 },
      "one getData per add or change, none per delete, no listing",
    );
    assertEquals(proxy.standardWatchesRequested, 0, "no standard watch at all");
    assertEquals(proxy.requestsByOpcode.get(Opcode.addWatch), 1);
  } finally {
    await mirror.stop();
  }
});

Deno.test("recursive watch: services created together are read in multiRead batches, not a getData each", async () => {
  await using zooKeeper = await proxiedSessions({});
  const { proxy, writer, session } = zooKeeper;
  await writer.ensurePath("/cluster1/ep1");
  const { mirror, changes } = mirrorOf(session);
  try {
    mirror.start();
    await waitFor(() => mirror.synced, 5000, "synced");
    const count = (opcode: number) => proxy.requestsByOpcode.get(opcode) ?? 0;
    const before = { getData: count(GET_DATA), multiRead: count(Opcode.multiRead) };
    const services = Array.from({ length: 60 }, (_, i) => `s${String(i).padStart(2, "0")}`);
    // One transaction: the 60 creation events leave the server together.
    await writer.multi(services.map((service, i) => ({
      op: "create" as const,
      path: `/cluster1/ep1/${service}`,
      data: text.encode(`h${i}:1`),
    })));
    await waitFor(() => changes.length === 60, 10_000, "60 services");
    await mirror.settled();
    assertEquals(
      changes.toSorted(),
      services.map((service, i) => `set ep1/${service}=h${i}:1`).toSorted(),
    );
    const reads = {
      getData: count(GET_DATA) - before.getData,
      multiRead: count(Opcode.multiRead) - before.multiRead,
    };
    assert(reads.multiRead >= 1, `a multiRead carried the reads: ${JSON.stringify(reads)}`);
    assert(
      reads.getData + reads.multiRead <= 30,
      `60 creations read in at most 30 requests: ${JSON.stringify(reads)}`,
    );
  } finally {
    await mirror.stop();
  }
});

Deno.test("recursive watch: changes missed while disconnected are read after the reconnection, a node re-created meanwhile included", async () => {
  await using zk = await LocalZooKeeper.start();
  await using faults = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
  await using writer = await connected({ connectionString: zk.connectionString });
  await using session = await connected({ connectionString: faults.address });
  await writer.ensurePath("/cluster1/ep");
  for (const name of ["keep", "gone", "swap"]) {
    await writer.create(`/cluster1/ep/${name}`, text.encode(`${name}:1`));
  }
  const { mirror, seen, take } = mirrorOf(session);
  try {
    mirror.start();
    await waitFor(() => mirror.synced, 5000, "synced");
    assertEquals(mirror.watchMode, "recursiveWatch");
    take();
    const swapBefore = mirror.services().find((s) => s.service === "swap")!.czxid;

    const suspended = nextStateChange(session, (c) => c.state === "suspended", 5000, "down");
    faults.setMode("refuse");
    faults.dropAll();
    await suspended;
    await writer.delete("/cluster1/ep/gone");
    await writer.multi([
      { op: "delete", path: "/cluster1/ep/swap" },
      { op: "create", path: "/cluster1/ep/swap", data: text.encode("swap:1") },
    ]);
    await writer.setData("/cluster1/ep/keep", text.encode("keep:2"));
    await writer.create("/cluster1/ep/new", text.encode("new:1"));
    const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "back");
    faults.setMode("pass");
    assertEquals((await back).newSession, false, "the same session (its watch re-sent)");
    await waitFor(() => mirror.synced, 5000, "resynced");
    await mirror.settled();

    assertEquals(take().sort(), [
      "remove ep/gone",
      "set ep/keep=keep:2",
      "set ep/new=new:1",
      "set ep/swap=swap:1",
    ]);
    assert(mirror.services().find((s) => s.service === "swap")!.czxid !== swapBefore, "new czxid");
    // The watch lives on after the reconnection.
    await writer.create("/cluster1/ep/after", text.encode("after:1"));
    await seen("set ep/after=after:1");
  } finally {
    await mirror.stop();
  }
});

const oldServers: { name: string; options: ZkProtocolProxyOptions; why: string }[] = [
  {
    name: "without addWatch and multiRead (3.4/3.5: UNIMPLEMENTED)",
    options: { unknownOpcodes: [Opcode.addWatch, Opcode.multiRead] },
    why: "the server does not know addWatch (UNIMPLEMENTED)",
  },
  {
    name: "with addWatch but without multiRead",
    options: { unknownOpcodes: [Opcode.multiRead] },
    why: "the server does not know multiRead (UNIMPLEMENTED)",
  },
  {
    name: "hanging up on addWatch",
    options: { unknownOpcodes: [Opcode.addWatch], unknownOpcodeAnswer: "hangUp" },
    why: "the server hung up on addWatch 2 times in a row",
  },
];

for (const server of oldServers) {
  Deno.test(`recursive watch: a server ${server.name} gets one-shot watches, said in one line`, async () => {
    await using zooKeeper = await proxiedSessions(server.options);
    const { proxy, writer, session } = zooKeeper;
    await writer.ensurePath("/cluster1/ep");
    await writer.create("/cluster1/ep/a", text.encode("a:1"));
    await withCapturedLogs(["zkcm", "mirror"], "info", async (records) => {
      const { mirror, seen, take } = mirrorOf(session);
      try {
        mirror.start();
        await waitFor(() => mirror.synced, 10_000, "synced");
        assertEquals(mirror.watchMode, "oneShotWatches");
        assertEquals(take(), ["set ep/a=a:1"]);
        await writer.create("/cluster1/ep/b", text.encode("b:1"));
        await seen("set ep/b=b:1");
        await writer.setData("/cluster1/ep/a", text.encode("a:2"));
        await seen("set ep/a=a:2");
        await writer.delete("/cluster1/ep/b");
        await seen("remove ep/b");
        const modeLines = records
          .map((record) => record.message.join(""))
          .filter((line) => line.includes("one-shot watches from now on"));
        assertEquals(modeLines.length, 1, `one line: ${modeLines}`);
        assert(modeLines[0].endsWith(server.why), modeLines[0]);
        // Force a reconnection: the watches re-sent then must not bring the recursive one back.
        const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "back");
        proxy.dropAll();
        await back;
        await writer.create("/cluster1/ep/c", text.encode("c:1"));
        await seen("set ep/c=c:1");
        assertEquals(proxy.recursiveWatches(), [], "no recursive watch left on the server");
      } finally {
        await mirror.stop();
      }
    });
  });
}

Deno.test("recursive watch: one connection loss on addWatch and one on multiRead while starting (a restart, not an old server) keep the recursive watch", async () => {
  await using zooKeeper = await proxiedSessions({
    hangUpOnceOn: [Opcode.addWatch, Opcode.multiRead],
  });
  const { proxy, writer, session } = zooKeeper;
  await writer.ensurePath("/cluster1/ep");
  await writer.create("/cluster1/ep/a", text.encode("a:1"));
  await withCapturedLogs(["zkcm", "mirror"], "info", async (records) => {
    const { mirror, seen, take } = mirrorOf(session);
    try {
      mirror.start();
      await waitFor(() => mirror.synced, 10_000, "synced");
      assertEquals(
        proxy.requestsByOpcode.get(Opcode.addWatch),
        2,
        "addWatch lost once, sent again",
      );
      assert((proxy.requestsByOpcode.get(Opcode.multiRead) ?? 0) >= 2, "multiRead lost once");
      assertEquals(mirror.watchMode, "recursiveWatch");
      assertEquals(take(), ["set ep/a=a:1"]);
      await writer.create("/cluster1/ep/b", text.encode("b:1"));
      await seen("set ep/b=b:1");
      assertEquals(proxy.recursiveWatches(), ["/cluster1"]);
      const modeLines = records
        .map((record) => record.message.join(""))
        .filter((line) => line.includes("one-shot watches from now on"));
      assertEquals(modeLines, []);
    } finally {
      await mirror.stop();
    }
  });
});

Deno.test("recursive watch: events naming the root for changes below it (ClickHouse Keeper) turn it off for good, with one warning", async () => {
  await using zooKeeper = await proxiedSessions({ keeperEventPaths: true });
  const { proxy, writer, session } = zooKeeper;
  await writer.ensurePath("/cluster1/ep");
  await withCapturedLogs(["zkcm", "mirror"], "info", async (records) => {
    const { mirror, seen } = mirrorOf(session);
    try {
      mirror.start();
      await waitFor(() => mirror.synced, 5000, "synced");
      assertEquals(mirror.watchMode, "recursiveWatch");
      await writer.create("/cluster1/ep/a", text.encode("a:1"));
      await seen("set ep/a=a:1");
      assertEquals(mirror.watchMode, "oneShotWatches");
      assert(proxy.rewrittenEvents > 0, "the proxy named the root in an event");
      await writer.setData("/cluster1/ep/a", text.encode("a:2"));
      await seen("set ep/a=a:2");
      await writer.delete("/cluster1/ep/a");
      await seen("remove ep/a");
      const warnings = records.filter((r) => r.level === "warning").map((r) => r.message.join(""));
      assertEquals(warnings.length, 1, `one warning: ${warnings}`);
      assert(warnings[0].includes("ClickHouse Keeper"), warnings[0]);
      assertEquals(proxy.recursiveWatches(), [], "the recursive watch removed");
    } finally {
      await mirror.stop();
    }
  });
});

Deno.test("recursive watch: real changes of the root itself are not taken for ClickHouse Keeper's events", async () => {
  await using zooKeeper = await directSessions();
  const { writer, session } = zooKeeper;
  await writer.ensurePath("/cluster1/ep");
  await writer.create("/cluster1/ep/a", text.encode("a:1"));
  const { mirror, seen, take } = mirrorOf(session);
  try {
    mirror.start();
    await waitFor(() => mirror.synced, 5000, "synced");
    take();
    await writer.setData("/cluster1", text.encode("root data"));
    await writer.deleteRecursive("/cluster1");
    await waitFor(() => mirror.size === 0, 5000, "all removed with the root");
    await writer.ensurePath("/cluster1/ep");
    await writer.create("/cluster1/ep/a", text.encode("a:2"));
    await seen("set ep/a=a:2");
    await writer.setData("/cluster1", text.encode("root data again"));
    await writer.create("/cluster1/ep/b", text.encode("b:1"));
    await seen("set ep/b=b:1");
    await mirror.settled();
    assertEquals(mirror.watchMode, "recursiveWatch");
  } finally {
    await mirror.stop();
  }
});

Deno.test("recursive watch: a full read's answer older than an event's read does not bring the older node back", async () => {
  // The batch holding the service's first read is answered, then held back here while the
  // service is deleted and re-created and the mirror reads the new node on its event: the
  // held answer (the old node, a smaller czxid) must not replace it.
  await using zooKeeper = await directSessions();
  const { writer, session: real } = zooKeeper;
  await writer.ensurePath("/cluster1/ep");
  await writer.create("/cluster1/ep/svc", text.encode("h:1"));
  const release = deferred();
  const batchAnswered = deferred();
  const session = new Proxy(real, {
    get(target, property) {
      if (property === "multiRead") {
        return async (ops: readonly ZkReadOp[]) => {
          const answer = await target.multiRead(ops);
          if (ops.some((op) => op.path === "/cluster1/ep/svc")) {
            batchAnswered.resolve();
            await release.promise;
          }
          return answer;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const mirror = new TreeMirror({ session, root: "/cluster1", onChange: () => {} });
  try {
    mirror.start();
    await withTimeout(batchAnswered.promise, 5000, "the batch with svc answered");
    await writer.multi([
      { op: "delete", path: "/cluster1/ep/svc" },
      { op: "create", path: "/cluster1/ep/svc", data: text.encode("h:1") },
    ]);
    const now = (await writer.exists("/cluster1/ep/svc"))!.czxid;
    await waitFor(
      () => mirror.services().some((s) => s.czxid === now),
      5000,
      "the re-created node read on its event",
    );
    release.resolve();
    await waitFor(() => mirror.synced, 5000, "synced");
    await mirror.settled();
    assertEquals(mirror.services().map((s) => `${s.service} ${s.czxid}`), [`svc ${now}`]);
  } finally {
    release.resolve();
    await mirror.stop();
  }
});

Deno.test("recursive watch: services whose data makes a multiRead answer too large for the client are still read (smaller batches)", async () => {
  await using zooKeeper = await directSessions();
  const { writer, session } = zooKeeper;
  await writer.ensurePath("/cluster1/ep1");
  // Each under ZooKeeper's 1 MiB request limit; three in one answer are over the client's 2 MiB.
  const big = new Uint8Array(800 * 1024).fill(0x61);
  for (const name of ["a", "b", "c"]) await writer.create(`/cluster1/ep1/${name}`, big);
  await writer.create("/cluster1/ep1/small", text.encode("h1:1"));
  const { mirror } = mirrorOf(session);
  try {
    mirror.start();
    await waitFor(() => mirror.synced, 30_000, "synced");
    assertEquals(mirror.watchMode, "recursiveWatch");
    assertEquals(mirror.size, 4);
  } finally {
    await mirror.stop();
  }
});
