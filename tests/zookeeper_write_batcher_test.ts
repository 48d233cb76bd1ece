/**
 * The session layer's write batching: the library's one write per request becomes one write per
 * turn of the event loop, in order, over a real socket.
 */
import net from "node:net";
import { Buffer } from "node:buffer";
import { batchWrites } from "../src/zookeeper/_write_batcher.ts";
import { assertEquals } from "./harness/assert.ts";
import { waitFor } from "./harness/wait.ts";

Deno.test("writes made in one turn go out as one write, in their order", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: number[] = [];
  const serving = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(4096);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      received.push(...buffer.subarray(0, n));
    }
    conn.close();
  })();
  const socket = net.connect({ host: "127.0.0.1", port: listener.addr.port });
  await new Promise((resolve) => socket.once("connect", resolve));
  const writes: number[] = [];
  const write = socket.write.bind(socket) as (chunk: Uint8Array) => boolean;
  // deno-lint-ignore no-explicit-any
  (socket as any).write = (chunk: Uint8Array) => {
    writes.push(chunk.length);
    return write(chunk);
  };
  batchWrites(socket);

  for (let i = 0; i < 100; i++) assertEquals(socket.write(Buffer.from([i])), true);
  await waitFor(() => received.length === 100, 5000, "all bytes at the server");
  assertEquals(writes, [100], "one write of the 100 requests");
  assertEquals(received, Array.from({ length: 100 }, (_, i) => i));

  socket.write(Buffer.from([100]));
  await waitFor(() => received.length === 101, 5000, "a later request");
  assertEquals(writes, [100, 1]);

  socket.destroy();
  await serving;
  listener.close();
});
