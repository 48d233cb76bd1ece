/**
 * `ZkSession.onConnectionFailure` against real sockets: every failed attempt is reported with the
 * server tried, the kind and the reason as the system gave it; closing the session reports none.
 */
import { type ZkConnectionFailure, ZkSession } from "../src/zookeeper/mod.ts";
import { describeSocketError } from "../src/zookeeper/socket.ts";
import { LocalZooKeeper } from "../src/local_zookeeper.ts";
import { FaultProxy } from "./harness/fault_proxy.ts";
import { expireSession } from "./harness/expire_session.ts";
import { freePort } from "./harness/convergence.ts";
import { assert, assertEquals, assertMatch } from "./harness/assert.ts";
import { nextStateChange, waitFor } from "./harness/wait.ts";

/** A session that records its failures; waits until `count` of them have come. */
function recording(connectionString: string, sessionTimeoutMs = 1_000) {
  const session = ZkSession.open({ connectionString, sessionTimeoutMs, requestTimeoutMs: 5_000 });
  const failures: ZkConnectionFailure[] = [];
  session.onConnectionFailure((failure) => failures.push(failure));
  const waitForFailures = (count: number, what: string) =>
    waitFor(() => failures.length >= count, 10_000, what);
  return { session, failures, waitForFailures };
}

Deno.test("connection failures are reported with the server and the system's reason", async (t) => {
  await using zk = await LocalZooKeeper.start();

  await t.step("a port nobody listens on: refused, at every attempt", async () => {
    const port = freePort();
    const { session, failures, waitForFailures } = recording(`127.0.0.1:${port}`);
    await using _ = session;
    await waitForFailures(3, "three refused attempts");
    for (const failure of failures) {
      assertEquals(failure.server, `127.0.0.1:${port}`);
      assertEquals(failure.kind, "refused");
      assertMatch(failure.reason, /ECONNREFUSED/);
    }
  });

  await t.step("a name that does not resolve: unresolved", async () => {
    const { session, failures, waitForFailures } = recording("zk.example.invalid:2181");
    await using _ = session;
    await waitForFailures(1, "an unresolved name");
    assertEquals(failures[0].server, "zk.example.invalid:2181");
    assertEquals(failures[0].kind, "unresolved");
    assertMatch(failures[0].reason, /ENOTFOUND zk\.example\.invalid/);
  });

  await t.step("a server that accepts but never answers: timeout, then a session", async () => {
    await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    proxy.setMode("blackhole");
    const { session, failures, waitForFailures } = recording(proxy.address);
    await using _ = session;
    await waitForFailures(1, "a silent server");
    assertEquals(failures[0], {
      server: proxy.address,
      kind: "timeout",
      reason: failures[0].reason,
    });
    assertMatch(failures[0].reason, /^no answer to the session request within \d+ ms$/);
    proxy.setMode("pass");
    await session.waitUntilConnected({ timeoutMs: 10_000 });
  });

  await t.step("a connection closed before the session is made: reset", async () => {
    await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    proxy.setMode("refuse"); // accepts, then closes at once
    const { session, failures, waitForFailures } = recording(proxy.address);
    await using _ = session;
    await waitForFailures(1, "a closed connection");
    assertEquals(failures[0].kind, "reset");
    assertEquals(failures[0].server, proxy.address);
    assertMatch(
      failures[0].reason,
      /^connection closed by the server before a session was established$/,
    );
  });

  await t.step("a live session: dropped, silent, expired, each reported once", async () => {
    await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    const { session, failures, waitForFailures } = recording(proxy.address);
    await using _ = session;
    await session.waitUntilConnected({ timeoutMs: 10_000 });
    assertEquals(failures, [], "nothing failed on the way to the first session");

    const back = nextStateChange(session, (c) => c.state === "connected", 10_000, "reconnected");
    proxy.dropAll();
    await back;
    assertEquals(failures.length, 1, JSON.stringify(failures));
    assertEquals(failures[0].kind, "reset");
    assertMatch(failures[0].reason, /^connection closed by the server$/);

    proxy.setMode("blackhole");
    await waitForFailures(2, "a silent server");
    assertEquals(failures[1].kind, "timeout");
    assertMatch(failures[1].reason, /^no answer for \d+ ms \(limit \d+ ms\)$/);
    proxy.setMode("pass");
    await session.waitUntilConnected({ timeoutMs: 10_000 });

    const before = failures.length;
    const renewed = nextStateChange(session, (c) => c.newSession, 10_000, "a new session");
    const { sessionId, password } = session.credentials();
    await expireSession(zk.connectionString, sessionId, password, 1_000);
    await renewed;
    const kinds = failures.slice(before).map((failure) => failure.kind);
    assertEquals(kinds.at(-1), "expired", `the expiry is reported: ${kinds}`);
    assertMatch(
      failures.at(-1)!.reason,
      new RegExp(`session 0x${sessionId.toString(16)}$`),
    );
  });

  await t.step("closing the session reports no failure", async () => {
    const { session, failures } = recording(zk.connectionString);
    await session.waitUntilConnected({ timeoutMs: 10_000 });
    await session.close();
    assertEquals(failures, []);
    assert(session.state === "closed");
  });
});

Deno.test("socket errors are sorted by their code; the reason is the runtime's message", () => {
  const failing = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: [string, string, string][] = [
    ["ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1", "refused"],
    ["ENOTFOUND", "getaddrinfo ENOTFOUND zk.invalid", "unresolved"],
    ["EAI_AGAIN", "getaddrinfo EAI_AGAIN zk.example", "unresolved"],
    ["ETIMEDOUT", "connect ETIMEDOUT 10.0.0.1:2181", "timeout"],
    ["ECONNRESET", "read ECONNRESET", "reset"],
    ["EPIPE", "write EPIPE", "reset"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames", "tls"],
    ["CERT_HAS_EXPIRED", "certificate has expired", "tls"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate", "tls"],
    ["EHOSTUNREACH", "connect EHOSTUNREACH 10.0.0.1:2181", "other"],
  ];
  for (const [code, message, kind] of cases) {
    assertEquals(describeSocketError(failing(code, message)), { kind, reason: message }, code);
  }
  assertEquals(describeSocketError("odd"), { kind: "other", reason: "odd" });
});
