/**
 * TLS to a real ZooKeeper (`secureClientPort`, Netty, PEM stores) with certificates the test
 * makes: a working session with a client certificate, and each way it can go wrong reported as
 * one line that says which.
 */
import { type ZkConnectionFailure, ZkSession, type ZkTlsOptions } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { makeTestCertificates } from "../../testing/tls_certs.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

/** Opens a session and collects its connection failures until one arrives, then closes it. */
async function firstFailure(
  connectionString: string,
  tls: ZkTlsOptions | undefined,
): Promise<ZkConnectionFailure> {
  const failures: ZkConnectionFailure[] = [];
  const session = ZkSession.open({ connectionString, tls, sessionTimeoutMs: 4000 });
  session.onConnectionFailure((failure) => failures.push(failure));
  try {
    await waitFor(() => failures.length > 0, 10_000, "a connection failure");
    assertEquals(session.state, "connecting", "never connected");
    return failures[0];
  } finally {
    await session.close();
  }
}

Deno.test("TLS to ZooKeeper", async (t) => {
  await using certs = await makeTestCertificates();
  await using zk = await LocalZooKeeper.start({
    tls: { keyStorePem: certs.serverKeyStore, trustStorePem: certs.caCert, clientAuth: "need" },
  });
  const secure = `127.0.0.1:${zk.securePort}`;
  const pem = (file: string) => Deno.readTextFileSync(file);
  const trusted: ZkTlsOptions = {
    caCerts: [pem(certs.caCert)],
    cert: pem(certs.clientCert),
    key: pem(certs.clientKey),
  };

  await t.step("a session over TLS with a client certificate: data in and out", async () => {
    await using session = ZkSession.open({ connectionString: secure, tls: trusted });
    await session.waitUntilConnected({ timeoutMs: 10_000 });
    await session.create("/over-tls", new TextEncoder().encode("secret"));
    assertEquals(new TextDecoder().decode((await session.getData("/over-tls")).data), "secret");
    await using plain = ZkSession.open({ connectionString: zk.connectionString });
    await plain.waitUntilConnected({ timeoutMs: 10_000 });
    assertEquals(
      (await plain.getData("/over-tls")).stat.ephemeralOwner,
      0n,
      "the same server, seen over plain TCP",
    );
  });

  await t.step("no client certificate where one is required: says so", async () => {
    const failure = await firstFailure(secure, { caCerts: trusted.caCerts });
    assertEquals(failure.kind, "tls");
    assert(!failure.reason.includes("\n"), "one line");
    assert(/client certificate/.test(failure.reason), failure.reason);
  });

  await t.step("a server certificate from an untrusted CA: says so", async () => {
    const failure = await firstFailure(secure, { ...trusted, caCerts: [pem(certs.otherCaCert)] });
    assertEquals(failure.kind, "tls");
    assert(!failure.reason.includes("\n"), "one line");
    assert(/not signed by a trusted CA/.test(failure.reason), failure.reason);
  });

  await t.step("a certificate for another host name: says so", async () => {
    const failure = await firstFailure(`localhost:${zk.securePort}`, trusted);
    assertEquals(failure.kind, "tls");
    assert(/does not name this host/.test(failure.reason), failure.reason);
  });

  await t.step("plain TCP to the TLS port: says so", async () => {
    const failure = await firstFailure(secure, undefined);
    assert(/TLS/.test(failure.reason), `${failure.kind}: ${failure.reason}`);
    assert(!failure.reason.includes("\n"), "one line");
  });

  await t.step(
    "the server going away under a TLS session: a reset, not a TLS failure",
    async () => {
      for (const goAway of [() => zk.stop(), () => zk.kill()]) {
        const failures: ZkConnectionFailure[] = [];
        await using session = ZkSession.open({
          connectionString: secure,
          tls: trusted,
          sessionTimeoutMs: 4000,
        });
        session.onConnectionFailure((failure) => failures.push(failure));
        await session.waitUntilConnected({ timeoutMs: 10_000 });
        // Only the connection's end counts: after the previous round's restart, the TLS port may
        // have refused the first attempt while the plain one already served.
        failures.length = 0;
        await goAway();
        await waitFor(() => failures.length > 0, 10_000, "the connection's end reported");
        assertEquals(failures[0].kind, "reset", JSON.stringify(failures));
        await zk.restart();
      }
    },
  );
});
