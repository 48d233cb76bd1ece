/**
 * A server that breaks the protocol: a fake ZooKeeper on loopback answers the first request of
 * its first connection with bad bytes, then behaves. The client drops that connection with one
 * warning, fails the request as a connection loss, and carries on with the same session.
 */
import { ZkConnectionLossError, ZkSession } from "../src/zookeeper/mod.ts";
import { JuteWriter } from "../src/zookeeper/_jute.ts";
import { PacketFramer } from "../src/zookeeper/_framing.ts";
import { assert, assertEquals, assertRejects } from "./harness/assert.ts";
import { nextStateChange } from "./harness/wait.ts";
import { withCapturedLogs } from "./harness/logs.ts";

const SESSION_ID = 0x7777n;

/** What the first connection sends instead of the reply to request `xid`. */
const hostileAnswers: Record<string, (xid: number) => Uint8Array> = {
  "an absurd length prefix": () => frame((w) => w.int(0x7fff_fff0).int(0)).subarray(4),
  "a truncated packet": (xid) => frame((w) => w.int(xid).int(0)),
  "an unknown error code": (xid) => frame((w) => w.int(xid).long(1n).int(-9999)),
  "an unknown event type": () =>
    frame((w) => w.int(-1).long(-1n).int(0).int(42).int(3).string("/x")),
  "a reply to an xid nobody sent": (xid) => frame((w) => stat(w.int(xid + 1000).long(1n).int(0))),
};

/** A length-prefixed packet. */
function frame(build: (writer: JuteWriter) => void): Uint8Array {
  const writer = new JuteWriter(64).int(0);
  build(writer);
  return writer.intAt(0, writer.length - 4).finish().slice();
}

function stat(writer: JuteWriter): JuteWriter {
  return writer.long(1n).long(1n).long(0n).long(0n).int(0).int(0).int(0).long(0n).int(0).int(0)
    .long(1n);
}

/** A fake server: handshakes, answers exists/ping/close, and is hostile once. */
class FakeZooKeeper {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #tasks: Promise<void>[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #serving: Promise<void>;
  connections = 0;
  /** The session id each connection's handshake asked for. */
  readonly askedFor: bigint[] = [];

  constructor(readonly hostile: (xid: number) => Uint8Array) {
    this.#serving = this.#accept();
  }

  get address(): string {
    return `127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) {
      this.connections++;
      this.#conns.add(conn);
      this.#tasks.push(
        this.#serve(conn, this.connections).catch(() => {}).finally(() => {
          this.#conns.delete(conn);
        }),
      );
    }
  }

  async #serve(conn: Deno.Conn, index: number): Promise<void> {
    const framer = new PacketFramer();
    const buffer = new Uint8Array(4096);
    let handshaken = false;
    let hostileSent = false;
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) return;
      const answers: Uint8Array[] = [];
      framer.push(buffer.subarray(0, read), (body) => {
        const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
        if (!handshaken) {
          handshaken = true;
          this.askedFor.push(view.getBigInt64(16));
          answers.push(
            frame((w) =>
              w.int(0).int(4000).long(SESSION_ID).buffer(new Uint8Array(16)).bool(false)
            ),
          );
          return;
        }
        const [xid, type] = [view.getInt32(0), view.getInt32(4)];
        if (type === 3 && index === 1 && !hostileSent) {
          hostileSent = true;
          answers.push(this.hostile(xid));
        } else if (type === 3) {
          answers.push(frame((w) => stat(w.int(xid).long(1n).int(0))));
        } else {
          answers.push(frame((w) => w.int(xid).long(1n).int(0)));
        }
      });
      for (const answer of answers) await conn.write(answer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) conn.close();
    await this.#serving;
    await Promise.all(this.#tasks);
  }
}

for (const [name, hostile] of Object.entries(hostileAnswers)) {
  Deno.test(`a server sending ${name}: one warning, a reconnect, the session lives on`, async () => {
    await withCapturedLogs(["zkcm", "session"], "warning", async (records) => {
      await using server = new FakeZooKeeper(hostile);
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
      assertEquals(change.sessionId, SESSION_ID);
      assertEquals(server.askedFor, [0n, SESSION_ID], "the reconnect asked for the same session");
      assert((await session.exists("/x")) !== null, "requests work on the new connection");
      assertEquals(server.connections, 2);
      const warnings = records.filter((r) => r.level === "warning");
      assertEquals(warnings.length, 1, `one warning: ${warnings.map((r) => r.message)}`);
      assert(String(warnings[0].message.join("")).includes("unexpected answer"));
    });
  });
}
