/**
 * The status page in a real headless chromium, against a running monitor (a real ZooKeeper, the
 * stand-in proxy): it updates by itself, shows a proxy that went down with the reason, shows
 * hostile znode names as text without running them, says when its data stopped updating, and a
 * cross-site form cannot make the monitor act.
 */
import { type MonitorApp, type MonitorOptions, startMonitor } from "../../mod.ts";
import { connectWriter as connect, monitorTestOptions } from "../../testing/monitor_setup.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { addStatusPage, PAGE_CSP } from "../../src/shared/status_page/routes.ts";
import { createStatusApp, serveStatus } from "../../src/shared/status_server.ts";
import { MetricsRegistry } from "../../src/shared/metrics.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { HeadlessBrowser } from "../../testing/browser.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";
import type { Page } from "puppeteer-core";

/** The browser's DOM, as far as these tests read it (Deno's own types have no DOM). */
interface DomNode {
  textContent: string | null;
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): ArrayLike<DomNode> & Iterable<DomNode>;
}
/** Only ever used inside functions that run in the browser (`page.evaluate`). */
declare const document: DomNode & { body: DomNode };

const text = new TextEncoder();
const TOKEN = "operator-token-for-the-page-test";
/** Long enough for a loaded machine; the page itself polls every 2 s. */
const PAGE_WAIT_MS = 15_000;

function options(zkHost: string, proxy: StandInAsabru): MonitorOptions {
  return monitorTestOptions(zkHost, [proxy.url], {
    proxyTimeout: 2000,
    retryMax: 500,
    statusPort: 0,
    statusHost: "127.0.0.1",
    statusToken: TOKEN,
    monitorId: "page-test-monitor",
  });
}

/** The text of the delivery cell of `service` in the open page, or undefined when not shown. */
function deliveryOf(page: Page, service: string): Promise<string | undefined> {
  return page.evaluate((name) => {
    for (const row of document.querySelectorAll("tr.service")) {
      if (row.querySelector("td.name")?.textContent === name) {
        return row.querySelector("td.delivery")?.textContent ?? undefined;
      }
    }
    return undefined;
  }, service);
}

/** Waits until `predicate` holds for the page, polling through the browser. */
async function waitOnPage<T>(
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  what: string,
): Promise<T> {
  let last: T | undefined;
  try {
    await waitFor(async () => predicate(last = await read()), PAGE_WAIT_MS, what, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
  return last!;
}

Deno.test("the monitor's status page, in a real browser", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using writer = await connect(zk.connectionString);
  await using proxy = await StandInAsabru.start();
  const app: MonitorApp = await startMonitor(options(zk.connectionString, proxy));
  try {
    await waitFor(() => app.mirror.synced, 10_000, "synced");
    const base = `http://127.0.0.1:${app.statusPort}`;
    await using browser = await HeadlessBrowser.launch();
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    const response = await page.goto(`${base}/`, { waitUntil: "load" });
    assertEquals(response?.headers()["content-security-policy"], PAGE_CSP);
    // Marks this document: still there at the end means no reload happened.
    await page.evaluate(() => Object.assign(globalThis, { pageMark: "loaded once" }));

    await t.step("who the monitor is, and its session", async () => {
      const title = await waitOnPage(
        () => page.$eval("#summary", (node) => node.textContent ?? ""),
        (summary) => summary.includes("leader (epoch"),
        "leader shown",
      );
      assert(title.includes("/cluster1"), title);
      const zookeeper = await page.$eval("#zookeeper", (node) => node.textContent ?? "");
      assert(zookeeper.includes("connected"), zookeeper);
      assert(zookeeper.includes(zk.connectionString.split(",")[0]), zookeeper);
      // ZooKeeper 3.8 has addWatch: the mirror watches the root with one recursive watch.
      await waitOnPage(
        () => page.$eval("#zookeeper", (node) => node.textContent ?? ""),
        (text) => text.includes("watch moderecursive watch"),
        "the watch mode",
      );
    });

    await t.step("a service registered while the page is open appears, delivered", async () => {
      await writer.ensurePath("/cluster1/ch_http_node1");
      await writer.create(
        "/cluster1/ch_http_node1/ch_http_service2",
        text.encode("localhost:2023"),
        {
          mode: "ephemeral",
        },
      );
      await waitOnPage(
        () => deliveryOf(page, "ch_http_service2"),
        (cell) => cell === "delivered",
        "ch_http_service2 delivered on the page",
      );
      const target = await page.evaluate(() =>
        [...document.querySelectorAll("tr.service td")].map((td) => td.textContent)
      );
      assert(target.includes("localhost:2023"), JSON.stringify(target));
    });

    await t.step("hostile znode names and data show as text, and nothing runs", async () => {
      const hostile = "<img src=x onerror=alert(1)>";
      const flagging = '<img src=x onerror="window.pwned=1">';
      await writer.ensurePath(`/cluster1/${flagging}`);
      await writer.create(`/cluster1/${flagging}/${hostile}`, text.encode("</script><b>x</b>"));
      await writer.create(
        `/cluster1/ch_http_node1/${flagging}`,
        text.encode("</script><script>window.pwned=2</script>"),
      );
      await waitOnPage(
        () => page.evaluate(() => document.body.textContent ?? ""),
        (body) => body.includes(hostile) && body.includes("</script><b>x</b>"),
        "the hostile names shown as text",
      );
      const names = await page.evaluate(() =>
        [...document.querySelectorAll("td.name")].map((td) => td.textContent)
      );
      assert(names.includes(hostile) && names.includes(flagging), JSON.stringify(names));
      const ran = await page.evaluate(() => ({
        pwned: (globalThis as { pwned?: number }).pwned ?? null,
        images: document.querySelectorAll("img").length,
        bolds: document.querySelectorAll("main b").length,
        scripts: document.querySelectorAll("script").length,
      }));
      assertEquals(ran, { pwned: null, images: 0, bolds: 0, scripts: 1 });
      assertEquals(dialogs, []);
      assert((await deliveryOf(page, hostile))?.startsWith("invalid: "));
    });

    await t.step("the page's resync button works with the right token only", async () => {
      const result = () => page.$eval("#action-result", (node) => node.textContent ?? "");
      await page.click("#resync");
      await waitOnPage(result, (text) => text === "Resync: paste the token first", "no token");
      await page.type("#token", "not-the-token");
      await page.click("#resync");
      await waitOnPage(result, (text) => text.startsWith("Resync: refused (HTTP 403)"), "refused");
      assertEquals(app.queues[0].counters.resyncs, 0);
      await page.$eval("#token", (input) => (input as unknown as { value: string }).value = "");
      await page.type("#token", TOKEN);
      await page.click("#resync");
      await waitOnPage(result, (text) => text.startsWith("Resync: done"), "done");
      assertEquals(app.queues[0].counters.resyncs, 1);
      // Kept for this tab only, and no longer in the field.
      assertEquals(
        await page.evaluate(() =>
          (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } })
            .sessionStorage.getItem("zkcm-status-token")
        ),
        TOKEN,
      );
      assertEquals(
        await page.$eval("#token", (input) => (input as unknown as { value: string }).value),
        "",
      );
    });

    await t.step("the proxy stops: shown down, with the reason", async () => {
      await proxy.close();
      await writer.create(
        "/cluster1/ch_http_node1/ch_http_service3",
        text.encode("localhost:2024"),
        {
          mode: "ephemeral",
        },
      );
      const row = await waitOnPage(
        () =>
          page.$eval(
            "tr.proxy",
            (tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent),
          ),
        (cells) => cells[2] === "down" && (cells[8] ?? "") !== "",
        "the proxy shown down with its last error",
      );
      assertEquals(row[0], proxy.url);
      assert(/refused|connect/i.test(row[8] ?? ""), `last error: ${row[8]}`);
      await waitOnPage(
        () => deliveryOf(page, "ch_http_service3"),
        (cell) => cell?.startsWith("retrying add: ") === true,
        "ch_http_service3 retrying, with why",
      );
    });

    await t.step("the monitor stops: the page says its data stopped updating", async () => {
      await app.shutdown();
      const freshness = await waitOnPage(
        () => page.$eval("#freshness", (p) => [p.className, p.textContent ?? ""]),
        ([className]) => className === "stale",
        "the stale banner",
      );
      assert(freshness[1].startsWith("Not updating since "), freshness[1]);
      assertEquals(
        await page.evaluate(() => (globalThis as { pageMark?: string }).pageMark),
        "loaded once",
      );
    });
  } finally {
    await app.shutdown();
  }
});

Deno.test("a cross-site form POST from another origin's page is refused", async () => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await StandInAsabru.start();
  const app = await startMonitor(options(zk.connectionString, proxy));
  try {
    const target = `http://127.0.0.1:${app.statusPort}`;
    // Another origin (another port): a page that submits a form to the monitor at once.
    const attacker = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      () =>
        new Response(
          `<!doctype html><form id=f method=post action="${target}/v1/resync">` +
            `<input name=token value="${TOKEN}"></form>` +
            `<script>document.getElementById("f").submit()</script>`,
          { headers: { "Content-Type": "text/html" } },
        ),
    );
    try {
      await using browser = await HeadlessBrowser.launch();
      const page = await browser.newPage();
      const answered = page.waitForResponse((r) => r.url() === `${target}/v1/resync`, {
        timeout: PAGE_WAIT_MS,
      });
      await page.goto(`http://127.0.0.1:${attacker.addr.port}/`);
      const answer = await answered;
      assertEquals(answer.status(), 403);
      const body = await answer.text();
      assert(/another origin|form's content type/.test(body), body);
      assertEquals(app.queues[0].counters.resyncs, 0);
    } finally {
      await attacker.shutdown();
    }
  } finally {
    await app.shutdown();
  }
});

Deno.test("a server that stops answering (accepts, never replies): the page says it is stale", async () => {
  const app = createStatusApp({
    ready: () => ({ ready: true, reasons: [] }),
    metrics: new MetricsRegistry(),
  });
  // A wedged process: the connection is accepted but /v1/status never answers after the first.
  const wedged = Promise.withResolvers<void>();
  let answered = 0;
  app.use("/v1/status", async (_c, next) => {
    if (answered++ > 0) await wedged.promise;
    await next();
  });
  addStatusPage(app, () => ({
    kind: "client",
    services: [],
    zookeeper: { state: "connected" },
  }));
  const server = await serveStatus(app, { port: 0, hostname: "127.0.0.1" });
  try {
    await using browser = await HeadlessBrowser.launch();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/`);
    const freshness = await waitOnPage(
      () => page.$eval("#freshness", (p) => [p.className, p.textContent ?? ""]),
      ([className]) => className === "stale",
      "the stale banner while the server does not answer",
    );
    assert(freshness[1].startsWith("Not updating since "), freshness[1]);
    assert(answered >= 2, `requests: ${answered}`);
  } finally {
    wedged.resolve();
    await server.shutdown();
  }
});
