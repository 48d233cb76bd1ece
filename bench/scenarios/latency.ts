/**
 * Scenario 1, change latency: the monitor runs and is synced; the driver creates one ephemeral
 * service znode from its own session and times until the receiver has the add, then deletes it
 * and times until the receiver has the delete. Times run from just before the driver's request
 * to the receiver's arrival stamp (one clock), so they include ZooKeeper's write itself.
 *
 * @module
 */
import { type BenchContext, progress, startMonitorProcess } from "../context.ts";
import { waitForStatus } from "../processes.ts";
import { roundSummary, summarize, type Summary } from "../stats.ts";
import { connect, createEndPoints, createServices } from "../zk_tree.ts";
import { treeServices } from "../tree_layout.ts";

/** What scenario 1 measured. */
export interface LatencyResult {
  rounds: number;
  warmupRounds: number;
  /** Create request → add at the receiver. */
  add: Summary;
  /** Delete request → delete at the receiver. */
  delete: Summary;
  /** Both together. */
  all: Summary;
  /** ZooKeeper's own answer to the create, for reference (part of `add`). */
  zkCreateAck: Summary;
  /** ZooKeeper's answer to the create → add at the receiver: the monitor's part of `add`. */
  addAfterAck: Summary;
  /**
   * One plain read's round trip from the driver (`getData`, no watch), for reference: after the
   * event, an add costs the monitor two such round trips (list the end point, read the new
   * service) and one HTTP request.
   */
  zkReadRoundTrip: Summary;
  /** Services in the tree besides the one that comes and goes. */
  backgroundServices: number;
  monitorRssBytes: number;
  duplicateAdds: number;
  /** Set when the time budget ended the rounds early. */
  stoppedEarly?: string;
}

const ROOT = "/bench-latency";
const BACKGROUND = 100;
/** The end point the measured service comes and goes under. */
export const LATENCY_END_POINT = "latency";
const END_POINT = LATENCY_END_POINT;
const encoder = new TextEncoder();

/** Runs `rounds` measured rounds after `warmupRounds` unmeasured ones, within `budgetMs`. */
export async function changeLatency(
  context: BenchContext,
  rounds: number,
  warmupRounds: number,
  budgetMs: number,
): Promise<LatencyResult> {
  const { cleanup, receiver } = context;
  const driver = await connect(context.zk);
  await using _driver = cleanup.add("latency driver session", async () => {
    await driver.deleteRecursive(ROOT).catch(() => {});
    await driver.close();
  });
  const background = treeServices(ROOT, BACKGROUND);
  await createEndPoints(driver, ROOT, 1);
  await driver.create(`${ROOT}/${END_POINT}`);
  await createServices(driver, background);

  receiver.reset();
  const monitor = await startMonitorProcess(context, ROOT, "latency");
  await using _monitor = cleanup.add("latency monitor", () => monitor.process.stop());
  await monitor.process.guard(
    receiver.until(() => receiver.adds >= BACKGROUND, 30_000, "the background services"),
  );
  await waitForStatus(
    monitor.process,
    monitor.statusPort,
    (status) => status.synced && status.pending === 0,
    10_000,
    "synced",
  );
  receiver.reset();

  const adds: number[] = [];
  const deletes: number[] = [];
  const acks: number[] = [];
  const afterAcks: number[] = [];
  const reads: number[] = [];
  const deadline = performance.now() + budgetMs;
  let stoppedEarly: string | undefined;
  for (let round = 0; round < warmupRounds + rounds; round++) {
    if (performance.now() > deadline) {
      stoppedEarly = `time budget of ${budgetMs} ms spent after ${adds.length} rounds`;
      break;
    }
    const service = `s${round}`;
    const key = `${END_POINT}/${service}`;
    const path = `${ROOT}/${END_POINT}/${service}`;

    const added = receiver.next("add", key, 5000);
    const createdAt = performance.now();
    await driver.create(path, encoder.encode("ch-latency.bench.local:8123"), {
      mode: "ephemeral",
    });
    const ackAt = performance.now();
    const addArrival = await monitor.process.guard(added);
    const readAt = performance.now();
    await driver.getData(path);
    const readRoundTrip = performance.now() - readAt;

    const deleted = receiver.next("delete", key, 5000);
    const deletedAt = performance.now();
    await driver.delete(path);
    const deleteArrival = await monitor.process.guard(deleted);

    if (round < warmupRounds) continue;
    adds.push(addArrival.at - createdAt);
    acks.push(ackAt - createdAt);
    afterAcks.push(addArrival.at - ackAt);
    reads.push(readRoundTrip);
    deletes.push(deleteArrival.at - deletedAt);
  }
  if (stoppedEarly) progress(`latency: ${stoppedEarly}`);

  const memory = monitor.process.memory();
  return {
    rounds: adds.length,
    warmupRounds,
    add: roundSummary(summarize(adds)),
    delete: roundSummary(summarize(deletes)),
    all: roundSummary(summarize([...adds, ...deletes])),
    zkCreateAck: roundSummary(summarize(acks)),
    addAfterAck: roundSummary(summarize(afterAcks)),
    zkReadRoundTrip: roundSummary(summarize(reads)),
    backgroundServices: BACKGROUND,
    monitorRssBytes: memory.rss,
    duplicateAdds: receiver.duplicateAdds,
    ...(stoppedEarly ? { stoppedEarly } : {}),
  };
}
