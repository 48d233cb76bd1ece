/**
 * 30,000 watches across a server restart. Re-sent in one SetWatches packet they would make about
 * 1.5 MB, which the server refuses (jute.maxbuffer is 1 MiB), so a client would reconnect in a
 * loop; the client sends them in 128 KiB chunks.
 */
import { chunkWatchLists } from "../../src/zookeeper/_watches.ts";
import { PacketFramer } from "../../src/zookeeper/_framing.ts";
import { parseConnectionString } from "../../src/zookeeper/servers.ts";
import { ZkSession, type ZkWatchEvent } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { deferred, nextStateChange, withTimeout } from "../../testing/wait.ts";

const WATCHES = 30_000;
/** Watches set per round trip while setting up (a few hundred ms of work on a loaded machine). */
const WATCHES_PER_BATCH = 1000;
/**
 * The bound on reconnecting, which includes the server's restart: more than the 30 s the harness
 * itself allows a ZooKeeper to start (20 s ran out with six such tests at once on 2 cores).
 */
const RECONNECT_MS = 45_000;

Deno.test("watch paths are split into packets under the size limit, none lost", () => {
  const paths = Array.from({ length: 10_000 }, (_, i) => `/some/fairly/long/path/node-${i}`);
  const chunks = chunkWatchLists(
    {
      data: paths.slice(0, 4000),
      exist: paths.slice(4000, 9000),
      child: ["/"],
      persistent: paths.slice(9000, 9500),
      persistentRecursive: paths.slice(9500),
    },
    16 * 1024,
  );
  assert(chunks.length > 1);
  const encoder = new TextEncoder();
  for (const chunk of chunks) {
    const all = [
      ...chunk.data,
      ...chunk.exist,
      ...chunk.child,
      ...chunk.persistent,
      ...chunk.persistentRecursive,
    ];
    const bytes = all.reduce((sum, p) => sum + 4 + encoder.encode(p).length, 0);
    assert(bytes <= 16 * 1024, `chunk of ${bytes} bytes`);
  }
  assertEquals(chunks.flatMap((c) => c.data), paths.slice(0, 4000));
  assertEquals(chunks.flatMap((c) => c.exist), paths.slice(4000, 9000));
  assertEquals(chunks.flatMap((c) => c.child), ["/"]);
  assertEquals(chunks.flatMap((c) => c.persistent), paths.slice(9000, 9500));
  assertEquals(chunks.flatMap((c) => c.persistentRecursive), paths.slice(9500));
});

Deno.test("connection strings name IPv6 members in brackets, ports default to 2181", () => {
  assertEquals(parseConnectionString("[::1]:2182,zk2,10.0.0.1:2183/chroot"), {
    servers: [
      { host: "::1", port: 2182 },
      { host: "zk2", port: 2181 },
      { host: "10.0.0.1", port: 2183 },
    ],
    chroot: "/chroot",
  });
});

Deno.test("a session holding 30,000 watches survives a server restart", async () => {
  await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 10_000 });
  await using session = ZkSession.open({
    connectionString: zk.connectionString,
    sessionTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
  });
  await session.waitUntilConnected({ timeoutMs: 10_000 });

  // Existence watches on paths that do not exist yet: long paths, ~1.5 MB in all.
  const path = (i: number) => `/watched/a-rather-long-service-name-for-watch-number-${i}`;
  const fired = new Map<number, ReturnType<typeof deferred<ZkWatchEvent>>>();
  // In batches: 30,000 requests issued in one synchronous loop held this event loop for 9-10 s
  // on a loaded machine, so the session's watchdog, seeing no bytes read for longer than 2/3 of
  // the session timeout, dropped a healthy connection and every request failed.
  for (let first = 0; first < WATCHES; first += WATCHES_PER_BATCH) {
    const requests: Promise<unknown>[] = [];
    for (let i = first; i < Math.min(first + WATCHES_PER_BATCH, WATCHES); i++) {
      const watch = deferred<ZkWatchEvent>();
      fired.set(i, watch);
      requests.push(session.exists(path(i), watch.resolve));
    }
    await Promise.all(requests);
  }
  assertEquals(await watchCount(zk), WATCHES);

  const sessionId = session.sessionId;
  const suspended = nextStateChange(session, (c) => c.state === "suspended", 10_000, "suspended");
  await zk.kill();
  await suspended;
  const back = nextStateChange(
    session,
    (c) => c.state === "connected",
    RECONNECT_MS,
    "reconnected",
  );
  await zk.restart();
  const change = await back;
  assertEquals(change.sessionId, sessionId);
  assertEquals(change.newSession, false);

  // Still connected, not looping, and every watch re-registered on the server.
  await session.exists("/");
  assertEquals(await watchCount(zk), WATCHES);
  assertEquals(session.state, "connected");

  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  await writer.create("/watched");
  for (const i of [0, 12_345, WATCHES - 1]) {
    await writer.create(path(i));
    const event = await withTimeout(fired.get(i)!.promise, 5000, `watch ${i} fires`);
    assertEquals(event, { type: "created", path: path(i) });
  }
  assertEquals(session.state, "connected");
});

/** Watches the server holds, from the `wchs` four-letter word ("... N watches"). */
async function watchCount(zk: LocalZooKeeper): Promise<number> {
  const answer = await zk.fourLetterWord("wchs");
  const match = answer.match(/Total watches:\s*(\d+)/) ?? answer.match(/(\d+)\s+watches/);
  assert(match, `wchs answered: ${answer}`);
  return Number(match[1]);
}

Deno.test("packets are cut out of the stream whole, however the bytes arrive", () => {
  const body = (n: number) => Uint8Array.from({ length: n }, (_, i) => (n + i) & 0xff);
  const packet = (n: number) => {
    const bytes = new Uint8Array(4 + n);
    new DataView(bytes.buffer).setInt32(0, n);
    bytes.set(body(n), 4);
    return bytes;
  };
  const sizes = [0, 5, 70_000, 3, 1];
  const stream = new Uint8Array(sizes.reduce((sum, n) => sum + 4 + n, 0));
  sizes.reduce((offset, n) => (stream.set(packet(n), offset), offset + 4 + n), 0);
  for (const chunkSize of [1, 3, 4, 7, 64 * 1024, stream.length]) {
    const framer = new PacketFramer();
    const seen: number[] = [];
    // One reused read buffer, as the connection reads: the framer must copy what it keeps.
    const readBuffer = new Uint8Array(chunkSize);
    for (let offset = 0; offset < stream.length; offset += chunkSize) {
      const chunk = stream.subarray(offset, offset + chunkSize);
      readBuffer.set(chunk);
      framer.push(readBuffer.subarray(0, chunk.length), (p) => {
        assertEquals([...p], [...body(p.length)]);
        seen.push(p.length);
      });
    }
    assertEquals(seen, [0, 5, 70_000, 3, 1], `chunks of ${chunkSize}`);
  }
});
