import {
  checkOnce,
  formatHealthTarget,
  HealthChecker,
  type HealthTarget,
  parseHealthTarget,
} from "../../src/client/health_check.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../testing/assert.ts";
import { type ReplicasMode, StandInClickHouse } from "../../testing/stand_in_clickhouse.ts";
import { deferred, withTimeout } from "../../testing/wait.ts";

// ---- parsing ----

Deno.test("parseHealthTarget accepts http, https, tcp and clickhouse URLs", () => {
  assertEquals(parseHealthTarget("http://127.0.0.1:8080/health"), {
    kind: "http",
    url: "http://127.0.0.1:8080/health",
  });
  assertEquals(parseHealthTarget("https://ch-1.example.com/ping?x=1"), {
    kind: "http",
    url: "https://ch-1.example.com/ping?x=1",
  });
  assertEquals(parseHealthTarget("HTTP://CH1:8123"), { kind: "http", url: "http://ch1:8123/" });
  assertEquals(parseHealthTarget("http://[::1]:8123/ping"), {
    kind: "http",
    url: "http://[::1]:8123/ping",
  });
  assertEquals(parseHealthTarget("tcp://localhost:9000"), {
    kind: "tcp",
    host: "localhost",
    port: 9000,
  });
  assertEquals(parseHealthTarget("tcp://[::1]:9000/"), { kind: "tcp", host: "::1", port: 9000 });
  assertEquals(parseHealthTarget("clickhouse://ch1:18123"), {
    kind: "clickhouse",
    baseUrl: "http://ch1:18123",
  });
  assertEquals(parseHealthTarget("clickhouse://my_project_ch_1/"), {
    kind: "clickhouse",
    baseUrl: "http://my_project_ch_1:8123",
  });
  assertEquals(parseHealthTarget("clickhouse://[::1]"), {
    kind: "clickhouse",
    baseUrl: "http://[::1]:8123",
  });
});

Deno.test("parseHealthTarget names what is wrong, in one line", () => {
  const refused: [string, string][] = [
    ["", "empty"],
    ["ch1:8123", "missing scheme: expected http://, https://, tcp:// or clickhouse://"],
    ["ftp://ch1/", 'unsupported scheme "ftp": expected http://, https://, tcp:// or clickhouse://'],
    ["tcp://ch1", "tcp:// needs a port: tcp://host:port"],
    ["tcp://:9000", "missing host"],
    ["http:///ping", "missing host"],
    ["clickhouse://", "missing host"],
    ["tcp://ch1:0", "port must be 1-65535"],
    ["tcp://ch1:65536", "port must be 1-65535"],
    ["clickhouse://ch1:http", "port must be decimal digits"],
    ["http://ch1:/ping", "missing port"],
    ["http://ch 1/", "contains whitespace or control characters"],
    ["tcp://ch1:9000\n", "contains whitespace or control characters"],
    ["http://user:secret@ch1/", "user names and passwords are not supported"],
    ["tcp://ch1:9000/path", "tcp:// takes no path, query or fragment"],
    ["clickhouse://ch1?user=x", "clickhouse:// takes no path, query or fragment"],
    ["clickhouse://ch1..x", "empty label in hostname"],
    ["tcp://::1:9000", "an IPv6 address must be in brackets: [addr]:port"],
  ];
  for (const [text, error] of refused) {
    const parsed = parseHealthTarget(text);
    assertEquals(parsed, { error }, JSON.stringify(text));
    assert("error" in parsed && !parsed.error.includes("\n"), "one line");
  }
});

Deno.test("formatHealthTarget writes what parseHealthTarget reads", () => {
  for (const text of ["http://ch1:8080/health", "tcp://[::1]:9000", "clickhouse://ch1:8123"]) {
    const target = parseHealthTarget(text);
    assert(!("error" in target), text);
    assertEquals(formatHealthTarget(target), text);
    assertEquals(parseHealthTarget(formatHealthTarget(target)), target);
  }
});

// ---- one check ----

Deno.test("checkOnce on http: 2xx is healthy, anything else is not", async () => {
  await using server = await StandInClickHouse.start();
  const target: HealthTarget = { kind: "http", url: `${server.url}/ping` };
  assertEquals(await checkOnce(target, { timeoutMs: 2000 }), { healthy: true, detail: "ok" });
  server.setPing("error");
  assertEquals(await checkOnce(target, { timeoutMs: 2000 }), {
    healthy: false,
    detail: "HTTP 500 from /ping",
  });
  assertEquals(
    await checkOnce({ kind: "http", url: `${server.url}/nothing` }, { timeoutMs: 2000 }),
    {
      healthy: false,
      detail: "HTTP 404 from /nothing",
    },
  );
  assertEquals(server.requests, { ping: 2, replicasStatus: 0, other: 1 });
});

Deno.test("checkOnce on clickhouse: healthy needs /ping and /replicas_status to answer Ok.", async () => {
  await using clickhouse = await StandInClickHouse.start();
  const target: HealthTarget = { kind: "clickhouse", baseUrl: clickhouse.url };
  assertEquals(await checkOnce(target, { timeoutMs: 2000 }), { healthy: true, detail: "ok" });
  assertEquals(clickhouse.requests, { ping: 1, replicasStatus: 1, other: 0 });

  // The tables in time are left out of the detail.
  const delay = "default.events: Absolute delay: 420. Relative delay: 420.";
  const answers: [ReplicasMode, string][] = [
    ["lagging", `replicas lag, says /replicas_status: ${delay}`], // ClickHouse 18.16: 200
    ["lagging-503", `HTTP 503 from /replicas_status: ${delay}`], // since 2020
    [
      "readonly",
      "HTTP 500 from /replicas_status: Code: 242, e.displayText() = DB::Exception: Table is in " +
      "readonly mode, e.what() = DB::Exception",
    ],
  ];
  for (const [mode, detail] of answers) {
    clickhouse.setReplicas(mode);
    assertEquals(await checkOnce(target, { timeoutMs: 2000 }), { healthy: false, detail }, mode);
  }

  clickhouse.setReplicas("ok");
  clickhouse.setPing("error");
  assertEquals(await checkOnce(target, { timeoutMs: 2000 }), {
    healthy: false,
    detail: "HTTP 500 from /ping",
  });
  // A failed ping is enough: /replicas_status is not asked.
  assertEquals(clickhouse.requests, { ping: 5, replicasStatus: 4, other: 0 });
});

Deno.test("checkOnce on clickhouse: /ping must answer Ok.", async () => {
  // An HTTP server that answers 200 to everything is not ClickHouse.
  await using other = startServer(() => new Response("<html>hello</html>"));
  const result = await checkOnce(
    { kind: "clickhouse", baseUrl: `http://127.0.0.1:${other.addr.port}` },
    { timeoutMs: 2000 },
  );
  assertEquals(result, {
    healthy: false,
    detail: 'unexpected answer from /ping: "<html>hello</html>"',
  });
});

Deno.test("checkOnce on tcp: an open port is healthy, a closed one refused", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  assertEquals(
    await checkOnce({ kind: "tcp", host: "127.0.0.1", port: listener.addr.port }, {
      timeoutMs: 2000,
    }),
    { healthy: true, detail: "ok" },
  );
  // The probe closed its end at once: the server sees the connection end.
  using conn = await accepted;
  assertEquals(await conn.read(new Uint8Array(1)), null);

  assertEquals(
    await checkOnce({ kind: "tcp", host: "127.0.0.1", port: closedPort() }, { timeoutMs: 2000 }),
    { healthy: false, detail: "connection refused" },
  );
});

Deno.test("checkOnce on a closed http or clickhouse port says connection refused", async () => {
  const port = closedPort();
  for (
    const target of [
      { kind: "http", url: `http://127.0.0.1:${port}/ping` },
      { kind: "clickhouse", baseUrl: `http://127.0.0.1:${port}` },
    ] satisfies HealthTarget[]
  ) {
    assertEquals(await checkOnce(target, { timeoutMs: 2000 }), {
      healthy: false,
      detail: "connection refused",
    });
  }
});

Deno.test("checkOnce gives up on an answer that never comes, within its bound", async () => {
  await using clickhouse = await StandInClickHouse.start();
  clickhouse.setPing("hang");
  for (
    const target of [
      { kind: "clickhouse", baseUrl: clickhouse.url },
      { kind: "http", url: `${clickhouse.url}/ping` },
    ] satisfies HealthTarget[]
  ) {
    // Not before its bound; and it ends at all (the answer never comes): the deadline only
    // catches a check that hangs, it measures no speed.
    const started = performance.now();
    const result = await withTimeout(checkOnce(target, { timeoutMs: 150 }), 10_000, "the check");
    const tookMs = performance.now() - started;
    assertEquals(result, { healthy: false, detail: "timed out after 150 ms" });
    assert(tookMs >= 140, `took ${Math.round(tookMs)} ms`);
  }
  assertEquals(clickhouse.requests.ping, 2);
});

Deno.test("checkOnce gives up on a TCP handshake that never completes", async () => {
  // A listener that never accepts: once its accept queue is full, the kernel drops further SYNs,
  // so a connect neither succeeds nor fails.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const target: HealthTarget = { kind: "tcp", host: "127.0.0.1", port: listener.addr.port };
  const queued: Deno.TcpConn[] = [];
  try {
    for (;;) {
      assert(queued.length < 20_000, "the accept queue never filled");
      const waitingBefore = acceptQueueLength(listener.addr.port);
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 250);
      try {
        queued.push(
          await Deno.connect({ ...target, hostname: "127.0.0.1", signal: controller.signal }),
        );
      } catch {
        // Not connected within 250 ms: the queue is full only if the kernel dropped the SYN. On
        // a loaded machine this process may just not have seen the handshake in time (then the
        // kernel queued it all the same), and the check below would connect ("ok").
        if (acceptQueueLength(listener.addr.port) === waitingBefore) break;
      } finally {
        clearTimeout(timer);
      }
    }
    // The handshake never completes: the deadline only catches a check that hangs.
    const result = await withTimeout(checkOnce(target, { timeoutMs: 200 }), 10_000, "the check");
    assertEquals(result, { healthy: false, detail: "timed out after 200 ms" });
  } finally {
    for (const conn of queued) conn.close();
  }
});

Deno.test("checkOnce stops when the caller's signal aborts", async () => {
  await using clickhouse = await StandInClickHouse.start();
  clickhouse.setPing("hang");
  const controller = new AbortController();
  const received = clickhouse.nextRequest();
  const checking = checkOnce({ kind: "clickhouse", baseUrl: clickhouse.url }, {
    timeoutMs: 10_000,
    signal: controller.signal,
  });
  assertEquals(await withTimeout(received, 2000, "the ping to arrive"), "/ping");
  controller.abort();
  assertEquals(await withTimeout(checking, 2000, "the check to end"), {
    healthy: false,
    detail: "aborted",
  });
  assertEquals(
    await checkOnce({ kind: "clickhouse", baseUrl: clickhouse.url }, {
      timeoutMs: 10_000,
      signal: controller.signal,
    }),
    { healthy: false, detail: "aborted" },
    "already aborted: no request",
  );
  assertEquals(clickhouse.requests.ping, 1);
});

// ---- the checker ----

/** Records every onChange call, and lets a test wait for the next one. */
class ChangeLog {
  readonly calls: { healthy: boolean; detail: string }[] = [];
  #next = deferred<{ healthy: boolean; detail: string }>();
  /** Runs inside onChange, before the checker goes on: a consistent snapshot. */
  snapshot?: () => void;

  readonly onChange = (healthy: boolean, detail: string): void => {
    this.snapshot?.();
    this.calls.push({ healthy, detail });
    const next = this.#next;
    this.#next = deferred();
    next.resolve({ healthy, detail });
  };

  next(what: string): Promise<{ healthy: boolean; detail: string }> {
    return withTimeout(this.#next.promise, 5000, what);
  }
}

Deno.test("the first check decides the initial state: healthy", async () => {
  await using clickhouse = await StandInClickHouse.start();
  const changes = new ChangeLog();
  await using checker = new HealthChecker({
    target: { kind: "clickhouse", baseUrl: clickhouse.url },
    intervalMs: 20,
    onChange: changes.onChange,
  });
  assertEquals(checker.healthy, undefined);
  const initial = changes.next("the initial state");
  checker.start();
  assertEquals(await initial, { healthy: true, detail: "ok" });
  assertEquals(checker.healthy, true);
  assertEquals(checker.lastDetail, "ok");
  assertEquals(checker.checks, { ok: 1, failed: 0 });
});

Deno.test("the first check decides the initial state: one failure is unhealthy", async () => {
  await using clickhouse = await StandInClickHouse.start();
  clickhouse.setReplicas("lagging");
  const changes = new ChangeLog();
  await using checker = new HealthChecker({
    target: { kind: "clickhouse", baseUrl: clickhouse.url },
    intervalMs: 20,
    fall: 3,
    onChange: changes.onChange,
  });
  const initial = changes.next("the initial state");
  checker.start();
  assertEquals((await initial).healthy, false);
  assertMatch(checker.lastDetail, /^replicas lag, says \/replicas_status: default\.events: /);
  assertEquals(checker.checks, { ok: 0, failed: 1 });
});

Deno.test("healthy turns unhealthy after `fall` failures in a row, and back after `rise` successes", async () => {
  await using clickhouse = await StandInClickHouse.start();
  const changes = new ChangeLog();
  await using checker = new HealthChecker({
    target: { kind: "clickhouse", baseUrl: clickhouse.url },
    intervalMs: 20,
    fall: 3,
    rise: 2,
    onChange: changes.onChange,
  });
  const initial = changes.next("the initial state");
  checker.start();
  assertEquals((await initial).healthy, true);

  // Every ping the stand-in counts after this point is answered with an error. (A check whose
  // ping came just before may still end afterwards, as a success: it is not counted here.)
  let pingsBefore = clickhouse.requests.ping;
  let checksBefore = checker.checks;
  let atFlip = { pings: 0, checks: checker.checks };
  changes.snapshot = () => atFlip = { pings: clickhouse.requests.ping, checks: checker.checks };
  const down = changes.next("the flip to unhealthy");
  clickhouse.setPing("error");
  assertEquals(await down, { healthy: false, detail: "HTTP 500 from /ping" });
  assertEquals(atFlip.pings - pingsBefore, 3, "failed pings when it flipped");
  assertEquals(atFlip.checks.failed - checksBefore.failed, 3, "failed checks when it flipped");

  pingsBefore = clickhouse.requests.ping;
  checksBefore = checker.checks;
  const up = changes.next("the flip back to healthy");
  clickhouse.setPing("ok");
  assertEquals(await up, { healthy: true, detail: "ok" });
  assertEquals(atFlip.pings - pingsBefore, 2, "good pings when it flipped");
  assertEquals(atFlip.checks.ok - checksBefore.ok, 2, "good checks when it flipped");

  assertEquals(changes.calls.map((call) => call.healthy), [true, false, true]);
});

Deno.test("an onChange that throws or rejects is logged, and the checks go on", async () => {
  await using clickhouse = await StandInClickHouse.start();
  clickhouse.setPing("error");
  const seen: boolean[] = [];
  const third = deferred<void>();
  // Each call turns the stand-in around, so with rise = fall = 1 every check is a flip.
  const onChange = (healthy: boolean): Promise<void> | undefined => {
    seen.push(healthy);
    clickhouse.setPing(healthy ? "error" : "ok");
    if (seen.length === 1) throw new Error("a listener bug");
    if (seen.length === 2) return Promise.reject(new Error("an async listener bug"));
    third.resolve();
  };
  await using checker = new HealthChecker({
    target: { kind: "http", url: `${clickhouse.url}/ping` },
    intervalMs: 20,
    fall: 1,
    rise: 1,
    onChange,
  });
  checker.start();
  await withTimeout(third.promise, 5000, "the flips after the failing listener");
  assertEquals(seen.slice(0, 3), [false, true, false]);
});

Deno.test("stop() ends the loop and the check in flight at once, leaving nothing running", async () => {
  await using clickhouse = await StandInClickHouse.start();
  const changes = new ChangeLog();
  const checker = new HealthChecker({
    target: { kind: "clickhouse", baseUrl: clickhouse.url },
    intervalMs: 20,
    // An hour: a stop() that waited for the check's own timeout would never end in this test.
    timeoutMs: 3_600_000,
    onChange: changes.onChange,
  });
  const initial = changes.next("the initial state");
  checker.start();
  await initial;

  clickhouse.setPing("hang");
  const hanging = clickhouse.nextRequest();
  assertEquals(await withTimeout(hanging, 2000, "a check to hang"), "/ping");
  const checks = checker.checks;
  await withTimeout(checker.stop(), 10_000, "stop() with a check in flight, not its timeout");
  assertEquals(checker.checks, checks, "the aborted check is not counted");
  assertEquals(checker.healthy, true);
  assertEquals(changes.calls.length, 1);
  await checker.stop(); // idempotent
  // The sanitizers check that no timer, request or socket is left once the test ends.
});

Deno.test("HealthChecker refuses nonsense options", () => {
  const target: HealthTarget = { kind: "tcp", host: "127.0.0.1", port: 1 };
  const onChange = () => {};
  assertThrows(() => new HealthChecker({ target, onChange, rise: 0 }), RangeError, "rise");
  assertThrows(() => new HealthChecker({ target, onChange, fall: 1.5 }), RangeError, "fall");
  assertThrows(() => new HealthChecker({ target, onChange, timeoutMs: 0 }), RangeError, "timeout");
  assertThrows(() => new HealthChecker({ target, onChange, intervalMs: NaN }), RangeError);
});

/** Connections waiting in the accept queue of the listener on 127.0.0.1:`port` (/proc/net/tcp). */
function acceptQueueLength(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    // sl, local_address, rem_address, st (0A: LISTEN), tx_queue:rx_queue (rx: the accept queue).
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[3] === "0A") return parseInt(fields[4].split(":")[1], 16);
  }
  throw new Error(`no listener on 127.0.0.1:${port} in /proc/net/tcp`);
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function startServer(handler: Deno.ServeHandler): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
}
