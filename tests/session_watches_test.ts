/**
 * 30,000 watches across a server restart. The library alone re-sends them in one SetWatches
 * packet of about 1.5 MB, which the server refuses (jute.maxbuffer is 1 MiB), so the client
 * reconnects in a loop; the session layer sends them in 128 KiB chunks.
 */
import { Buffer } from "node:buffer";
import { chunkWatchPaths, PacketFramer, serversOf } from "../src/zookeeper/_library.ts";
import { ZkSession, type ZkWatchEvent } from "../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../src/local_zookeeper.ts";
import { assert, assertEquals } from "./harness/assert.ts";
import { deferred, nextStateChange, withTimeout } from "./harness/wait.ts";

const WATCHES = 30_000;

Deno.test("watch paths are split into packets under the size limit, none lost", () => {
  const paths = Array.from({ length: 10_000 }, (_, i) => `/some/fairly/long/path/node-${i}`);
  const chunks = chunkWatchPaths(
    { dataWatches: paths.slice(0, 4000), existWatches: paths.slice(4000), childWatches: ["/"] },
    16 * 1024,
    "/chroot".length,
  );
  assert(chunks.length > 1);
  const encoder = new TextEncoder();
  for (const chunk of chunks) {
    const all = [...chunk.dataWatches, ...chunk.existWatches, ...chunk.childWatches];
    const bytes = all.reduce((sum, p) => sum + 4 + 7 + encoder.encode(p).length, 0);
    assert(bytes <= 16 * 1024, `chunk of ${bytes} bytes`);
  }
  assertEquals(chunks.flatMap((c) => c.dataWatches), paths.slice(0, 4000));
  assertEquals(chunks.flatMap((c) => c.existWatches), paths.slice(4000));
  assertEquals(chunks.flatMap((c) => c.childWatches), ["/"]);
});

Deno.test("connection strings name IPv6 members in brackets, ports default to 2181", () => {
  assertEquals(serversOf("[::1]:2182,zk2,10.0.0.1:2183/chroot"), [
    { host: "::1", port: 2182 },
    { host: "zk2", port: 2181 },
    { host: "10.0.0.1", port: 2183 },
  ]);
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
  const requests: Promise<unknown>[] = [];
  for (let i = 0; i < WATCHES; i++) {
    const watch = deferred<ZkWatchEvent>();
    fired.set(i, watch);
    requests.push(session.exists(path(i), watch.resolve));
  }
  await Promise.all(requests);
  assertEquals(await watchCount(zk), WATCHES);

  const sessionId = session.sessionId;
  const suspended = nextStateChange(session, (c) => c.state === "suspended", 10_000, "suspended");
  await zk.kill();
  await suspended;
  const back = nextStateChange(session, (c) => c.state === "connected", 20_000, "reconnected");
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
  const packet = (n: number) => {
    const bytes = Buffer.alloc(4 + n);
    bytes.writeInt32BE(n, 0);
    for (let i = 0; i < n; i++) bytes[4 + i] = (n + i) & 0xff;
    return bytes;
  };
  const stream = Buffer.concat([packet(0), packet(5), packet(70_000), packet(3), packet(1)]);
  for (const chunkSize of [1, 3, 4, 7, 64 * 1024, stream.length]) {
    const framer = new PacketFramer();
    const seen: number[] = [];
    for (let offset = 0; offset < stream.length; offset += chunkSize) {
      framer.push(stream.subarray(offset, offset + chunkSize), (p) => {
        assertEquals(p.length, p.readInt32BE(0) + 4);
        assertEquals([...p], [...packet(p.readInt32BE(0))]);
        seen.push(p.readInt32BE(0));
      });
    }
    assertEquals(seen, [0, 5, 70_000, 3, 1], `chunks of ${chunkSize}`);
  }
});
