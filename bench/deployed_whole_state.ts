/**
 * `deno task bench --proxy=deployed --whole-state`: whole-state delivery (`ASABRU_CONFIG_TEMPLATE`)
 * against the deployed-behaviour stand-in in a process of its own, over the transport the monitor
 * picks for it (one-shot), with a template that gives each end point one static service:
 *
 * 1. removal latency: one service registered, then deleted; from the driver's delete to the
 *    stand-in's table without it (the table is polled every 2 ms over HTTP, so up to about 3 ms
 *    of each figure is the polling);
 * 2. a burst of `n` services registered at once, then their session closed: until the table holds
 *    them all, then none; the pushes the monitor made (its `zkcm_delivery_requests_total`);
 * 3. a cold sync: `n` services exist before the monitor starts; from its spawn to the table
 *    holding them all.
 *
 * Every figure comes with the stand-in's count of slots that ever held two copies and of crashes.
 *
 * @module
 */
import type { LocalZooKeeper } from "../mod.ts";
import { type Cleanup, progress } from "./context.ts";
import type { startProxy } from "./deployed.ts";
import { waitForStatus } from "./processes.ts";
import { startDeployedMonitor } from "./deployed_monitor.ts";
import { round, summarize } from "./stats.ts";
import { endPointCount, treeServices } from "./tree_layout.ts";
import { writeBenchTemplate } from "./whole_state_template.ts";
import { connect, createEndPoints, createServices } from "./zk_tree.ts";

type Proxy = Awaited<ReturnType<typeof startProxy>>;

/** Resolves once the stand-in's table holds `slots` slots; rejects after `ms`. */
async function untilSlots(proxy: Proxy, slots: number, ms: number, what: string) {
  const deadline = performance.now() + ms;
  for (;;) {
    const stats = await proxy.stats();
    if (stats.slots === slots) return stats;
    if (performance.now() > deadline) {
      throw new Error(`${what}: ${stats.slots} slots, not ${slots}, after ${ms} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function startWholeStateMonitor(
  cleanup: Cleanup,
  zk: LocalZooKeeper,
  proxy: Proxy,
  root: string,
  template: string,
  label: string,
) {
  const { monitor, statusPort } = await startDeployedMonitor(cleanup, zk, proxy.url, root, label, {
    ASABRU_CONFIG_TEMPLATE: template,
  });
  const pushes = async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    return Number(
      /zkcm_delivery_requests_total\{[^}]*op="configuration"\} (\d+)/.exec(metrics)?.[1] ?? NaN,
    );
  };
  return { monitor, statusPort, pushes };
}

/** Runs the three whole-state measurements with `count` services. */
export async function wholeStateOnDeployed(
  cleanup: Cleanup,
  zk: LocalZooKeeper,
  start: typeof startProxy,
  count: number,
  removalRounds: number,
) {
  const endPoints = endPointCount(count);
  const tmpDir = await Deno.makeTempDir({ prefix: "zkcm-bench-whole-state-" });
  cleanup.add("whole-state template", () => Deno.remove(tmpDir, { recursive: true }));
  const template = await writeBenchTemplate(tmpDir, endPoints, []);
  const root = `/bench-deployed-whole-state-${count}`;
  const coldRoot = `${root}-cold`;
  const driver = await connect(zk);
  cleanup.add(`whole-state driver (${count})`, async () => {
    await driver.deleteRecursive(root).catch(() => {});
    await driver.deleteRecursive(coldRoot).catch(() => {});
    await driver.close();
  });

  // 1 and 2: one monitor, synced on empty end points (the table holds the static services).
  progress(`deployed proxy, whole state: removal latency, then a burst of ${count}`);
  const proxy = await start(cleanup, "whole-state burst");
  await createEndPoints(driver, root, endPoints);
  const { monitor, statusPort, pushes } = await startWholeStateMonitor(
    cleanup,
    zk,
    proxy,
    root,
    template,
    "whole-state burst",
  );
  await waitForStatus(monitor, statusPort, (s) => s.synced, 15_000, "synced");
  await untilSlots(proxy, endPoints, 15_000, "the static services");

  const removals: number[] = [];
  for (let i = 0; i < removalRounds; i++) {
    const path = `${root}/ep000/removal-${i}`;
    await driver.create(path, new TextEncoder().encode("127.0.0.1:8123"), { mode: "ephemeral" });
    await untilSlots(proxy, endPoints + 1, 10_000, "the service to remove");
    const deletedAt = performance.now();
    await driver.delete(path);
    await untilSlots(proxy, endPoints, 10_000, "the removal");
    removals.push(performance.now() - deletedAt);
  }

  const registrar = await connect(zk);
  const pushesBefore = await pushes();
  const burstStarted = performance.now();
  await createServices(registrar, treeServices(root, count));
  await untilSlots(proxy, endPoints + count, 60_000, "the burst");
  const burstAddsMs = performance.now() - burstStarted;
  const burstPushes = (await pushes()) - pushesBefore;
  const closedAt = performance.now();
  await registrar.close();
  const afterBurst = await untilSlots(proxy, endPoints, 60_000, "the burst's removal");
  const burstRemovalsMs = performance.now() - closedAt;
  const removalPushes = (await pushes()) - pushesBefore - burstPushes;
  await monitor.stop();

  // 3: a cold sync of the same services, registered before the monitor starts.
  progress(`deployed proxy, whole state: a cold sync of ${count}`);
  const coldProxy = await start(cleanup, "whole-state cold sync");
  await createEndPoints(driver, coldRoot, endPoints);
  const loader = await connect(zk);
  cleanup.add("whole-state loader", () => loader.close());
  await createServices(loader, treeServices(coldRoot, count));
  const cold = await startWholeStateMonitor(
    cleanup,
    zk,
    coldProxy,
    coldRoot,
    template,
    "whole-state cold sync",
  );
  const afterCold = await untilSlots(coldProxy, endPoints + count, 60_000, "the cold sync");
  const coldSyncMs = performance.now() - cold.monitor.startedAt;
  const coldPushes = await cold.pushes();
  await cold.monitor.stop();

  const latency = summarize(removals);
  return {
    services: count,
    endPoints,
    removalLatency: {
      rounds: removals.length,
      p50Ms: round(latency.p50, 1),
      p99Ms: round(latency.p99, 1),
      maxMs: round(latency.max, 1),
    },
    burst: {
      allAddsMs: round(burstAddsMs, 1),
      pushes: burstPushes,
      allRemovalsMs: round(burstRemovalsMs, 1),
      removalPushes,
      proxy: afterBurst,
    },
    coldSync: { ms: round(coldSyncMs, 1), pushes: coldPushes, proxy: afterCold },
  };
}
