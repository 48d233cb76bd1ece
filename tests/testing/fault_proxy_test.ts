import { FaultProxy } from "../../testing/fault_proxy.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";

Deno.test("pass forwards bytes both ways", async () => {
  await using echo = startEchoServer();
  await using proxy = await FaultProxy.start(echo.address);
  using client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  assertEquals(proxy.address, `127.0.0.1:${proxy.port}`);

  await send(client, "hello");
  assertEquals(await receive(client, 5), "hello");
  await waitUntil(() => proxy.connectionCount === 1, "the proxy to count the connection");
});

Deno.test("blackhole swallows bytes both ways, and pass resumes the same connection", async () => {
  // The test holds both ends, so it can speak from either side.
  using target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using proxy = await FaultProxy.start(target.addr);
  using client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  using server = await target.accept();
  await send(client, "up");
  assertEquals(await receive(server, 2), "up");

  proxy.setMode("blackhole");
  await send(client, "lost up");
  await send(server, "lost down");
  const atServer = receive(server, 2);
  const atClient = receive(client, 4);
  assertEquals(
    await settledWithin(Promise.race([atServer, atClient]), 300),
    "still pending",
    "neither side hears the other",
  );

  proxy.setMode("pass");
  await send(client, "up");
  await send(server, "down");
  // What was sent during the blackhole is gone, not delayed: the next bytes are the new ones.
  assertEquals(await atServer, "up");
  assertEquals(await atClient, "down");
});

Deno.test("blackhole accepts new connections but leaves them silent", async () => {
  await using echo = startEchoServer();
  await using proxy = await FaultProxy.start(echo.address);
  proxy.setMode("blackhole");
  const client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await send(client, "anyone there?");
  const answer = receive(client, 1);
  assertEquals(await settledWithin(answer, 300), "still pending");
  await waitUntil(() => proxy.connectionCount === 1, "the silent connection to be counted");

  client.close();
  await assertRejects(() => answer); // closing the socket ends the pending read
});

Deno.test("refuse closes new connections at once and leaves existing ones working", async () => {
  await using echo = startEchoServer();
  await using proxy = await FaultProxy.start(echo.address);
  using existing = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await send(existing, "ping");
  assertEquals(await receive(existing, 4), "ping");

  proxy.setMode("refuse");
  using refused = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  assertEquals(await receive(refused, 1), null, "the refused connection is closed");

  await send(existing, "pong");
  assertEquals(await receive(existing, 4), "pong");
});

Deno.test("dropAll closes every current connection and keeps accepting new ones", async () => {
  await using echo = startEchoServer();
  await using proxy = await FaultProxy.start(echo.address);
  using first = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  using second = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await waitUntil(() => proxy.connectionCount === 2, "both connections to be proxied");

  proxy.dropAll();
  assertEquals(proxy.connectionCount, 0);
  assertEquals(await receive(first, 1), null);
  assertEquals(await receive(second, 1), null);

  using third = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await send(third, "still here");
  assertEquals(await receive(third, 10), "still here");
});

Deno.test("a client's half-close reaches the server once the blackhole lifts", async () => {
  await using echo = startEchoServer();
  await using proxy = await FaultProxy.start(echo.address);
  using client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await send(client, "x");
  assertEquals(await receive(client, 1), "x");

  proxy.setMode("blackhole");
  await client.closeWrite();
  const end = receive(client, 1);
  assertEquals(await settledWithin(end, 300), "still pending", "the hang-up is held back");

  proxy.setMode("pass");
  // The echo server answers the half-close by closing, which the proxy passes back.
  assertEquals(await end, null);
});

Deno.test("close stops listening and ends every connection", async () => {
  await using echo = startEchoServer();
  const proxy = await FaultProxy.start(echo.address);
  using client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await send(client, "hi");
  assertEquals(await receive(client, 2), "hi");

  await proxy.close();
  assertEquals(await receive(client, 1), null);
  await assertRejects(
    () => Deno.connect({ hostname: "127.0.0.1", port: proxy.port }),
    Deno.errors.ConnectionRefused,
  );
  await proxy.close();
});

/** A TCP echo server on 127.0.0.1 that closes its side once the client has finished sending. */
function startEchoServer(): { address: Deno.NetAddr } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  const echoes = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.add(conn);
      const echo = echoUntilEnd(conn).finally(() => connections.delete(conn));
      echoes.add(echo);
    }
  })();
  return {
    address: listener.addr,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Already closed by its echo loop.
        }
      }
      await Promise.all(echoes);
    },
  };
}

async function echoUntilEnd(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  try {
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) break;
      await conn.write(buffer.slice(0, read));
    }
    conn.close();
  } catch {
    // Reset by the proxy, or closed when the server is disposed.
  }
}

async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Reads exactly `length` bytes as text, or `null` when the connection ends (or resets) first. */
async function receive(conn: Deno.Conn, length: number): Promise<string | null> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    let read: number | null;
    try {
      read = await conn.read(bytes.subarray(filled));
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return null;
      throw error;
    }
    if (read === null) return null;
    filled += read;
  }
  return new TextDecoder().decode(bytes);
}

/** The value of `promise` if it settles within `ms`, else "still pending"; clears its timer. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | "still pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"still pending">((resolve) => {
    timer = setTimeout(() => resolve("still pending"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 10 ms until it holds; fails with `what` after 5 s. */
async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    assert(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
