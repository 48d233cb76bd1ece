/**
 * A request its caller was told had timed out while the connection was down is never sent: the
 * caller may act on the failure (retry, give up), so the server must not carry it out later.
 */
import { ZkTimeoutError } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { connected } from "../../testing/session.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { assertEquals, assertRejects } from "../../testing/assert.ts";
import { nextStateChange } from "../../testing/wait.ts";

Deno.test("a request timed out while disconnected is not sent after the reconnection", async () => {
  await using zk = await LocalZooKeeper.start();
  await using faults = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
  await using session = await connected({
    connectionString: faults.address,
    sessionTimeoutMs: 20_000,
    requestTimeoutMs: 500,
  });
  await using observer = await connected({ connectionString: zk.connectionString });
  const suspended = nextStateChange(session, (c) => c.state === "suspended", 5000, "down");
  faults.setMode("refuse");
  faults.dropAll();
  await suspended;
  await assertRejects(() => session.create("/given-up"), ZkTimeoutError);
  const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "back");
  faults.setMode("pass");
  assertEquals((await back).newSession, false, "the same session");
  // Sent after anything queued before it: by its answer, a stale create would have been applied.
  await session.exists("/");
  assertEquals(await observer.exists("/given-up"), null, "the create the caller gave up on");
});
