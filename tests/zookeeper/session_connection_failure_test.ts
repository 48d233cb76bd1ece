/**
 * `ZkSession.onConnectionFailure` against real sockets: every failed attempt is reported with the
 * server tried, the kind and the reason as the system gave it; closing the session reports none.
 */
import { type ZkConnectionFailure, ZkSession } from "../../src/zookeeper/mod.ts";
import { classifyConnectError } from "../../src/zookeeper/socket.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { expireSession } from "../../testing/expire_session.ts";
import { freePort } from "../../testing/convergence.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { nextStateChange, waitFor } from "../../testing/wait.ts";

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
      assertMatch(failure.reason, /^Connection refused \(os error 111\)$/);
    }
  });

  await t.step("a name that does not resolve: unresolved", async () => {
    const { session, failures, waitForFailures } = recording("zk.example.invalid:2181");
    await using _ = session;
    await waitForFailures(1, "an unresolved name");
    assertEquals(failures[0].server, "zk.example.invalid:2181");
    assertEquals(failures[0].kind, "unresolved");
    assertMatch(failures[0].reason, /failed to lookup address information/);
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
      // With the causes a client can only guess at (the server says nothing).
      /^connection closed by the server before a session was established \(.*quorum.*\)$/,
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

Deno.test("connect errors are sorted by their class; the reason is the runtime's message", () => {
  const cases: [Error, boolean, string, string | RegExp][] = [
    [
      new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
      false,
      "refused",
      "Connection refused (os error 111)",
    ],
    [
      new Error("failed to lookup address information: Name or service not known"),
      false,
      "unresolved",
      "failed to lookup address information: Name or service not known",
    ],
    [
      new Deno.errors.TimedOut("Connection timed out (os error 110)"),
      false,
      "timeout",
      "Connection timed out (os error 110)",
    ],
    [
      new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)"),
      false,
      "reset",
      "Connection reset by peer (os error 104)",
    ],
    [
      new Deno.errors.BrokenPipe("Broken pipe (os error 32)"),
      false,
      "reset",
      "Broken pipe (os error 32)",
    ],
    [
      new Error("invalid peer certificate: NotValidForName"),
      true,
      "tls",
      /does not name this host/,
    ],
    [
      new Error("invalid peer certificate: UnknownIssuer"),
      true,
      "tls",
      /not signed by a trusted CA/,
    ],
    [new Error("received fatal alert: CertificateRequired"), true, "tls", /client certificate/],
    [
      new Error("No route to host (os error 113)"),
      false,
      "other",
      "No route to host (os error 113)",
    ],
  ];
  for (const [error, tls, kind, reason] of cases) {
    const sorted = classifyConnectError(error, tls);
    assertEquals(sorted.kind, kind, error.message);
    if (typeof reason === "string") assertEquals(sorted.message, reason);
    else assertMatch(sorted.message, reason);
  }
  assertEquals(classifyConnectError("odd", false).kind, "other");
});
