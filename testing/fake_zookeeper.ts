/**
 * A fake ZooKeeper on loopback for what a real server will not do: answer with bad bytes, or put
 * a reply and an event in one write. It handshakes every connection as one session and answers
 * each request through a responder the test gives.
 *
 * @module
 */
import { JuteWriter } from "../src/zookeeper/_jute.ts";
import { PacketFramer } from "../src/zookeeper/_framing.ts";

/** The session id the fake server hands out. */
export const FAKE_SESSION_ID = 0x7777n;

/** One request as the fake server read it. */
export interface FakeRequest {
  xid: number;
  type: number;
  /** 1 for the first connection, 2 for the second, ... */
  connection: number;
}

/** What to send for a request (all packets in one write); `undefined`: the default answer. */
export type FakeResponder = (request: FakeRequest) => Uint8Array[] | undefined;

/** A length-prefixed packet. */
export function frame(build: (writer: JuteWriter) => void): Uint8Array {
  const writer = new JuteWriter(64).int(0);
  build(writer);
  return writer.intAt(0, writer.length - 4).finish().slice();
}

/** Writes a Stat of small made-up numbers. */
export function stat(writer: JuteWriter): JuteWriter {
  return writer.long(1n).long(1n).long(0n).long(0n).int(0).int(0).int(0).long(0n).int(0).int(0)
    .long(1n);
}

/**
 * The server. By default it answers exists (3) with a Stat, getData (4) with empty data and a Stat,
 * and anything else with a bare header.
 */
export class FakeZooKeeper implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #tasks: Promise<void>[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #serving: Promise<void>;
  readonly #respond: FakeResponder;
  /** Connections accepted so far. */
  connections = 0;
  /** The session id each connection's handshake asked for. */
  readonly askedFor: bigint[] = [];

  constructor(respond: FakeResponder) {
    this.#respond = respond;
    this.#serving = this.#accept();
  }

  /** `127.0.0.1:PORT` */
  get address(): string {
    return `127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) {
      this.connections++;
      this.#conns.add(conn);
      this.#tasks.push(
        this.#serve(conn, this.connections).catch(() => {}).finally(() => this.#conns.delete(conn)),
      );
    }
  }

  async #serve(conn: Deno.Conn, connection: number): Promise<void> {
    const framer = new PacketFramer();
    const buffer = new Uint8Array(4096);
    let handshaken = false;
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
              w.int(0).int(4000).long(FAKE_SESSION_ID).buffer(new Uint8Array(16)).bool(false)
            ),
          );
          return;
        }
        const request = { xid: view.getInt32(0), type: view.getInt32(4), connection };
        answers.push(...(this.#respond(request) ?? defaultAnswer(request)));
      });
      if (answers.length === 0) continue;
      const all = new Uint8Array(answers.reduce((sum, a) => sum + a.length, 0));
      answers.reduce((offset, a) => (all.set(a, offset), offset + a.length), 0);
      await conn.write(all);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) conn.close();
    await this.#serving;
    await Promise.all(this.#tasks);
  }
}

function defaultAnswer({ xid, type }: FakeRequest): Uint8Array[] {
  if (type === 3) return [frame((w) => stat(w.int(xid).long(1n).int(0)))];
  if (type === 4) return [frame((w) => stat(w.int(xid).long(1n).int(0).buffer(null)))];
  return [frame((w) => w.int(xid).long(1n).int(0))];
}
