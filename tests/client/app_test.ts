/**
 * The client, wired in this process against a real ZooKeeper: its status server over HTTP.
 */
import { loadClientConfig, startClient } from "../../mod.ts";
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const SERVICE = "/cluster1/ch_http_node1/ch_http_service2";

Deno.test("the client's GET /readyz: 503 while a wanted service is not registered, then 200", async () => {
  await using zk = await LocalZooKeeper.start();
  // Another registration holds the path: the client cannot register until it goes.
  await using other = ZkSession.open({ connectionString: zk.connectionString });
  await other.waitUntilConnected({ timeoutMs: 10_000 });
  await other.ensurePath("/cluster1/ch_http_node1");
  await other.create(SERVICE, new TextEncoder().encode("otherhost:9000"), { mode: "ephemeral" });

  const loaded = await loadClientConfig(
    [],
    new Map([["ZK_HOST", zk.connectionString], ["REGISTER", `${SERVICE}=localhost:2023`]]),
  );
  if (loaded.kind !== "run") throw new Error(JSON.stringify(loaded));
  // Port 0 (any free port) is not a valid STATUS_PORT for users, only here.
  const options = { ...loaded.config.options, statusPort: 0, statusHost: "127.0.0.1" };
  const app = await startClient({ ...loaded.config, options });
  try {
    const readyz = () => fetch(`http://127.0.0.1:${app.statusPort}/readyz`);
    await waitFor(
      () => app.registrar.leaves().some((leaf) => leaf.status === "conflict"),
      10_000,
      "the client sees the other registration",
    );
    const notReady = await readyz();
    assertEquals(notReady.status, 503);
    assertMatch(await notReady.text(), /ch_http_service2 conflict/);
    await other.close();
    await waitFor(
      async () => {
        const answer = await readyz();
        await answer.body?.cancel();
        return answer.status === 200;
      },
      10_000,
      "ready once registered",
    );
    assertEquals(app.registrar.leaves().map((leaf) => leaf.status), ["registered"]);
  } finally {
    await app.shutdown();
  }
});
