/**
 * Both programs over TLS, configured as users configure them (ZK_TLS_CA, ZK_TLS_CERT,
 * ZK_TLS_KEY), against a real ZooKeeper that requires a client certificate.
 */
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { Program } from "../../testing/program.ts";
import { makeTestCertificates } from "../../testing/tls_certs.ts";
import { assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

Deno.test("the client and the monitor reach a TLS-only ZooKeeper with ZK_TLS_*", async () => {
  await using certs = await makeTestCertificates();
  await using zk = await LocalZooKeeper.start({
    tls: { keyStorePem: certs.serverKeyStore, trustStorePem: certs.caCert, clientAuth: "need" },
  });
  const tlsEnv = {
    ZK_HOST: `127.0.0.1:${zk.securePort}`,
    ZK_TLS_CA: certs.caCert,
    ZK_TLS_CERT: certs.clientCert,
    ZK_TLS_KEY: certs.clientKey,
    ZK_SESSION_TIMEOUT: "4s",
  };
  await using observer = ZkSession.open({ connectionString: zk.connectionString });
  await observer.waitUntilConnected({ timeoutMs: 10_000 });

  const nodes = `${certs.directory}/nodes.json`;
  await Deno.writeTextFile(nodes, JSON.stringify({ "/tls": "", "/tls/svc": "localhost:2023" }));
  await using client = await Program.start("client.ts", {
    task: "client",
    env: { ...tlsEnv, NODES_FILE: nodes },
  });
  await waitFor(async () => (await observer.exists("/tls/svc")) !== null, 15_000, "registered");
  assertEquals(
    new TextDecoder().decode((await observer.getData("/tls/svc")).data),
    "localhost:2023",
  );

  await using monitor = await Program.start("monitor.ts", {
    task: "monitor",
    env: { ...tlsEnv, ZK_ROOT_NODE: "/tls" },
  });
  await monitor.waitForLine(/established with 127\.0\.0\.1:\d+/, 15_000);
  client.kill("SIGTERM");
  monitor.kill("SIGTERM");
  assertEquals((await client.status).code, 0);
  assertEquals((await monitor.status).code, 0);
});
