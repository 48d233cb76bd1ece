/**
 * Full resyncs of every proxy (SIGHUP, `POST /v1/resync`, `RESYNC_INTERVAL`): each proxy's
 * delivery forgets what it believes the proxy holds and sends everything again. Except where that
 * would do harm: a per-request delivery to a proxy whose delete removes nothing (the deployed
 * kind, which answers in text) would give every service a second slot, so it is skipped, with a
 * warning; restart recovery re-fills such a proxy after a restart instead, and whole-state
 * delivery resyncs it exactly.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { AsabruSender } from "../asabru/sender.ts";
import type { ProxyDelivery } from "./delivery/proxy_delivery.ts";

const log = getLogger(["zkcm", "monitor"]);

/** What a resync request did. */
export interface ResyncResult {
  /** The proxies resynced. */
  resynced: string[];
  /** The proxies skipped: per-request delivery to a proxy whose delete removes nothing. */
  skipped: string[];
}

/** Each proxy's delivery with the sender it sends through (none for the dry run). */
export interface ResyncTarget {
  queue: ProxyDelivery;
  sender?: AsabruSender;
}

/** Whether resyncing this proxy would add a second slot of each service (see the module). */
export function resyncAddsCopies({ queue, sender }: ResyncTarget): boolean {
  return sender?.answersInText === true && queue.delivery === "per request";
}

/** Resyncs every proxy where that does no harm, asked for by `reason`; warns of each skipped. */
export function resyncProxies(targets: readonly ResyncTarget[], reason: string): ResyncResult {
  log.info("full resync of every proxy ({reason})", { reason });
  const result: ResyncResult = { resynced: [], skipped: [] };
  for (const target of targets) {
    const { queue } = target;
    if (resyncAddsCopies(target)) {
      log.warn(
        "{reason} skips {proxy}: its delete removes nothing, so a resync would add a second " +
          "slot of every service; whole-state delivery (ASABRU_CONFIG_TEMPLATE) resyncs it exactly",
        { reason, proxy: queue.proxy },
      );
      result.skipped.push(queue.proxy);
      continue;
    }
    queue.resync(reason);
    result.resynced.push(queue.proxy);
  }
  return result;
}

const warnedOnInterval = new Set<string>();

/**
 * The periodic resync (`RESYNC_INTERVAL`): as {@link resyncProxies}, but a skipped proxy is
 * warned of once per process, not at every interval.
 */
export function resyncOnInterval(targets: readonly ResyncTarget[]): void {
  log.info("full resync of every proxy ({reason})", { reason: "RESYNC_INTERVAL" });
  for (const target of targets) {
    const { queue } = target;
    if (resyncAddsCopies(target)) {
      if (!warnedOnInterval.has(queue.proxy)) {
        warnedOnInterval.add(queue.proxy);
        log.warn(
          "RESYNC_INTERVAL skips {proxy}: its delete removes nothing, so a resync would add a " +
            "second slot of every service (restart recovery re-fills it after a restart)",
          { proxy: queue.proxy },
        );
      }
      continue;
    }
    queue.resync("RESYNC_INTERVAL");
  }
}
