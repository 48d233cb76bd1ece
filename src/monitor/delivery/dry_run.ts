/**
 * The monitor without a proxy (`ASABRU_API_URL` unset): every operation is logged as what would
 * have been sent, and succeeds, through the same queue or pusher a proxy would get.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ServiceRef } from "../../asabru/wire.ts";
import type { ConfigTemplate } from "../../asabru/config_template.ts";
import type { DecisionJournal } from "../journal.ts";
import type { ProxyDelivery } from "./proxy_delivery.ts";
import { ProxyQueue } from "./proxy_queue.ts";
import type { WholeStatePusher } from "./whole_state_pusher.ts";

/** The name the dry-run "proxy" goes by in logs, metrics and `/v1/services`. */
export const DRY_RUN = "dry-run";

/** Options of {@link dryRunDelivery}. */
export interface DryRunOptions {
  /**
   * With a template (and the pusher's class, imported only then), whole configurations are
   * logged; without, one line per operation.
   */
  wholeState?: { template: ConfigTemplate; Pusher: typeof WholeStatePusher };
  concurrency?: number;
  mayDeliver: () => boolean;
  onDecision: (decision: Parameters<DecisionJournal["record"]>[0]) => void;
  /** A change is as delivered as it gets, `ms` after it was seen. */
  onConverged: (key: string, ms: number) => void;
}

/** A delivery that logs instead of sending. */
export function dryRunDelivery(options: DryRunOptions): ProxyDelivery {
  const dryLog = getLogger(["zkcm", "dry-run"]);
  const { mayDeliver, onDecision, onConverged } = options;
  if (options.wholeState) {
    return new options.wholeState.Pusher({
      proxy: DRY_RUN,
      template: options.wholeState.template,
      push: (document) => {
        dryLog.info("would push a configuration of {bytes} characters", {
          bytes: document.length,
        });
        dryLog.debug("{document}", { document });
        return Promise.resolve({ kind: "ok", ms: 0 });
      },
      mayDeliver,
      onDecision,
      onConverged,
    });
  }
  return new ProxyQueue({
    proxy: DRY_RUN,
    send: (op: "add" | "delete", ref: ServiceRef) => {
      dryLog.info(`would send ${op} {service} ({host}:{port}) to end point {endPoint}`, { ...ref });
      return Promise.resolve({ kind: "ok", ms: 0 });
    },
    concurrency: options.concurrency,
    mayDeliver,
    onDecision,
    onConverged,
  });
}
