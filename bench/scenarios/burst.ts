/**
 * Scenario 3, burst (and its growth series): the monitor is synced on a root whose `n / 100` end
 * points are empty; another session registers `n` services at once (pipelined creates); the time
 * runs from the first create until the receiver has all `n` adds. Then that session closes, and
 * the time runs from the close until the receiver has all `n` deletes (ZooKeeper removes the
 * ephemerals of a closed session at once).
 *
 * @module
 */
import { type BenchContext, progress, startMonitorProcess } from "../context.ts";
import { cpuSince, waitForStatus } from "../processes.ts";
import { round } from "../stats.ts";
import { endPointCount, treeServices } from "../tree_layout.ts";
import {
  connect,
  createEndPoints,
  createServices,
  requestsFromOthers,
  watchCount,
} from "../zk_tree.ts";

/** What one burst measured. */
export interface BurstResult {
  services: number;
  endPoints: number;
  /** First create → ZooKeeper acknowledged the last create (the burst itself). */
  zkCreatesMs: number;
  /** First create → the last add at the receiver. */
  allAddsMs: number;
  /** Session close → the last delete at the receiver. */
  allDeletesMs: number;
  /** `allAddsMs / n`, in microseconds. */
  perServiceAddUs: number;
  perServiceDeleteUs: number;
  /** CPU time the monitor used from the first create to the last add. */
  monitorCpuAddsMs: number;
  /** CPU time the monitor used from the close to the last delete. */
  monitorCpuDeletesMs: number;
  /** CPU time ZooKeeper's JVM and the driver's process (registering, receiving) used for the adds. */
  zooKeeperCpuAddsMs: number;
  driverCpuAddsMs: number;
  /** The monitor synced on the empty end points. */
  idleRssBytes: number;
  /** With the `n` services mirrored. */
  rssBytes: number;
  /** `(rss - idle) / n`. */
  rssPerServiceBytes: number;
  peakRssBytes: number;
  /** `wchs` total with the `n` services mirrored. */
  watches: number;
  /** Requests ZooKeeper received from the monitor during the adds, pings included. */
  zkRequests: number;
  httpConnections: number;
  duplicateAdds: number;
  /** Whole-state mode: the configurations pushed for the adds (0 per request). */
  pushes: number;
  /** Whole-state mode: the configurations pushed for the deletes. */
  deletePushes: number;
}

/** Runs one burst of `count` services. */
export async function burst(context: BenchContext, count: number): Promise<BurstResult> {
  const { cleanup, receiver, zk } = context;
  const root = `/bench-burst-${count}`;
  const services = treeServices(root, count);
  const endPoints = endPointCount(count);

  const driver = await connect(zk);
  await using _driver = cleanup.add(`burst ${count} driver session`, async () => {
    await driver.deleteRecursive(root).catch(() => {});
    await driver.close();
  });
  await createEndPoints(driver, root, endPoints);

  receiver.reset();
  const monitor = await startMonitorProcess(context, root, `burst-${count}`);
  await using _monitor = cleanup.add(`burst ${count} monitor`, () => monitor.process.stop());
  await waitForStatus(monitor.process, monitor.statusPort, (s) => s.synced, 15_000, "synced");
  const idle = monitor.process.memory();

  const registrar = await connect(zk);
  await using _registrar = cleanup.add(
    `burst ${count} registering session`,
    () => registrar.close(),
  );
  const requestsBefore = await requestsFromOthers(zk, [driver, registrar]);
  const timeoutMs = 30_000 + count * 4;

  receiver.reset();
  const cpuBefore = monitor.process.cpuMs();
  const zooKeeperCpu = cpuSince(zk.pid);
  const driverCpu = cpuSince(Deno.pid);
  const startedAt = performance.now();
  const zkCreatesMs = await createServices(registrar, services);
  await monitor.process.guard(
    receiver.until(() => receiver.adds >= count, timeoutMs, `${count} adds`),
  );
  const allAddsMs = receiver.arrivals[receiver.arrivals.length - 1].at - startedAt;
  const cpuAfterAdds = monitor.process.cpuMs();
  const zooKeeperCpuAddsMs = zooKeeperCpu();
  const driverCpuAddsMs = driverCpu();
  const zkRequests = (await requestsFromOthers(zk, [driver, registrar])) - requestsBefore;
  const httpConnections = receiver.connections;
  const duplicateAdds = receiver.duplicateAdds;
  const pushes = receiver.pushes;
  const watches = await watchCount(zk);
  const loaded = monitor.process.memory();

  const closedAt = performance.now();
  await registrar.close();
  await monitor.process.guard(
    receiver.until(() => receiver.deletes >= count, timeoutMs, `${count} deletes`),
  );
  const allDeletesMs = receiver.arrivals[receiver.arrivals.length - 1].at - closedAt;
  const peak = monitor.process.memory().peak;
  const cpuAfterDeletes = monitor.process.cpuMs();

  progress(
    `burst ${count}: adds ${Math.round(allAddsMs)} ms, deletes ${Math.round(allDeletesMs)} ms` +
      (pushes > 0 ? ` (whole state: ${pushes} + ${receiver.pushes - pushes} pushes)` : ""),
  );
  return {
    services: count,
    endPoints,
    zkCreatesMs: round(zkCreatesMs, 1),
    allAddsMs: round(allAddsMs, 1),
    allDeletesMs: round(allDeletesMs, 1),
    perServiceAddUs: round((allAddsMs * 1000) / count, 1),
    perServiceDeleteUs: round((allDeletesMs * 1000) / count, 1),
    monitorCpuAddsMs: cpuAfterAdds - cpuBefore,
    monitorCpuDeletesMs: cpuAfterDeletes - cpuAfterAdds,
    zooKeeperCpuAddsMs,
    driverCpuAddsMs,
    idleRssBytes: idle.rss,
    rssBytes: loaded.rss,
    rssPerServiceBytes: Math.round((loaded.rss - idle.rss) / count),
    peakRssBytes: peak,
    watches,
    zkRequests,
    httpConnections,
    duplicateAdds,
    pushes,
    deletePushes: receiver.pushes - pushes,
  };
}
