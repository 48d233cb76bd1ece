/**
 * The sender's own HTTP/1.1 client against raw TCP servers that answer byte for byte as scripted:
 * the framings a proxy (or whatever sits in front of it) may use, the connection's reuse rules, and
 * which failures may have reached the server.
 */
import { Http1Error, Http1Pool, parseResponseHead } from "../../src/asabru/http1_pool.ts";
import { AsabruSender } from "../../src/asabru/sender.ts";
import { Http1NoAnswerError } from "../../src/asabru/_http1_wire.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const encoder = new TextEncoder();
const request = (path = "/") =>
  encoder.encode(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi`);

/**
 * A listener whose every connection runs `script`: it gets a function reading one whole request
 * (head and the 2-byte body) and the connection to write to.
 */
class ScriptedServer implements AsyncDisposable {
  readonly listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly connections: Promise<void>[] = [];
  readonly #accepting: Promise<void>;

  constructor(script: (next: () => Promise<boolean>, conn: Deno.Conn) => Promise<void>) {
    this.#accepting = (async () => {
      for await (const conn of this.listener) {
        this.connections.push((async () => {
          const pending: number[] = [];
          const buffer = new Uint8Array(4096);
          const next = async () => {
            for (;;) {
              const text = new TextDecoder().decode(new Uint8Array(pending));
              const end = text.indexOf("\r\n\r\n");
              if (end !== -1 && pending.length >= end + 4 + 2) {
                pending.splice(0, end + 4 + 2);
                return true;
              }
              const n = await conn.read(buffer).catch(() => null);
              if (n === null) return false;
              pending.push(...buffer.subarray(0, n));
            }
          };
          try {
            await script(next, conn);
          } finally {
            try {
              conn.close();
            } catch {
              // closed by the script
            }
          }
        })());
      }
    })();
  }

  get port(): number {
    return this.listener.addr.port;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.close();
    await this.#accepting.catch(() => {});
    await Promise.all(this.connections);
  }
}

const write = (conn: Deno.Conn, text: string) => conn.write(encoder.encode(text));

async function ask(pool: Http1Pool, timeoutMs = 5000) {
  return await pool.request(request(), AbortSignal.timeout(timeoutMs));
}

async function failure(promise: Promise<unknown>): Promise<Http1Error> {
  try {
    await promise;
  } catch (error) {
    assert(error instanceof Http1Error, `an Http1Error, got ${error}`);
    return error;
  }
  throw new Error("expected the request to fail");
}

Deno.test("answers framed by length, chunks or the connection's end are all read whole", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
    await next();
    // A chunked answer written in pieces, with an extension and a trailer.
    await write(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nsec\r\n");
    await write(conn, "3\r\nond\r\n0\r\nX-Trailer: 1\r\n\r\n");
    await next();
    await write(
      conn,
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthi",
    );
    await write(conn, "rd");
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });

  assertEquals(await ask(pool), { status: 200, body: "first" });
  assertEquals(await ask(pool), { status: 200, body: "second" });
  assertEquals(pool.openConnections, 1, "both on one kept-alive connection");
  assertEquals(await ask(pool), { status: 200, body: "third" });
  assertEquals(pool.openConnections, 0, "an answer ended by the close is not reused");
  assertEquals(server.connections.length, 1);
});

Deno.test("Connection: close and HTTP/1.0 answers are not reused; keep-alive 1.0 is", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    if (!await next()) return;
    await write(conn, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na");
    if (!await next()) return;
    await write(conn, "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nb");
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });

  assertEquals((await ask(pool)).body, "a");
  assertEquals((await ask(pool)).body, "b");
  assertEquals(pool.openConnections, 0);
  assertEquals((await ask(pool)).body, "a", "a new connection");
  assertEquals(server.connections.length, 2);
});

Deno.test("a connection the server closes while idle is dropped, and the next request is fresh", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    // then close: an idle timeout on the server's side
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });

  assertEquals((await ask(pool)).body, "ok");
  await waitFor(() => pool.openConnections === 0, 5000, "the idle close noticed");
  assertEquals((await ask(pool)).body, "ok");
  assertEquals(server.connections.length, 2);
});

Deno.test("a connection unused for the idle timeout is closed by the pool", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await next(); // until the client hangs up
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, idleTimeoutMs: 100 });

  assertEquals((await ask(pool)).body, "ok");
  assertEquals(pool.openConnections, 1);
  await waitFor(() => pool.openConnections === 0, 5000, "the idle connection closed");
});

Deno.test("failures after the request was written are sent; a refused connection is not", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Le"); // then hang up mid-head
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });

  const midHead = await failure(ask(pool));
  assertEquals(midHead.sent, true);
  assertEquals(
    midHead.reason,
    "the server closed the connection before the end of the answer's head",
  );

  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = listener.addr.port;
  listener.close();
  using refusedPool = new Http1Pool({ hostname: "127.0.0.1", port: closedPort });
  const refused = await failure(ask(refusedPool));
  assertEquals([refused.sent, refused.reason], [false, "connection refused"]);
});

Deno.test("a fresh connection closed cleanly without a byte of answer is a no-answer, a reused one is not", async () => {
  // The deployed proxy's way of saying it read nothing: it closes an idle connection after 10 ms.
  await using fresh = new ScriptedServer(async (next) => {
    await next(); // reads the request, then closes without answering
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: fresh.port });
  const unanswered = await failure(ask(pool));
  assert(unanswered instanceof Http1NoAnswerError, `a no-answer, got ${unanswered.name}`);
  assertEquals(
    [unanswered.sent, unanswered.reason],
    [true, "the server closed the connection before any answer"],
  );

  // After an answer on the same connection, the close may follow a request the server read.
  await using reused = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    await next(); // reads the second request, then closes without answering
  });
  using reusedPool = new Http1Pool({ hostname: "127.0.0.1", port: reused.port });
  assertEquals((await ask(reusedPool)).status, 200);
  const cut = await failure(ask(reusedPool));
  assert(!(cut instanceof Http1NoAnswerError), "a reused connection's close is no proof");
  assertEquals(cut.sent, true);
});

Deno.test("malformed answers are sent failures naming what is wrong, and close the connection", async () => {
  const answers = [
    ["ICY 200 OK\r\n\r\n", /^malformed answer: status line "ICY 200 OK"$/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", /Content-Length "1x"/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /chunk size "zz"/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", /Transfer-Encoding "gzip"/],
  ] as const;
  for (const [answer, reason] of answers) {
    await using server = new ScriptedServer(async (next, conn) => {
      await next();
      await write(conn, answer);
      await next(); // until the client hangs up
    });
    using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });
    const error = await failure(ask(pool));
    assertEquals(error.sent, true);
    assertMatch(error.reason, reason);
    assertEquals(pool.openConnections, 0);
  }
});

Deno.test("an answer ended by the connection's end, cut off by the timeout, is not the answer", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, 'HTTP/1.1 200 OK\r\n\r\n{"status":"ok"'); // then stalls, never closing
    await next(); // until the client hangs up
  });
  using sender = new AsabruSender({
    url: `http://127.0.0.1:${server.port}/updateService`,
    timeoutMs: 300,
  });
  const outcome = await sender.send("add", {
    endPoint: "ep",
    service: "svc",
    host: "127.0.0.1",
    port: 1,
  });
  // Not "ok", nor a verdict on a body never seen whole: the answer did not end.
  assertEquals(
    outcome.kind === "uncertain" && outcome.reason,
    "no complete answer within 300 ms",
  );
});

Deno.test("a body over the limit is cut there and the connection is not reused", async () => {
  await using server = new ScriptedServer(async (next, conn) => {
    await next();
    await write(conn, `HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${"x".repeat(100)}`);
    await next();
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, maxBodyBytes: 10 });

  assertEquals(await ask(pool), { status: 200, body: "x".repeat(10) });
  assertEquals(pool.openConnections, 0);
});

Deno.test("an abort closes the connection; a closed pool refuses before connecting", async () => {
  await using server = new ScriptedServer(async (next) => {
    await next();
    await next(); // never answers
  });
  const pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });
  const controller = new AbortController();
  const inFlight = pool.request(request(), controller.signal);
  await waitFor(() => server.connections.length === 1, 5000, "connected");
  controller.abort();
  assertEquals((await failure(inFlight)).sent, true);
  assertEquals(pool.openConnections, 0);

  pool.close();
  const closed = await failure(ask(pool));
  assertEquals([closed.sent, closed.reason], [false, "the client is closed"]);
});

Deno.test("localhost reaches a server on either loopback address", async () => {
  for (const address of ["::1", "127.0.0.1"]) {
    const listener = Deno.listen({ hostname: address, port: 0 });
    const serving = (async () => {
      const conn = await listener.accept();
      await conn.read(new Uint8Array(4096));
      await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      conn.close();
    })();
    using pool = new Http1Pool({ hostname: "localhost", port: listener.addr.port });
    assertEquals(await ask(pool), { status: 200, body: "ok" }, address);
    await serving;
    listener.close();
  }
});

Deno.test("parseResponseHead reads the status, the framing and the reuse rule", () => {
  assertEquals(parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n"), {
    status: 200,
    contentLength: 15,
    chunked: false,
    keepAlive: true,
  });
  assertEquals(
    parseResponseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
    { status: 200, contentLength: undefined, chunked: true, keepAlive: true },
  );
  assertEquals(
    parseResponseHead("HTTP/1.1 500 x\r\nConnection: keep-alive, close\r\n\r\n"),
    { status: 500, contentLength: undefined, chunked: false, keepAlive: false },
  );
  assertEquals(
    parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
    "two different Content-Length headers",
  );
  assertEquals(parseResponseHead("HTTP/1.1 200 OK\r\nbad line\r\n\r\n"), 'header line "bad line"');
});

/**
 * A server for pipelining: each connection's script reads requests one by one (their paths),
 * however they were packed into reads, and writes answers when it likes.
 */
class PipelineServer implements AsyncDisposable {
  readonly listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  /** Per connection, the paths of the requests read from it, in order. */
  readonly seen: string[][] = [];
  readonly #served: Promise<void>[] = [];
  readonly #accepting: Promise<void>;

  constructor(script: (connection: ScriptedConnection, index: number) => Promise<void>) {
    this.#accepting = (async () => {
      for await (const conn of this.listener) {
        const seen: string[] = [];
        this.seen.push(seen);
        const connection = new ScriptedConnection(conn, seen);
        this.#served.push(
          script(connection, this.seen.length - 1).catch(() => {}).finally(() =>
            connection.close()
          ),
        );
      }
    })();
  }

  get port(): number {
    return this.listener.addr.port;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.close();
    await this.#accepting.catch(() => {});
    await Promise.all(this.#served);
  }
}

class ScriptedConnection {
  readonly #conn: Deno.Conn;
  readonly #seen: string[];
  #pending = "";

  constructor(conn: Deno.Conn, seen: string[]) {
    this.#conn = conn;
    this.#seen = seen;
  }

  /** The next request's path; null when the client hung up. */
  async next(): Promise<string | null> {
    const buffer = new Uint8Array(4096);
    for (;;) {
      const match = /^POST (\S+) HTTP\/1\.1\r\n[^]*?\r\n\r\n../.exec(this.#pending);
      if (match) {
        this.#pending = this.#pending.slice(match[0].length);
        this.#seen.push(match[1]);
        return match[1];
      }
      const n = await this.#conn.read(buffer).catch(() => null);
      if (n === null) return null;
      this.#pending += new TextDecoder().decode(buffer.subarray(0, n));
    }
  }

  /** Answers with `body` (the request's path, say). */
  answer(body: string, headers = ""): Promise<number> {
    return write(
      this.#conn,
      `HTTP/1.1 200 OK\r\n${headers}Content-Length: ${body.length}\r\n\r\n${body}`,
    );
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // closed already
    }
  }
}

const askFor = (pool: Http1Pool, path: string, signal = AbortSignal.timeout(5000)) =>
  pool.request(request(path), signal);

Deno.test("beyond its connections the pool pipelines, and each answer goes to its own request", async () => {
  await using server = new PipelineServer(async (connection) => {
    const first = await connection.next();
    await connection.answer(first!);
    // Reads five requests before answering any: only a pipelining client gets its answers.
    const paths = [];
    for (let i = 0; i < 5; i++) paths.push(await connection.next());
    for (const path of paths) await connection.answer(path!);
    await connection.next();
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, maxConnections: 1 });

  assertEquals((await askFor(pool, "/first")).body, "/first");
  const paths = ["/a", "/b", "/c", "/d", "/e"];
  const answers = await Promise.all(paths.map((path) => askFor(pool, path)));
  assertEquals(answers.map((answer) => answer.body), paths);
  assertEquals(server.seen, [["/first", ...paths]]);
});

Deno.test("a server that closes after each answer never gets a second request on a connection", async () => {
  await using server = new PipelineServer(async (connection) => {
    const path = await connection.next();
    await connection.answer(path!, "Connection: close\r\n");
    await connection.next(); // anything more the client sent would be seen here
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, maxConnections: 1 });

  const paths = ["/a", "/b", "/c", "/d"];
  const answers = await Promise.all(paths.map((path) => askFor(pool, path)));
  assertEquals(answers.map((answer) => answer.body), paths);
  assertEquals(server.seen.map((seen) => seen.length), [1, 1, 1, 1]);
});

Deno.test("a broken connection fails its written requests as sent, and moves the unwritten", async () => {
  await using server = new PipelineServer(async (connection, index) => {
    const path = await connection.next();
    if (index === 0) return; // hangs up without answering
    await connection.answer(path!);
    for (let next = await connection.next(); next !== null; next = await connection.next()) {
      await connection.answer(next);
    }
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, maxConnections: 1 });

  // The new connection writes only the first until it has answered once: the others wait.
  const first = askFor(pool, "/first");
  const others = ["/b", "/c"].map((path) => askFor(pool, path));
  const broken = await failure(first);
  assertEquals(broken.sent, true);
  assertEquals((await Promise.all(others)).map((answer) => answer.body), ["/b", "/c"]);
  assertEquals(server.seen, [["/first"], ["/b", "/c"]]);
});

Deno.test("an abort before writing is not sent and leaves the connection; after, it closes it", async () => {
  const release = Promise.withResolvers<void>();
  await using server = new PipelineServer(async (connection) => {
    const first = await connection.next();
    await release.promise;
    await connection.answer(first!);
    // Answers until "/never", then only reads: the answers behind it never come.
    let answering = true;
    for (let next = await connection.next(); next !== null; next = await connection.next()) {
      answering &&= next !== "/never";
      if (answering) await connection.answer(next);
    }
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, maxConnections: 1 });

  const first = askFor(pool, "/first");
  const controller = new AbortController();
  const waiting = askFor(pool, "/waiting", controller.signal);
  controller.abort();
  const notSent = await failure(waiting);
  assertEquals([notSent.sent, notSent.reason], [false, "aborted before sending"]);
  release.resolve();
  assertEquals((await first).body, "/first");
  assertEquals((await askFor(pool, "/second")).body, "/second");
  assertEquals(pool.openConnections, 1);

  // A written request that is never answered, with another pipelined behind it.
  const neverController = new AbortController();
  const never = askFor(pool, "/never", neverController.signal);
  const behind = askFor(pool, "/behind");
  await waitFor(() => server.seen[0].includes("/behind"), 5000, "both written");
  neverController.abort();
  assertEquals((await failure(never)).sent, true);
  const closedBehind = await failure(behind);
  assertEquals(closedBehind.sent, true);
  assertMatch(closedBehind.reason, /a request before this one on it was aborted/);
  assertEquals(pool.openConnections, 0);
  assertEquals(server.seen, [["/first", "/second", "/never", "/behind"]]);
});

Deno.test("a server that hangs up right after a keep-alive answer: the waiting requests move on", async () => {
  await using server = new PipelineServer(async (connection) => {
    const path = await connection.next();
    await connection.answer(path!); // keep-alive by the headers, then the connection is closed
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port, maxConnections: 1 });

  const paths = ["/a", "/b", "/c"];
  const answers = await Promise.all(paths.map((path) => askFor(pool, path)));
  assertEquals(answers.map((answer) => answer.body), paths);
  assertEquals(server.seen, [["/a"], ["/b"], ["/c"]]);
});

Deno.test("a connection whose requests were all aborted while it connected does not hold the process", async () => {
  await using server = new PipelineServer(async (connection) => {
    await connection.next(); // holds the connection open until the client hangs up
  });
  // A process that aborts its only request while the connection is being made, and never closes
  // the pool: it must still end by itself.
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { Http1Pool } from ${
        JSON.stringify(new URL("../../src/asabru/http1_pool.ts", import.meta.url).href)
      };
const pool = new Http1Pool({ hostname: "127.0.0.1", port: ${server.port} });
const controller = new AbortController();
const request = pool.request(new TextEncoder().encode("x"), controller.signal);
controller.abort();
await request.catch(() => {});
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-net=127.0.0.1", script],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const ended = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => {
        const timer = setTimeout(() => resolve(false), 5000);
        child.status.finally(() => clearTimeout(timer));
      }),
    ]);
    if (!ended) child.kill();
    await child.status;
    assert(ended, "the process was still running 5 s later");
    assertEquals(server.seen.length, 1, "it had connected");
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("an answer's body is read as UTF-8, ASCII or not", async () => {
  const bodies = [
    '{"status":"ok"}',
    '{"status":"error","message":"Endpoint \'ch_é_1\' not found."}',
  ];
  await using server = new ScriptedServer(async (next, conn) => {
    for (const body of bodies) {
      await next();
      const bytes = encoder.encode(body);
      await write(conn, `HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\n\r\n${body}`);
    }
    await next();
  });
  using pool = new Http1Pool({ hostname: "127.0.0.1", port: server.port });
  for (const body of bodies) assertEquals((await ask(pool)).body, body);
});
