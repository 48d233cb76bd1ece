/**
 * The status page under load, measured in a real headless chromium: for each tree size (the
 * bench's trees: 100 services per end point), how long `/v1/status` takes and weighs, how long
 * the page takes from navigation to its service list drawn, and how long opening one end point
 * takes. Optionally a screenshot of the page (the README's picture).
 *
 * One monitor in-process, two proxies: the bench's receiver (in step) and a port where nothing
 * listens (down: its services show as retrying, with why), plus one invalid service.
 *
 * ```sh
 * deno run -A bench/status_page.ts                       # 1,000 and 10,000 services
 * deno run -A bench/status_page.ts --services 1000 --screenshot docs/status-page.png
 * ```
 *
 * Printed, not asserted: speed belongs here, not in tests.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { LocalZooKeeper, monitorOptions, parseOptions, startMonitor } from "../mod.ts";
import { BenchReceiver } from "./receiver.ts";
import { endPointCount, treeServices } from "./tree_layout.ts";
import { connect, createEndPoints, createServices } from "./zk_tree.ts";
import { HeadlessBrowser } from "../testing/browser.ts";
import { freePort } from "../testing/convergence.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    services: { type: "string", default: "1000,10000" },
    screenshot: { type: "string" },
  },
});
const sizes = values.services.split(",").map(Number);

/** Where nothing listens: the proxy that is down. */
const downProxy = `http://127.0.0.1:${freePort()}/updateService`;
const say = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));

await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
await using receiver = await BenchReceiver.start();
await using driver = await connect(zk);

for (const count of sizes) {
  const root = `/page${count}`;
  await createEndPoints(driver, root, endPointCount(count));
  await createServices(driver, treeServices(root, count));
  await driver.create(`${root}/ep000/not-a-service`, new TextEncoder().encode("no port here"));

  const parsed = parseOptions(monitorOptions, ["--root", root], new Map());
  if (!parsed.ok || parsed.help) throw new Error(JSON.stringify(parsed));
  const app = await startMonitor({
    ...parsed.value,
    configTemplate: undefined, // a template is parsed by loadMonitorConfig; none here
    zkHost: zk.connectionString,
    proxyUrls: [receiver.url, downProxy],
    proxyTimeout: 2000,
    statusPort: 0,
    statusHost: "127.0.0.1",
    monitorId: `bench-${count}`,
    electionPath: `${root}-election`,
  });
  try {
    const deadline = performance.now() + 120_000;
    while (app.queues[0].pending() > 0 || !app.mirror.synced) {
      if (performance.now() > deadline) throw new Error(`${count}: not in step after 120 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const url = `http://127.0.0.1:${app.statusPort}`;
    const fetchStart = performance.now();
    const document = await (await fetch(`${url}/v1/status`)).text();
    const fetchMs = performance.now() - fetchStart;

    await using browser = await HeadlessBrowser.launch({ width: 1280, height: 1000 });
    const page = await browser.newPage();
    // Three navigations: the first also warms the browser up.
    const loadsMs: number[] = [];
    for (let load = 0; load < 3; load++) {
      const loadStart = performance.now();
      await page.goto(`${url}/`);
      await page.waitForFunction(
        "document.querySelectorAll('details.end-point').length > 0",
        { timeout: 60_000, polling: 10 },
      );
      loadsMs.push(Math.round(performance.now() - loadStart));
    }
    // Opening one end point on a large tree: its first hundred services drawn.
    const openMs = await page.evaluate(`(() => {
      const details = [...document.querySelectorAll("details.end-point")].find((d) => !d.open);
      if (!details) return 0;
      const start = performance.now();
      details.open = true;
      details.dispatchEvent(new Event("toggle"));
      return performance.now() - start;
    })()`) as number;
    say(
      `${count} services: /v1/status ${Math.round(document.length / 1024)} KiB in ` +
        `${Math.round(fetchMs)} ms; page drawn ${loadsMs.join(", ")} ms after navigation; ` +
        `opening an end point ${Math.round(openMs)} ms`,
    );
    if (values.screenshot && count === sizes[0]) {
      // Wait for the down proxy's first failure, so the picture shows it.
      await page.waitForFunction(
        "[...document.querySelectorAll('tr.proxy td')].some((td) => td.textContent === 'down')",
        { timeout: 30_000 },
      );
      await page.screenshot({ path: values.screenshot, type: "png" });
      say(`screenshot: ${values.screenshot} (${(await Deno.stat(values.screenshot)).size} bytes)`);
    }
  } finally {
    await app.shutdown();
  }
}
