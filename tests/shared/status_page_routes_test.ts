/**
 * The status page's routes without a browser: `GET /v1/status` builds its document at most once
 * per period, however many requests come (the route is open to anyone who reaches the port).
 */
import { MetricsRegistry } from "../../src/shared/metrics.ts";
import { createStatusApp } from "../../src/shared/status_server.ts";
import { addStatusPage } from "../../src/shared/status_page/routes.ts";
import { assertEquals } from "../../testing/assert.ts";

Deno.test("GET /v1/status: fifty requests within the period cost one document; the next period builds anew", async () => {
  const app = createStatusApp({
    ready: () => ({ ready: true, reasons: [] }),
    metrics: new MetricsRegistry(),
  });
  let clockMs = 0;
  let builds = 0;
  addStatusPage(app, () => ({ kind: "client", build: ++builds }), {
    maxAgeMs: 1000,
    nowMs: () => clockMs,
  });
  const fetchDocument = async () => {
    const answer = await app.request("/v1/status");
    return [answer.status, answer.headers.get("content-type"), await answer.json()];
  };

  const first = await Promise.all(Array.from({ length: 50 }, fetchDocument));
  assertEquals(builds, 1);
  for (const answer of first) {
    assertEquals(answer, [200, "application/json", { kind: "client", build: 1 }]);
  }
  clockMs = 999;
  assertEquals((await fetchDocument())[2], { kind: "client", build: 1 });
  clockMs = 1000;
  assertEquals((await fetchDocument())[2], { kind: "client", build: 2 });
  assertEquals(builds, 2);
});
