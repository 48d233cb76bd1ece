/**
 * Scenario 2, cold sync (and its growth series): `n` services under `n / 100` end points exist
 * (ephemeral znodes of a loader session, created pipelined), then the monitor starts as a
 * process; the time runs from just before the spawn until the receiver has all `n` adds. Then
 * the monitor's peak RSS (`VmHWM`), the watches ZooKeeper holds (`wchs`) and the requests the
 * monitor sent to ZooKeeper (`cons`); optionally the ZooKeeper-restart check.
 *
 * @module
 */
import { type BenchContext, progress, startMonitorProcess } from "../context.ts";
import { cpuSince, waitForStatus } from "../processes.ts";
import { round } from "../stats.ts";
import { endPointCount, type SentUpdate, treeServices } from "../tree_layout.ts";
import {
  connect,
  createEndPoints,
  createServices,
  requestsFromOthers,
  watchCount,
} from "../zk_tree.ts";
import { restartCheck, type RestartResult } from "./restart.ts";

/** What one cold sync measured. */
export interface ColdSyncResult {
  services: number;
  endPoints: number;
  /** The driver's pipelined creates of the tree (not part of the sync). */
  fillMs: number;
  /** Spawn → first add at the receiver (process start, connect, first reads). */
  firstAddMs: number;
  /** Spawn → the last of the `n` adds at the receiver: the cold sync. */
  allAddsMs: number;
  /** `allAddsMs / n`, in microseconds. */
  perServiceUs: number;
  /** `(allAddsMs - firstAddMs) / n`, in microseconds: the part that grows with `n`. */
  marginalPerServiceUs: number;
  /** CPU time the monitor used from spawn to synced (start-up included). */
  monitorCpuMs: number;
  /**
   * CPU time ZooKeeper's JVM and the driver's process (the receiver) used over the same span: on
   * a 2-core machine the three share the cores, so the sync cannot be shorter than their sum / 2.
   */
  zooKeeperCpuMs: number;
  receiverCpuMs: number;
  /** `monitorCpuMs / n`, in microseconds. */
  cpuPerServiceUs: number;
  /** `zooKeeperCpuMs / n`, in microseconds: what one service's read costs the server. */
  zooKeeperCpuPerReadUs: number;
  /**
   * ZooKeeper's CPU in the second before the spawn, with nobody asking anything (its JVM's own
   * work: GC and JIT after the fill): the part of `zooKeeperCpuMs` that is not the sync's.
   */
  zooKeeperQuietCpuMsPerS: number;
  /** The monitor's `VmHWM` after the sync. */
  peakRssBytes: number;
  /** Its `VmRSS` after the sync. */
  rssBytes: number;
  /** V8's heap after the sync: used (not yet collected garbage included) and reserved. */
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** `(peak - idle monitor RSS) / n`. */
  rssPerServiceBytes: number;
  /** `wchs` total after the sync. */
  watches: number;
  /** Requests ZooKeeper received from the monitor's connection, pings included. */
  zkRequests: number;
  /** Keep-alive connections the monitor used towards the receiver. */
  httpConnections: number;
  /** Updates the monitor sent during the sync (adds and deletes). */
  requests: number;
  /**
   * Deletes sent before the adds: a monitor that starts deletes every service it finds before
   * adding it (an earlier monitor may have added it, and adds append), so a cold sync of `n`
   * services is `2n` requests.
   */
  startupDeletes: number;
  duplicateAdds: number;
  restart?: RestartResult;
  /** Whole-state mode: the configurations pushed (0 per request). */
  pushes: number;
}

/** A cold sync's figures, and the updates the monitor sent (for the receiver ceiling). */
export interface ColdSyncRun {
  result: ColdSyncResult;
  sent: SentUpdate[];
}

/** How long ZooKeeper's CPU is measured with nobody asking anything, before the spawn. */
const QUIET_MS = 1000;

/** Runs one cold sync of `count` services; `restart` adds the ZooKeeper-restart check. */
export async function coldSync(
  context: BenchContext,
  count: number,
  idleMonitorRssBytes: number,
  restart: boolean,
): Promise<ColdSyncRun> {
  const { cleanup, receiver, zk } = context;
  const root = `/bench-cold-${count}`;
  const services = treeServices(root, count);
  const endPoints = endPointCount(count);

  const driver = await connect(zk);
  await using _driver = cleanup.add(`cold-sync ${count} driver session`, async () => {
    await driver.deleteRecursive(root).catch(() => {});
    await driver.close();
  });
  const loader = await connect(zk);
  await using _loader = cleanup.add(`cold-sync ${count} loader session`, () => loader.close());
  await createEndPoints(driver, root, endPoints);
  const fillMs = await createServices(loader, services);

  receiver.reset();
  const quietCpu = cpuSince(zk.pid);
  const quietStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  const zooKeeperQuietCpuMsPerS = round(
    (quietCpu() * 1000) / (performance.now() - quietStarted),
    0,
  );
  const zooKeeperCpu = cpuSince(zk.pid);
  const receiverCpu = cpuSince(Deno.pid);
  const monitor = await startMonitorProcess(context, root, `cold-${count}`);
  await using _monitor = cleanup.add(`cold-sync ${count} monitor`, () => monitor.process.stop());
  const timeoutMs = 30_000 + count * 4;
  await monitor.process.guard(
    receiver.until(() => receiver.adds >= count, timeoutMs, `${count} adds`),
  );
  const arrivals = receiver.arrivals;
  const adds = arrivals.filter((arrival) => arrival.op === "add");
  const firstAddMs = adds[0].at - monitor.process.startedAt;
  const allAddsMs = adds[count - 1].at - monitor.process.startedAt;
  const sent = arrivals.map(({ op, key }) => ({ op, key }));
  const status = await waitForStatus(
    monitor.process,
    monitor.statusPort,
    (status) => status.synced && status.pending === 0,
    10_000,
    "synced",
    50,
  );
  const memory = monitor.process.memory();
  const monitorCpuMs = monitor.process.cpuMs();
  const zooKeeperCpuMs = zooKeeperCpu();
  const receiverCpuMs = receiverCpu();
  const watches = await watchCount(zk);
  const zkRequests = await requestsFromOthers(zk, [driver, loader]);
  const result: ColdSyncResult = {
    services: count,
    endPoints,
    fillMs: round(fillMs, 1),
    firstAddMs: round(firstAddMs, 1),
    allAddsMs: round(allAddsMs, 1),
    perServiceUs: round((allAddsMs * 1000) / count, 1),
    marginalPerServiceUs: round(((allAddsMs - firstAddMs) * 1000) / count, 1),
    monitorCpuMs,
    zooKeeperCpuMs,
    receiverCpuMs,
    cpuPerServiceUs: round((monitorCpuMs * 1000) / count, 1),
    zooKeeperCpuPerReadUs: round((zooKeeperCpuMs * 1000) / count, 1),
    zooKeeperQuietCpuMsPerS,
    peakRssBytes: memory.peak,
    rssBytes: memory.rss,
    heapUsedBytes: status.heapUsedBytes,
    heapTotalBytes: status.heapTotalBytes,
    rssPerServiceBytes: Math.round((memory.peak - idleMonitorRssBytes) / count),
    watches,
    zkRequests,
    httpConnections: receiver.connections,
    requests: receiver.adds + receiver.deletes,
    startupDeletes: receiver.deletes,
    duplicateAdds: receiver.duplicateAdds,
    pushes: receiver.pushes,
  };
  progress(
    `cold sync ${count}: ${Math.round(allAddsMs)} ms, peak RSS ${
      (memory.peak / 1e6).toFixed(1)
    } MB, ${watches} watches${receiver.pushes > 0 ? `, ${receiver.pushes} pushes` : ""}`,
  );
  if (restart) {
    result.restart = await restartCheck(context, monitor, loader, services);
    progress(`restart at ${count}: ${result.restart.survived ? "survived" : "FAILED"}`);
  }
  return { result, sent };
}
