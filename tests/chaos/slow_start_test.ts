/**
 * Starting ZooKeeper patiently in the chaos run (chaos/slow_start.ts: the ensemble at the start,
 * members the heal restarts): a start that fails is tried again, up to a bound, so a server slow
 * to serve on a loaded machine does not end the run without a verdict. A real server is made to
 * fail its start by holding its port.
 */
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { startPatiently } from "../../chaos/slow_start.ts";
import { assertEquals, assertRejects } from "../../testing/assert.ts";

Deno.test("chaos heal: a member whose restart fails is started again, and serves", async () => {
  await using zk = await LocalZooKeeper.start();
  await zk.kill();
  // Its port taken: the JVM cannot bind it and exits, so the first start fails.
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: zk.port });
  const retries: number[] = [];
  try {
    await startPatiently(() => zk.restart(), (attempt) => {
      retries.push(attempt);
      squatter.close(); // the port is free for the second start
    });
  } finally {
    if (retries.length === 0) squatter.close();
  }
  assertEquals(retries, [1]);
  assertEquals(await zk.mode(), "standalone");
});

Deno.test("chaos heal: a member that cannot start gives up after the attempts, with the last error", async () => {
  await using zk = await LocalZooKeeper.start();
  await zk.kill();
  using _squatter = Deno.listen({ hostname: "127.0.0.1", port: zk.port });
  const retries: number[] = [];
  await assertRejects(
    () => startPatiently(() => zk.restart(), (attempt) => retries.push(attempt), 2),
    Error,
    "before serving",
  );
  assertEquals(retries, [1]);
  assertEquals(zk.running, false);
});
