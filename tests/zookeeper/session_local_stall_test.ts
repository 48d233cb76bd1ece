/**
 * The session's watchdog against a stall of our own event loop: time this process could not run
 * is not counted as the server's silence, nor against a request's deadline.
 */
import type { SessionStateChange, ZkConnectionFailure } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { connected } from "../../testing/session.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

/** Keeps the event loop busy for `ms`, as a long synchronous task or a starved CPU would. */
function blockEventLoop(ms: number): number {
  const start = performance.now();
  let spins = 0;
  while (performance.now() - start < ms) spins++;
  return spins;
}

Deno.test("a stalled event loop is not taken for a silent server; requests in flight succeed", async () => {
  await using zk = await LocalZooKeeper.start();
  await using session = await connected({
    connectionString: zk.connectionString,
    sessionTimeoutMs: 6_000,
    requestTimeoutMs: 3_000,
  });
  const failures: ZkConnectionFailure[] = [];
  session.onConnectionFailure((failure) => failures.push(failure));
  const changes: SessionStateChange[] = [];
  session.onStateChange((change) => changes.push(change));
  await session.create("/stall");

  // Longer than the silence limit (2/3 of the session timeout) and the request timeout, shorter
  // than the session timeout, so the server itself keeps the session.
  const silenceLimitMs = (session.sessionTimeoutMs * 2) / 3;
  const stallMs = silenceLimitMs + 800;
  assert(stallMs < session.sessionTimeoutMs, `stall ${stallMs} ms within the session timeout`);
  assert(stallMs > 3_000, `stall ${stallMs} ms longer than the request timeout`);
  const inFlight = Array.from({ length: 50 }, (_, i) => session.create(`/stall/n${i}`));
  blockEventLoop(stallMs);

  const results = await Promise.allSettled(inFlight);
  assertEquals(failures, [], "the connection was not dropped");
  const rejected = results.filter((result) => result.status === "rejected");
  assertEquals(rejected.map((result) => String(result.reason)), [], "every request answered");
  assertEquals((await session.getChildren("/stall")).children.length, 50);
  assertEquals(changes.map((change) => change.state), [], "the session never left connected");
});

Deno.test("a stalled event loop while the session is idle does not drop the connection", async () => {
  await using zk = await LocalZooKeeper.start();
  await using session = await connected({ connectionString: zk.connectionString });
  const failures: ZkConnectionFailure[] = [];
  session.onConnectionFailure((failure) => failures.push(failure));
  const changes: SessionStateChange[] = [];
  session.onStateChange((change) => changes.push(change));
  await session.exists("/");

  // Nothing in flight: the server has no reason to send anything during the stall.
  const stallMs = (session.sessionTimeoutMs * 2) / 3 + 800;
  assert(stallMs < session.sessionTimeoutMs, `stall ${stallMs} ms within the session timeout`);
  blockEventLoop(stallMs);
  // Two watchdog periods at least (a tenth of the session timeout each) pass while the session works.
  for (let i = 0; i < 10; i++) await session.exists("/");
  await session.create("/after-stall");

  assertEquals(failures, [], "the connection was not dropped");
  assertEquals(changes.map((change) => change.state), [], "the session never left connected");
});
