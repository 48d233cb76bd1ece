/**
 * What one whole-state push carries, as a pure function over plain data: per end point of the
 * proxy's configuration template, its static services followed by the valid services ZooKeeper
 * holds for it (sorted by name, so the same state always renders the same document).
 *
 * An end point is never pushed with an empty list (the deployed proxy crashes at its next
 * request): when neither the template nor ZooKeeper has a service for it, one service of the last
 * push stays, the first by name ({@link WholeStatePlan.kept}: one, not all, so that as few dead
 * nodes as possible stay in rotation; the same one push after push); when no push ever carried
 * one either, the end point is left out of the document ({@link WholeStatePlan.leftOut}): pushed
 * empty it would crash the proxy at its next data-plane request; left out, the proxy is expected
 * to keep its current list.
 *
 * @example
 * ```ts
 * const plan = planWholeState(template, wanted, lastCarried);
 * const body = renderConfiguration(template, plan.lists);
 * // after the proxy's 200: lastCarried = plan.carried
 * ```
 *
 * @module
 */
import type { ConfigTemplate, ServiceEntry } from "../../asabru/config_template.ts";
import type { Wanted } from "./decide.ts";

/** One push's content. */
export interface WholeStatePlan {
  /** Per end point with at least one service: its list, static services first. */
  lists: Map<string, ServiceEntry[]>;
  /** The ZooKeeper services (by key) the document carries: the wanted ones and the kept ones. */
  carried: Map<string, Wanted>;
  /** End points with nothing wanted whose last pushed service stays, with its key. */
  kept: Map<string, string[]>;
  /** End points with no service anywhere, ever: left out of the pushed document. */
  leftOut: string[];
}

/**
 * Plans a push. `wanted` holds only services that may be sent (valid, their end point in the
 * template, their name not a static one: see `templateRefusal`); `lastCarried` is the
 * {@link WholeStatePlan.carried} of the last push.
 */
export function planWholeState(
  template: ConfigTemplate,
  wanted: ReadonlyMap<string, Wanted>,
  lastCarried: ReadonlyMap<string, Wanted>,
): WholeStatePlan {
  const dynamic = groupByEndPoint(wanted);
  const lastByEndPoint = groupByEndPoint(lastCarried);
  const plan: WholeStatePlan = {
    lists: new Map(),
    carried: new Map(),
    kept: new Map(),
    leftOut: [],
  };
  for (const endPoint of template.endPointNames) {
    const statics = template.staticServices(endPoint);
    let fromZooKeeper = dynamic.get(endPoint) ?? [];
    if (statics.length === 0 && fromZooKeeper.length === 0) {
      const last = lastByEndPoint.get(endPoint) ?? [];
      if (last.length === 0) {
        plan.leftOut.push(endPoint);
        continue;
      }
      last.sort(([, a], [, b]) => compare(a.ref.service, b.ref.service));
      fromZooKeeper = last.slice(0, 1);
      plan.kept.set(endPoint, fromZooKeeper.map(([key]) => key));
    }
    fromZooKeeper.sort(([, a], [, b]) => compare(a.ref.service, b.ref.service));
    for (const [key, service] of fromZooKeeper) plan.carried.set(key, service);
    const list: ServiceEntry[] = [...statics];
    for (const [, { ref }] of fromZooKeeper) {
      list.push({ service: ref.service, host: ref.host, port: ref.port });
    }
    plan.lists.set(endPoint, list);
  }
  return plan;
}

/** Whether two wanted states are the same proxy entry (same znode version, name and address). */
export function sameWanted(a: Wanted | undefined, b: Wanted | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.version === b.version && a.ref.endPoint === b.ref.endPoint &&
    a.ref.service === b.ref.service && a.ref.host === b.ref.host && a.ref.port === b.ref.port;
}

function groupByEndPoint(
  services: ReadonlyMap<string, Wanted>,
): Map<string, Array<[string, Wanted]>> {
  const groups = new Map<string, Array<[string, Wanted]>>();
  for (const entry of services) {
    const endPoint = entry[1].ref.endPoint;
    let group = groups.get(endPoint);
    if (!group) groups.set(endPoint, group = []);
    group.push(entry);
  }
  return groups;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
