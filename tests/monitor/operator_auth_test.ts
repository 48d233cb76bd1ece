/**
 * Who may act through the monitor's status server: `POST /v1/resync` and
 * `POST /v1/guard/release` need the operator's token and the server's own origin; the read-only
 * routes stay open. Through `app.request`, the same routes the monitor serves.
 */
import { MetricsRegistry } from "../../src/shared/metrics.ts";
import { createStatusApp } from "../../src/shared/status_server.ts";
import { addMonitorActions } from "../../src/monitor/actions.ts";
import { readStatusToken, StatusTokenFileError } from "../../src/monitor/operator_auth.ts";
import { withCapturedLogs } from "../../testing/logs.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";

const TOKEN = "s3cret-operator-token";

function appWith(token: string | undefined) {
  const calls = { resync: 0, release: 0 };
  const app = createStatusApp({
    ready: () => ({ ready: true, reasons: [] }),
    metrics: new MetricsRegistry(),
  });
  addMonitorActions(app, {
    token,
    resync: () => {
      calls.resync++;
      return { resynced: ["http://proxy/updateService"], skipped: [] };
    },
    releaseGuard: () => {
      calls.release++;
      return 3;
    },
  });
  return { app, calls };
}

const ROUTES = [
  { path: "/v1/resync", ok: 202, call: "resync" },
  { path: "/v1/guard/release", ok: 200, call: "release" },
] as const;

async function post(
  app: ReturnType<typeof appWith>["app"],
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<number> {
  const answer = await app.request(`http://localhost:9090${path}`, {
    method: "POST",
    headers,
    body,
  });
  await answer.body?.cancel();
  return answer.status;
}

for (const route of ROUTES) {
  Deno.test(`POST ${route.path}: without, with a wrong and with the right token`, async () => {
    await withCapturedLogs(["zkcm", "http"], "debug", async (records) => {
      const { app, calls } = appWith(TOKEN);
      assertEquals(await post(app, route.path), 401);
      assertEquals(await post(app, route.path, { Authorization: "Bearer not-it" }), 403);
      assertEquals(await post(app, route.path, { Authorization: `Basic ${TOKEN}` }), 401);
      assertEquals(calls[route.call], 0);
      assertEquals(await post(app, route.path, { Authorization: `Bearer ${TOKEN}` }), route.ok);
      assertEquals(calls[route.call], 1);
      // One warning per refusal, naming the route and why; none for the accepted request.
      assertEquals(
        records.map((r) => [r.level, r.properties.path, r.properties.reason]),
        [
          ["warning", route.path, "no Authorization: Bearer token"],
          ["warning", route.path, "wrong token"],
          ["warning", route.path, "no Authorization: Bearer token"],
        ],
      );
    });
  });

  Deno.test(`POST ${route.path}: refused with 403 and one line when no token is configured`, async () => {
    await withCapturedLogs(["zkcm", "http"], "debug", async (records) => {
      const { app, calls } = appWith(undefined);
      assertEquals(await post(app, route.path, { Authorization: `Bearer ${TOKEN}` }), 403);
      assertEquals(calls[route.call], 0);
      assertEquals(records.length, 1);
      assertEquals(records[0].level, "warning");
      assertEquals(
        records[0].properties.reason,
        "no STATUS_TOKEN or STATUS_TOKEN_FILE is configured",
      );
    });
  });

  Deno.test(`POST ${route.path}: a cross-site request is refused, even with the token`, async () => {
    await withCapturedLogs(["zkcm", "http"], "debug", async () => {
      const { app, calls } = appWith(TOKEN);
      const auth = { Authorization: `Bearer ${TOKEN}` };
      for (
        const type of [
          "application/x-www-form-urlencoded",
          "multipart/form-data; b=x",
          "text/plain",
        ]
      ) {
        assertEquals(await post(app, route.path, { ...auth, "Content-Type": type }, "a=1"), 403);
      }
      assertEquals(await post(app, route.path, { ...auth, Origin: "http://evil.example" }), 403);
      // A sandboxed frame, a data: URL or a redirect across sites sends the opaque origin.
      assertEquals(await post(app, route.path, { ...auth, Origin: "null" }), 403);
      assertEquals(await post(app, route.path, { ...auth, "Sec-Fetch-Site": "cross-site" }), 403);
      assertEquals(calls[route.call], 0);
      // The page's own request: same origin, JSON.
      const own = { ...auth, Origin: "http://localhost:9090", "Content-Type": "application/json" };
      assertEquals(await post(app, route.path, own, "{}"), route.ok);
      assertEquals(calls[route.call], 1);
    });
  });
}

Deno.test("the read-only routes stay open without a token", async () => {
  const { app } = appWith(TOKEN);
  for (const path of ["/healthz", "/readyz", "/metrics"]) {
    const answer = await app.request(path);
    await answer.body?.cancel();
    assertEquals([path, answer.status], [path, 200]);
  }
});

Deno.test("STATUS_TOKEN_FILE: its first line; a missing or empty file is a named error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/token`, `  ${TOKEN}  \nsecond line\n`);
    assertEquals(await readStatusToken({ statusTokenFile: `${dir}/token` }), TOKEN);
    assertEquals(await readStatusToken({ statusToken: "direct" }), "direct");
    assertEquals(await readStatusToken({}), undefined);
    const missing = await assertRejects(
      () => readStatusToken({ statusTokenFile: `${dir}/nope` }),
      StatusTokenFileError,
    );
    assert(missing.message.startsWith(`--status-token-file (STATUS_TOKEN_FILE): ${dir}/nope: `));
    await Deno.writeTextFile(`${dir}/empty`, "\n");
    const empty = await assertRejects(
      () => readStatusToken({ statusTokenFile: `${dir}/empty` }),
      StatusTokenFileError,
    );
    assertEquals(
      empty.message,
      `--status-token-file (STATUS_TOKEN_FILE): ${dir}/empty: holds no token (its first line is empty)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
