/**
 * The client's status page in a real headless chromium: each wanted service, registered or not,
 * in which session, its health check (last result, rise and fall counters), and the session.
 */
import { loadClientConfig, startClient } from "../../mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInClickHouse } from "../../testing/stand_in_clickhouse.ts";
import { HeadlessBrowser } from "../../testing/browser.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const GATED = "/cluster1/ch_http_node1/gated";
const PLAIN = "/cluster1/ch_http_node1/plain";

Deno.test("the client's status page, in a real browser", async () => {
  await using zk = await LocalZooKeeper.start();
  await using clickhouse = await StandInClickHouse.start();
  const loaded = await loadClientConfig([
    "--zk-host",
    zk.connectionString,
    "--register",
    `${GATED}=${clickhouse.hostPort}`,
    "--register",
    `${PLAIN}=localhost:2023`,
    "--health-check",
    `${GATED}=clickhouse://${clickhouse.hostPort}`,
    "--health-interval",
    "100ms",
    "--health-rise",
    "2",
    "--health-fall",
    "2",
  ], new Map());
  if (loaded.kind !== "run") throw new Error(JSON.stringify(loaded));
  const app = await startClient({
    ...loaded.config,
    options: { ...loaded.config.options, statusPort: 0, statusHost: "127.0.0.1" },
  });
  try {
    await using browser = await HeadlessBrowser.launch();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${app.statusPort}/`);
    const rowOf = (path: string) =>
      page.$$eval("tr.service", (rows, wanted) => {
        const row = rows.find((tr) => tr.querySelector("td")?.textContent === wanted);
        return row ? [...row.querySelectorAll("td")].map((td) => td.textContent ?? "") : [];
      }, path);
    const sessionId = () => "0x" + app.session.sessionId.toString(16);

    let gated: string[] = [];
    await waitFor(async () => (gated = await rowOf(GATED))[2] === "registered", 15_000, "gated")
      .catch((error) => {
        throw new Error(`${error.message}; row: ${JSON.stringify(gated)}`);
      });
    assertEquals(gated[3], sessionId());
    assert(gated[4].startsWith("healthy clickhouse://"), gated[4]);
    assert(gated[5] !== "", "a last result");
    assert(/^\d+ ok \(rise 2\), 0 failed \(fall 2\)$/.test(gated[6]), gated[6]);
    const plain = await rowOf(PLAIN);
    assertEquals([plain[2], plain[3], plain[4]], ["registered", sessionId(), "none"]);

    // The check fails twice in a row: unregistered, and the page says why.
    clickhouse.setPing("error");
    await waitFor(
      async () => (gated = await rowOf(GATED))[2].startsWith("unwanted"),
      15_000,
      "gated shown unregistered",
    ).catch((error) => {
      throw new Error(`${error.message}; row: ${JSON.stringify(gated)}`);
    });
    assertEquals(gated[3], "");
    assert(gated[4].startsWith("unhealthy "), gated[4]);
    assert(/^0 ok \(rise 2\), \d+ failed \(fall 2\)$/.test(gated[6]), gated[6]);
    const session = await page.$eval("#zookeeper", (node) => node.textContent ?? "");
    assert(session.includes("connected") && session.includes(sessionId()), session);
  } finally {
    await app.shutdown();
  }
});
