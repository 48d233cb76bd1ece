/**
 * Scenario 4, client registration: a monitor watches a root that does not exist yet; the client
 * starts as a process with a nodes.json of `n` leaves (100 per end point, parents listed too, as
 * users write it). Measured from just before the spawn: until ZooKeeper holds every leaf (the
 * driver counts children every 10 ms) and until the receiver has every add. Then SIGTERM to the
 * client: until the receiver has the first and the last delete. Last, a client with a single
 * leaf, a few times: SIGTERM → that leaf's delete at the receiver.
 *
 * @module
 */
import {
  type BenchContext,
  progress,
  sleep,
  startClientProcess,
  startMonitorProcess,
  withTimeout,
} from "../context.ts";
import { waitForStatus } from "../processes.ts";
import { median, round } from "../stats.ts";
import { endPointCount, endPointName, treeServices } from "../tree_layout.ts";
import { connect } from "../zk_tree.ts";
import type { ZkSession } from "../../mod.ts";

/** What scenario 4 measured. */
export interface ClientResult {
  leaves: number;
  /** Spawn → the first add at the receiver (process start, session, parents, first leaf). */
  firstAddMs: number;
  /** Spawn → ZooKeeper holds every leaf (polled every 10 ms). */
  registeredInZkMs: number;
  /** Spawn → the receiver has every add. */
  allAddsMs: number;
  /** SIGTERM → the first delete at the receiver. */
  sigtermFirstDeleteMs: number;
  /** SIGTERM → the receiver has every delete. */
  sigtermAllDeletesMs: number;
  /** SIGTERM → the client process has exited. */
  sigtermExitMs: number;
  /** One leaf: SIGTERM → its delete at the receiver, per round. */
  singleLeafSigtermMs: number[];
  singleLeafSigtermMedianMs: number;
  duplicateAdds: number;
}

const ROOT = "/bench-client";

/** Runs scenario 4 with `leaves` leaves and `singleRounds` single-leaf rounds. */
export async function clientRegistration(
  context: BenchContext,
  leaves: number,
  singleRounds: number,
): Promise<ClientResult> {
  const { cleanup, receiver, zk, tmpDir } = context;
  const services = treeServices(ROOT, leaves);
  const endPoints = endPointCount(leaves);
  const nodes: Record<string, string> = { [ROOT]: "" };
  for (let index = 0; index < endPoints; index++) nodes[`${ROOT}/${endPointName(index)}`] = "";
  for (const service of services) nodes[service.path] = service.data;
  const nodesFile = `${tmpDir}/nodes-${leaves}.json`;
  await Deno.writeTextFile(nodesFile, JSON.stringify(nodes, null, 2));

  const driver = await connect(zk);
  await using _driver = cleanup.add("client scenario driver session", async () => {
    await driver.deleteRecursive(ROOT).catch(() => {});
    await driver.close();
  });
  const monitor = await startMonitorProcess(context, ROOT, "client");
  await using _monitor = cleanup.add("client scenario monitor", () => monitor.process.stop());
  await waitForStatus(monitor.process, monitor.statusPort, (s) => s.synced, 15_000, "synced");

  receiver.reset();
  const timeoutMs = 30_000 + leaves * 5;
  const client = await startClientProcess(context, nodesFile, `${leaves} leaves`);
  await using _client = cleanup.add("client process", () => client.stop());
  const registeredInZkMs = await client.guard(
    pollRegistered(driver, endPoints, leaves, client.startedAt, timeoutMs),
  );
  await client.guard(
    monitor.process.guard(receiver.until(() => receiver.adds >= leaves, timeoutMs, "all adds")),
  );
  const firstAddMs = receiver.arrivals[0].at - client.startedAt;
  const allAddsMs = receiver.arrivals[leaves - 1].at - client.startedAt;
  const duplicateAdds = receiver.duplicateAdds;

  const sigtermAt = performance.now();
  client.kill("SIGTERM");
  await monitor.process.guard(
    receiver.until(() => receiver.deletes >= leaves, timeoutMs, "all deletes"),
  );
  const deletes = receiver.arrivals.filter((arrival) => arrival.op === "delete");
  const sigtermFirstDeleteMs = deletes[0].at - sigtermAt;
  const sigtermAllDeletesMs = deletes[deletes.length - 1].at - sigtermAt;
  await withTimeout(client.status, 15_000, "the client exits after SIGTERM");
  const sigtermExitMs = performance.now() - sigtermAt;
  progress(
    `client ${leaves}: all adds ${Math.round(allAddsMs)} ms, SIGTERM → all deletes ${
      Math.round(sigtermAllDeletesMs)
    } ms`,
  );

  const singleLeafSigtermMs: number[] = [];
  for (let round = 0; round < singleRounds; round++) {
    singleLeafSigtermMs.push(await singleLeaf(context, monitor.process, round));
  }
  return {
    leaves,
    firstAddMs: round(firstAddMs, 1),
    registeredInZkMs: round(registeredInZkMs, 1),
    allAddsMs: round(allAddsMs, 1),
    sigtermFirstDeleteMs: round(sigtermFirstDeleteMs),
    sigtermAllDeletesMs: round(sigtermAllDeletesMs, 1),
    sigtermExitMs: round(sigtermExitMs, 1),
    singleLeafSigtermMs: singleLeafSigtermMs.map((value) => round(value)),
    singleLeafSigtermMedianMs: round(median(singleLeafSigtermMs)),
    duplicateAdds,
  };
}

/** Polls the end points' child counts every 10 ms; resolves with spawn → all registered. */
async function pollRegistered(
  driver: ZkSession,
  endPoints: number,
  leaves: number,
  startedAt: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(
      Array.from(
        { length: endPoints },
        (_, index) =>
          driver.exists(`${ROOT}/${endPointName(index)}`).then((stat) => stat?.numChildren ?? 0),
      ),
    );
    const now = performance.now();
    if (counts.reduce((sum, count) => sum + count, 0) >= leaves) return now - startedAt;
    if (now > deadline) throw new Error(`the client registered fewer than ${leaves} leaves`);
    await sleep(10);
  }
}

/** One client with one leaf: registered, then SIGTERM → its delete at the receiver. */
/** The end point of the single-leaf rounds. */
export const SINGLE_LEAF_END_POINT = "single";

async function singleLeaf(
  context: BenchContext,
  monitor: Parameters<typeof waitForStatus>[0],
  round: number,
): Promise<number> {
  const { receiver, cleanup, tmpDir } = context;
  const path = `${ROOT}/${SINGLE_LEAF_END_POINT}/leaf-${round}`;
  const key = `${SINGLE_LEAF_END_POINT}/leaf-${round}`;
  const nodesFile = `${tmpDir}/nodes-single-${round}.json`;
  await Deno.writeTextFile(
    nodesFile,
    JSON.stringify({
      [`${ROOT}/${SINGLE_LEAF_END_POINT}`]: "",
      [path]: "ch-single.bench.local:8123",
    }),
  );
  const added = receiver.next("add", key, 20_000);
  const client = await startClientProcess(context, nodesFile, `single leaf ${round}`);
  await using _client = cleanup.add("single-leaf client", () => client.stop());
  await client.guard(monitor.guard(added));
  const deleted = receiver.next("delete", key, 20_000);
  const sigtermAt = performance.now();
  client.kill("SIGTERM");
  const arrival = await monitor.guard(deleted);
  await withTimeout(client.status, 15_000, "the single-leaf client exits");
  return arrival.at - sigtermAt;
}
