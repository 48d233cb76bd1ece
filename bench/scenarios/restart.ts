/**
 * Part of scenario 5: does a synced monitor survive a ZooKeeper restart? The server is killed
 * (SIGKILL, like a crash) and restarted on the same port and data within the session timeout.
 * Afterwards the receiver must have seen no delete (and no add: adds are not idempotent), the
 * server must hold the same watches, and a change made after the restart must still arrive.
 *
 * @module
 */
import { type BenchContext, type RunningMonitor, sleep } from "../context.ts";
import { waitForStatus } from "../processes.ts";
import { round } from "../stats.ts";
import type { TreeService } from "../tree_layout.ts";
import type { ZkSession } from "../../mod.ts";
import { watchCount } from "../zk_tree.ts";

/** What the restart check saw. */
export interface RestartResult {
  /** Kill → the restarted server serves again. */
  serverDownMs: number;
  /** The server serves again → the monitor is synced again with nothing pending. */
  resyncMs: number;
  /** Deletes the receiver got because of the restart (must be 0). */
  spuriousDeletes: number;
  /** Adds the receiver got because of the restart (must be 0: a repeated add is a duplicate). */
  spuriousAdds: number;
  watchesBefore: number;
  watchesAfter: number;
  /** A service created after the restart: create → add at the receiver. */
  addAfterMs: number;
  /** Its delete → delete at the receiver. */
  deleteAfterMs: number;
  survived: boolean;
  /** Why it did not survive. */
  failure?: string;
}

const encoder = new TextEncoder();

/** Kills and restarts ZooKeeper under a synced monitor; see the module documentation. */
export async function restartCheck(
  context: BenchContext,
  monitor: RunningMonitor,
  loader: ZkSession,
  services: readonly TreeService[],
): Promise<RestartResult> {
  const { zk, receiver } = context;
  const { process, statusPort } = monitor;
  const addsBefore = receiver.adds;
  const deletesBefore = receiver.deletes;
  const watchesBefore = await watchCount(zk);

  const killedAt = performance.now();
  await zk.kill();
  await waitForStatus(process, statusPort, (s) => !s.synced, 10_000, "it notices", 20);
  await zk.restart();
  const servingAt = performance.now();
  await waitForStatus(
    process,
    statusPort,
    (s) => s.synced && s.pending === 0,
    120_000,
    "resynced after the restart",
    50,
  );
  const resyncedAt = performance.now();
  await loader.waitUntilConnected({ timeoutMs: 30_000 });
  // The resync is over; a spurious delete or add would be on its way by now.
  await sleep(1000);
  const spuriousDeletes = receiver.deletes - deletesBefore;
  const spuriousAdds = receiver.adds - addsBefore;
  const watchesAfter = await watchCount(zk);

  const endPoint = services[0].endPoint;
  const path = `${services[0].path.slice(0, services[0].path.lastIndexOf("/"))}/after-restart`;
  const key = `${endPoint}/after-restart`;
  let addAfterMs = NaN;
  let deleteAfterMs = NaN;
  let failure: string | undefined;
  try {
    const added = receiver.next("add", key, 10_000);
    const createdAt = performance.now();
    await loader.create(path, encoder.encode("ch-after.bench.local:8123"), { mode: "ephemeral" });
    addAfterMs = (await process.guard(added)).at - createdAt;
    const deleted = receiver.next("delete", key, 10_000);
    const deletedAt = performance.now();
    await loader.delete(path);
    deleteAfterMs = (await process.guard(deleted)).at - deletedAt;
  } catch (error) {
    failure = `a change after the restart did not arrive: ${error}`;
  }
  if (spuriousDeletes > 0) failure ??= `${spuriousDeletes} deletes reached the receiver`;
  if (spuriousAdds > 0) failure ??= `${spuriousAdds} adds reached the receiver`;
  if (watchesAfter !== watchesBefore) {
    failure ??= `ZooKeeper holds ${watchesAfter} watches after, ${watchesBefore} before`;
  }

  return {
    serverDownMs: round(servingAt - killedAt, 1),
    resyncMs: round(resyncedAt - servingAt, 1),
    spuriousDeletes,
    spuriousAdds,
    watchesBefore,
    watchesAfter,
    addAfterMs: round(addAfterMs),
    deleteAfterMs: round(deleteAfterMs),
    survived: failure === undefined,
    ...(failure ? { failure } : {}),
  };
}
