/**
 * The delivery queue's one decision, as a pure function: given what the mirror wants and what a
 * proxy has acknowledged, which operation (if any) comes next for one service.
 *
 * The proxy's `add` appends without looking for an existing entry, so an add is sent only when the
 * proxy is known to hold nothing for the service; after an uncertain outcome (timeout, reset) the
 * proxy may hold zero, one or two copies, so a `delete` (idempotent: removes every copy) comes
 * first.
 *
 * @module
 */
import type { ServiceRef } from "../../asabru/wire.ts";

/** What the mirror wants the proxy to hold for one service. */
export interface Wanted {
  ref: ServiceRef;
  /** The znode's czxid: a delete and re-create makes the proxy re-add the service. */
  version: bigint;
}

/** One service's delivery state towards one proxy. */
export interface DeliveryState {
  /** Absent: the service should not be in the proxy. */
  wanted?: Wanted;
  /** What the proxy acknowledged holding (exactly one copy); absent: nothing. */
  acknowledged?: Wanted;
  /**
   * Set after an outcome we could not know (the ref that was sent): the proxy may hold any number
   * of copies of the service.
   */
  uncertain?: ServiceRef;
}

/** The next operation for a service, or `undefined` when the proxy already matches. */
export type NextOperation = { op: "add" | "delete"; ref: ServiceRef } | undefined;

/**
 * Decides the next operation; see the module doc. With `deletesRemove: false` (the deployed
 * proxy, whose `delete` removes nothing), no delete is sent that only prepares an add: it cannot
 * help, so an uncertain service is simply added when it is not known to be held. A service that
 * is no longer wanted still gets its delete: it is what was asked, and it works on a proxy whose
 * delete is fixed.
 */
export function nextOperation(
  state: DeliveryState,
  options: { deletesRemove?: boolean } = {},
): NextOperation {
  const { wanted, acknowledged } = state;
  if (options.deletesRemove === false) {
    if (wanted && !(acknowledged && sameEntry(wanted, acknowledged))) {
      return { op: "add", ref: wanted.ref };
    }
    if (acknowledged && !wanted) return { op: "delete", ref: acknowledged.ref };
    return undefined;
  }
  if (state.uncertain) return { op: "delete", ref: state.uncertain };
  if (acknowledged && !(wanted && sameEntry(wanted, acknowledged))) {
    return { op: "delete", ref: acknowledged.ref };
  }
  if (wanted && !acknowledged) return { op: "add", ref: wanted.ref };
  return undefined;
}

/** Whether the proxy's view of this service equals the wanted one. */
export function converged(
  state: DeliveryState,
  options: { deletesRemove?: boolean } = {},
): boolean {
  return nextOperation(state, options) === undefined;
}

function sameEntry(a: Wanted, b: Wanted): boolean {
  return a.version === b.version && a.ref.endPoint === b.ref.endPoint &&
    a.ref.service === b.ref.service && a.ref.host === b.ref.host && a.ref.port === b.ref.port;
}
