/**
 * When the monitor is ready (`GET /readyz`): its mirror has read the whole tree, no proxy answers
 * as something other than the update route, no change has waited longer than `READY_MAX_PENDING`,
 * and none of the problems the other parts report (the chroot, the election, a refused login)
 * holds. A standby passes no queues: it delivers nothing by design.
 *
 * @module
 */
import type { ProxyDelivery } from "./delivery/proxy_delivery.ts";

/** Whether the monitor is ready, and why not. */
export function monitorReadiness(
  mirror: { readonly synced: boolean },
  queues: readonly ProxyDelivery[],
  maxPendingMs: number,
  problems: (string | undefined)[],
): { ready: boolean; reasons: string[] } {
  const reasons = problems.filter((problem) => problem !== undefined);
  if (!mirror.synced) reasons.push("mirror not synced with ZooKeeper");
  for (const queue of queues) {
    if (queue.misconfiguration !== undefined) {
      reasons.push(`${queue.proxy} answers ${queue.misconfiguration}: check ASABRU_API_URL`);
    }
    const waited = queue.oldestPendingMs();
    if (waited > maxPendingMs) {
      reasons.push(`${queue.proxy}: a change has waited ${Math.round(waited / 1000)} s`);
    }
  }
  return { ready: reasons.length === 0, reasons };
}
