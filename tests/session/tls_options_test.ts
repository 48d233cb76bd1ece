/** ZK_TLS, ZK_TLS_CA, ZK_TLS_CERT, ZK_TLS_KEY: when TLS is on, and each mistake as one line. */
import { loadZkTls } from "../../src/session/tls.ts";
import { loadMonitorConfig } from "../../src/monitor/config.ts";
import { makeTestCertificates } from "../../testing/tls_certs.ts";
import { assertEquals } from "../../testing/assert.ts";

Deno.test("TLS is off by default, on with ZK_TLS alone (system CAs) or with any file", async () => {
  await using certs = await makeTestCertificates();
  assertEquals(loadZkTls({ zkTls: false }), { ok: true });
  assertEquals(loadZkTls({ zkTls: true }), { ok: true, tls: {} });
  const ca = Deno.readTextFileSync(certs.caCert);
  assertEquals(loadZkTls({ zkTls: false, zkTlsCa: certs.caCert }), {
    ok: true,
    tls: { caCerts: [ca] },
  });
  const both = loadZkTls({ zkTls: false, zkTlsCert: certs.clientCert, zkTlsKey: certs.clientKey });
  assertEquals(both.ok && both.tls?.cert, Deno.readTextFileSync(certs.clientCert));
  assertEquals(both.ok && both.tls?.key, Deno.readTextFileSync(certs.clientKey));
});

Deno.test("TLS mistakes: one line each, naming the option", async () => {
  await using certs = await makeTestCertificates();
  assertEquals(loadZkTls({ zkTls: false, zkTlsCert: certs.clientCert }), {
    ok: false,
    problems: ["--zk-tls-cert (ZK_TLS_CERT): given without --zk-tls-key (ZK_TLS_KEY)"],
  });
  const missing = loadZkTls({ zkTls: false, zkTlsCa: `${certs.directory}/nope.pem` });
  assertEquals(missing.ok ? [] : missing.problems.map((p) => p.split(" (No such")[0]), [
    `--zk-tls-ca (ZK_TLS_CA): cannot read "${certs.directory}/nope.pem"`,
  ]);
  assertEquals(
    loadZkTls({ zkTls: false, zkTlsCert: certs.clientKey, zkTlsKey: certs.clientCert }),
    {
      ok: false,
      problems: [
        `--zk-tls-cert (ZK_TLS_CERT): "${certs.clientKey}" holds no PEM certificate`,
        `--zk-tls-key (ZK_TLS_KEY): "${certs.clientCert}" holds no PEM private key`,
      ],
    },
  );
  const config = await loadMonitorConfig([], new Map([["ZK_TLS_KEY", certs.clientKey]]));
  assertEquals(config, {
    kind: "invalid",
    problems: ["--zk-tls-key (ZK_TLS_KEY): given without --zk-tls-cert (ZK_TLS_CERT)"],
  });
});
