import { configure, type LogRecord, reset } from "@logtape/logtape";
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "../../src/shared/metrics.ts";
import { createStatusApp, type Readiness, serveStatus } from "../../src/shared/status_server.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";

/** A real state whose answers the test changes. */
function stateFor() {
  const metrics = new MetricsRegistry();
  metrics.counter("zkcm_requests_total", "Requests.").inc(2);
  const state = {
    isLive: true,
    readiness: { ready: true, reasons: [] } as Readiness,
    metrics,
  };
  const app = createStatusApp({
    live: () => state.isLive,
    ready: () => state.readiness,
    metrics,
  });
  return { state, app };
}

/** Status, content type, cache header and body of a response (the body always consumed). */
async function read(response: Response | Promise<Response>) {
  const answer = await response;
  const text = await answer.text();
  return {
    status: answer.status,
    type: answer.headers.get("content-type"),
    cache: answer.headers.get("cache-control"),
    body: answer.headers.get("content-type")?.startsWith("application/json")
      ? JSON.parse(text)
      : text,
  };
}

const JSON_TYPE = "application/json";

/** Captures the `["zkcm", "http"]` log records while `use` runs. */
async function withCapturedLogs(use: (records: LogRecord[]) => Promise<void>): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["zkcm", "http"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await use(records);
  } finally {
    await reset();
  }
}

Deno.test("GET /healthz: 200 while live, 503 when not; live by default", async () => {
  const { state, app } = stateFor();
  assertEquals(await read(app.request("/healthz")), {
    status: 200,
    type: JSON_TYPE,
    cache: "no-store",
    body: { status: "ok" },
  });
  state.isLive = false;
  assertEquals((await read(app.request("/healthz"))).status, 503);
  assertEquals((await read(app.request("/healthz"))).body, { status: "unhealthy" });

  const always = createStatusApp({
    ready: () => ({ ready: false, reasons: [] }),
    metrics: new MetricsRegistry(),
  });
  assertEquals((await read(always.request("/healthz"))).status, 200);
});

Deno.test("GET /readyz: 200 when ready, 503 with the reasons when not", async () => {
  const { state, app } = stateFor();
  assertEquals(await read(app.request("/readyz")), {
    status: 200,
    type: JSON_TYPE,
    cache: "no-store",
    body: { ready: true },
  });
  state.readiness = { ready: false, reasons: ["zookeeper: not connected", "not the leader"] };
  assertEquals(await read(app.request("/readyz")), {
    status: 503,
    type: JSON_TYPE,
    cache: "no-store",
    body: { ready: false, reasons: ["zookeeper: not connected", "not the leader"] },
  });
});

Deno.test("GET /metrics: the registry as Prometheus text, rendered at each request", async () => {
  const { state, app } = stateFor();
  const expected = "# HELP zkcm_requests_total Requests.\n" +
    "# TYPE zkcm_requests_total counter\n" +
    "zkcm_requests_total 2\n";
  assertEquals(await read(app.request("/metrics")), {
    status: 200,
    type: PROMETHEUS_CONTENT_TYPE,
    cache: "no-store",
    body: expected,
  });
  state.metrics.gauge("zkcm_up", "Up.").set(1);
  assertEquals(
    (await read(app.request("/metrics"))).body,
    `${expected}# HELP zkcm_up Up.\n# TYPE zkcm_up gauge\nzkcm_up 1\n`,
  );
});

Deno.test("HEAD works where GET does, without a body", async () => {
  const { app } = stateFor();
  const response = await app.request("/readyz", { method: "HEAD" });
  assertEquals(response.status, 200);
  assertEquals(await response.text(), "");
});

Deno.test("unknown paths and methods: 404 JSON", async () => {
  const { app } = stateFor();
  for (const [path, method] of [["/", "GET"], ["/nope", "GET"], ["/healthz", "POST"]]) {
    assertEquals(await read(app.request(path, { method })), {
      status: 404,
      type: JSON_TYPE,
      cache: "no-store",
      body: { error: "not found" },
    }, `${method} ${path}`);
  }
});

Deno.test("a handler that throws: 500 JSON, logged with method and path, app still serves", async () => {
  await withCapturedLogs(async (records) => {
    const metrics = new MetricsRegistry();
    metrics.gauge("zkcm_broken", "Broken.", [], () => {
      throw new Error("collector failed");
    });
    const app = createStatusApp({
      ready: () => {
        throw new Error("mirror unavailable");
      },
      metrics,
    });
    for (const path of ["/readyz", "/metrics"]) {
      assertEquals(await read(app.request(path)), {
        status: 500,
        type: JSON_TYPE,
        cache: "no-store",
        body: { error: "internal error" },
      }, path);
    }
    assertEquals((await read(app.request("/healthz"))).status, 200);

    assertEquals(records.map((record) => record.level), ["error", "error"]);
    assertEquals(records.map((record) => record.category), [["zkcm", "http"], ["zkcm", "http"]]);
    assertEquals(records.map((record) => [record.properties.method, record.properties.path]), [
      ["GET", "/readyz"],
      ["GET", "/metrics"],
    ]);
    assertEquals(
      records.map((record) => (record.properties.error as Error).message),
      ["mirror unavailable", "collector failed"],
    );
  });
});

Deno.test("callers add their own routes; an exception carrying a response keeps it", async () => {
  const { app } = stateFor();
  let resyncs = 0;
  app.post("/v1/resync", (c) => {
    resyncs++;
    return c.json({ accepted: true }, 202);
  });
  app.get("/v1/teapot", () => {
    // What Hono's HTTPException looks like to the error handler.
    throw Object.assign(new Error("short and stout"), {
      getResponse: () => new Response("I'm a teapot", { status: 418 }),
    });
  });
  assertEquals(await read(app.request("/v1/resync", { method: "POST" })), {
    status: 202,
    type: JSON_TYPE,
    cache: "no-store",
    body: { accepted: true },
  });
  assertEquals(resyncs, 1);
  const teapot = await read(app.request("/v1/teapot"));
  assertEquals([teapot.status, teapot.body], [418, "I'm a teapot"]);
});

Deno.test("serveStatus: a real server on port 0, fetched, then shut down", async () => {
  await withCapturedLogs(async (records) => {
    const { state, app } = stateFor();
    state.readiness = { ready: false, reasons: ["starting"] };
    const server = await serveStatus(app, { port: 0, hostname: "127.0.0.1" });
    assert(server.port > 0, `port ${server.port}`);
    assertEquals(server.hostname, "127.0.0.1");
    const base = `http://127.0.0.1:${server.port}`;

    assertEquals((await read(fetch(`${base}/healthz`))).body, { status: "ok" });
    assertEquals(await read(fetch(`${base}/readyz`)), {
      status: 503,
      type: JSON_TYPE,
      cache: "no-store",
      body: { ready: false, reasons: ["starting"] },
    });
    const metrics = await read(fetch(`${base}/metrics`));
    assertEquals([metrics.status, metrics.type], [200, PROMETHEUS_CONTENT_TYPE]);
    assertEquals((await read(fetch(`${base}/missing`))).status, 404);

    await server.shutdown();
    await server.shutdown(); // twice is harmless
    await assertRejects(() => fetch(`${base}/healthz`), TypeError);

    assertEquals(
      records.filter((record) => record.level === "info").map((record) => record.properties),
      [{ hostname: "127.0.0.1", port: server.port }],
    );
  });
});

Deno.test("serveStatus: aborting the signal shuts the server down", async () => {
  const { app } = stateFor();
  const controller = new AbortController();
  const server = await serveStatus(app, {
    port: 0,
    hostname: "127.0.0.1",
    signal: controller.signal,
  });
  assertEquals((await read(fetch(`http://127.0.0.1:${server.port}/healthz`))).status, 200);
  controller.abort();
  await server.shutdown();
  await assertRejects(() => fetch(`http://127.0.0.1:${server.port}/healthz`), TypeError);
});

Deno.test("serveStatus: a port in use rejects; await using shuts down", async () => {
  const { app } = stateFor();
  await using first = await serveStatus(app, { port: 0, hostname: "127.0.0.1" });
  await assertRejects(
    () => serveStatus(app, { port: first.port, hostname: "127.0.0.1" }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("every answer says X-Content-Type-Options: nosniff (JSON, metrics, 404, 500)", async () => {
  const { app } = stateFor();
  app.get("/v1/doc", (c) => c.json({ name: "<script>alert(1)</script>" }));
  app.get("/v1/broken", () => {
    throw new Error("broken on purpose");
  });
  await withCapturedLogs(async () => {
    for (const path of ["/healthz", "/readyz", "/metrics", "/v1/doc", "/nope", "/v1/broken"]) {
      const answer = await app.request(path);
      await answer.body?.cancel();
      assertEquals([path, answer.headers.get("x-content-type-options")], [path, "nosniff"]);
    }
  });
});
