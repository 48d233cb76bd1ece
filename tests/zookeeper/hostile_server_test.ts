/**
 * A server that breaks the protocol: a fake ZooKeeper on loopback answers the first request of
 * its first connection with bad bytes, then behaves. The client drops that connection with one
 * warning, fails the request as a connection loss, and carries on with the same session. A
 * SESSIONMOVED error is met the same way.
 */
import { ZkConnectionLossError, ZkSession } from "../../src/zookeeper/mod.ts";
import { FAKE_SESSION_ID, FakeZooKeeper, frame, stat } from "../../testing/fake_zookeeper.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { nextStateChange } from "../../testing/wait.ts";
import { withCapturedLogs } from "../../testing/logs.ts";

/** What the first connection sends instead of the reply to request `xid`. */
const hostileAnswers: Record<string, (xid: number) => Uint8Array> = {
  "an absurd length prefix": () => frame((w) => w.int(0x7fff_fff0).int(0)).subarray(4),
  "a truncated packet": (xid) => frame((w) => w.int(xid).int(0)),
  // A whole header saying "no error", then no Stat: the request is matched before its body fails.
  "a reply whose body is cut short": (xid) => frame((w) => w.int(xid).long(1n).int(0).int(7)),
  "an unknown error code": (xid) => frame((w) => w.int(xid).long(1n).int(-9999)),
  "an unknown event type": () =>
    frame((w) => w.int(-1).long(-1n).int(0).int(42).int(3).string("/x")),
  "a reply to an xid nobody sent": (xid) => frame((w) => stat(w.int(xid + 1000).long(1n).int(0))),
  // Not hostile, but handled the same way: the session lives on another server now.
  "SESSIONMOVED (-118)": (xid) => frame((w) => w.int(xid).long(1n).int(-118)),
};

for (const [name, hostile] of Object.entries(hostileAnswers)) {
  Deno.test(`a server sending ${name}: one warning, a reconnect, the session lives on`, async () => {
    await withCapturedLogs(["zkcm", "session"], "warning", async (records) => {
      let hostileSent = false;
      await using server = new FakeZooKeeper(({ xid, type, connection }) => {
        if (type !== 3 || connection !== 1 || hostileSent) return undefined;
        hostileSent = true;
        return [hostile(xid)];
      });
      await using session = ZkSession.open({
        connectionString: server.address,
        sessionTimeoutMs: 4000,
        requestTimeoutMs: 5000,
        spinDelayMs: 10,
      });
      await session.waitUntilConnected({ timeoutMs: 5000 });
      const back = nextStateChange(session, (c) => c.state === "connected", 5000, "reconnected");
      await assertRejects(() => session.exists("/x"), ZkConnectionLossError);
      const change = await back;
      assertEquals(change.newSession, false);
      assertEquals(change.sessionId, FAKE_SESSION_ID);
      assertEquals(
        server.askedFor,
        [0n, FAKE_SESSION_ID],
        "the reconnect asked for the same session",
      );
      assert((await session.exists("/x")) !== null, "requests work on the new connection");
      assertEquals(server.connections, 2);
      const warnings = records.filter((r) => r.level === "warning");
      assertEquals(warnings.length, 1, `one warning: ${warnings.map((r) => r.message)}`);
      assert(String(warnings[0].message.join("")).includes("unexpected answer"));
    });
  });
}
