/**
 * Chaos with whole-state delivery (`--whole-state`, on the deployed-mode stand-in only): the
 * proxy's configuration (its static services) and the checker's rules for this mode. Each monitor
 * process logs in as a user of its own (`world.ts`), so the fencing check (`fleet_checks.ts`)
 * knows who sent each push.
 *
 * After the heal the proxy must hold, per end point, the template's static services plus the valid
 * services ZooKeeper holds for it. One exception, stated exactly: an end point with neither (no
 * static service, nothing valid in ZooKeeper) is never pushed empty, so one of its last pushed
 * services may stay (`src/monitor/delivery/whole_state_plan.ts`). There the proxy may hold nothing or ONE
 * service, and only one a monitor warned it keeps (its "has no service left" warning names the
 * end point and the service); anything else under it is a divergence. Such an end point may be
 * left pushed empty (as the template has it) only when a monitor warned it leaves it so.
 *
 * @module
 */
import { asabruConfigXml } from "../testing/asabru_config.ts";
import type { StandInEntry } from "../testing/stand_in_asabru.ts";
import { KNOWN_END_POINTS } from "./world.ts";

/**
 * The template's static services: `ep0` has one, the other end points none (so the "never pushed
 * empty" rule is exercised whenever their clients are all down).
 */
export const STATIC_SERVICES: Readonly<Record<string, readonly StandInEntry[]>> = {
  ep0: [{ service: "static-ep0", host: "127.0.0.1", port: 29000 }],
};

/** The proxy's `config.xml`: the stand-in starts with it, the monitors push it as the template. */
export function chaosConfigXml(): string {
  return asabruConfigXml(
    Object.fromEntries(KNOWN_END_POINTS.map((name) => [name, STATIC_SERVICES[name] ?? []])),
  );
}

/** `endPoint/service=host:port` of every static service. */
export function staticItems(): string[] {
  return Object.entries(STATIC_SERVICES).flatMap(([endPoint, entries]) =>
    entries.map((entry) => `${endPoint}/${entry.service}=${entry.host}:${entry.port}`)
  );
}

/** What the monitors warned about end points with no service (from their JSON log lines). */
export interface EmptyEndPointWarnings {
  /** end point → the `endPoint/service` keys a monitor said stay. */
  kept: Map<string, Set<string>>;
  /** End points a monitor said it leaves as the template has them. */
  leftAsTemplate: Set<string>;
}

/** Collects the warnings of `whole_state_pusher.ts` about end points with no service. */
export function emptyEndPointWarnings(lines: readonly string[]): EmptyEndPointWarnings {
  const warnings: EmptyEndPointWarnings = { kept: new Map(), leftAsTemplate: new Set() };
  for (const line of lines) {
    const kept = line.includes("has no service left");
    if (!kept && !line.includes("left as the template has it")) continue;
    let record: { endPoint?: unknown; services?: unknown };
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof record.endPoint !== "string") continue;
    if (!kept) {
      warnings.leftAsTemplate.add(record.endPoint);
      continue;
    }
    const keys = warnings.kept.get(record.endPoint) ?? new Set<string>();
    if (Array.isArray(record.services)) {
      for (const key of record.services) keys.add(String(key));
    }
    warnings.kept.set(record.endPoint, keys);
  }
  return warnings;
}

/** Whether an end point may be pushed empty: none static, and a monitor said it leaves it so. */
export function mayBeEmpty(endPoint: string, warnings: EmptyEndPointWarnings): boolean {
  return (STATIC_SERVICES[endPoint] ?? []).length === 0 && warnings.leftAsTemplate.has(endPoint);
}

/**
 * Whether the proxy's slots (`held`) equal what whole-state delivery must leave: `expected` (the
 * valid ZooKeeper services under known end points) plus the static ones, per end point; under an
 * end point with neither, nothing or one service a monitor warned it keeps.
 *
 * @returns `undefined` when equal, else the first difference found
 */
export function wholeStateDifference(
  expected: readonly string[],
  held: readonly string[],
  warnings: EmptyEndPointWarnings,
): string | undefined {
  const want = byEndPoint([...expected, ...staticItems()]);
  const got = byEndPoint(held);
  for (const endPoint of got.keys()) {
    if (!(KNOWN_END_POINTS as readonly string[]).includes(endPoint)) {
      return `the proxy holds ${got.get(endPoint)} under unknown end point ${endPoint}`;
    }
  }
  for (const endPoint of KNOWN_END_POINTS) {
    const wanted = (want.get(endPoint) ?? []).sort();
    const holds = (got.get(endPoint) ?? []).sort();
    if (wanted.length === 0) {
      if (holds.length === 0) continue;
      const key = holds[0].slice(0, holds[0].lastIndexOf("="));
      const warned = warnings.kept.get(endPoint)?.has(key) ?? false;
      if (holds.length === 1 && warned) continue;
      return `${endPoint} has no service, yet the proxy holds ${holds}` +
        (holds.length === 1 ? " that no monitor warned it keeps" : "");
    }
    if (wanted.length !== holds.length || wanted.some((item, i) => item !== holds[i])) {
      return `${endPoint}: ZooKeeper and the template want [${wanted}], the proxy holds [${holds}]`;
    }
  }
  return undefined;
}

function byEndPoint(items: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const item of items) {
    const endPoint = item.slice(0, item.indexOf("/"));
    groups.set(endPoint, [...(groups.get(endPoint) ?? []), item]);
  }
  return groups;
}
