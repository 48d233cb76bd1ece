/**
 * The chaos run's checker: what ZooKeeper says the proxy should hold, what the stand-in proxy
 * holds, and the difference, both as multisets of `endPoint/service=host:port`.
 *
 * Validity is defined here, independently of the monitor's own code (a checker that reused it
 * would share its bugs): a service is valid when its data is UTF-8 `host:port`, the host a
 * hostname of RFC 1123 labels (underscores allowed, last label not all digits) or a dotted-quad
 * IPv4 address, the port 1–65535 in plain decimal. The schedule only ever writes data that is
 * clearly on one side of that line.
 *
 * @module
 */
import { childPath, ZkNoNodeError, type ZkSession } from "../src/zookeeper/mod.ts";
import type { StandInAsabru } from "../testing/stand_in_asabru.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Longer data cannot be `host:port` (a hostname has at most 253 characters): it is counted as
 * invalid without being read, so polling a tree with 1 MB znodes stays cheap.
 */
export const MAX_HOST_PORT_BYTES = 253 + 1 + 5;

/** `host:port` by the rules of the module documentation, or `undefined`. */
export function validHostPort(data: Uint8Array): string | undefined {
  if (data.length === 0 || data.length > MAX_HOST_PORT_BYTES) return undefined;
  let text: string;
  try {
    text = strictUtf8.decode(data);
  } catch {
    return undefined;
  }
  const match = /^([^:]+):([1-9][0-9]{0,4})$/.exec(text);
  if (!match || Number(match[2]) > 65535) return undefined;
  const host = match[1];
  const ipv4 = host.split(".");
  if (/^[0-9.]+$/.test(host)) {
    const ok = ipv4.length === 4 &&
      ipv4.every((octet) => /^(0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255);
    return ok ? text : undefined;
  }
  if (host.length > 253) return undefined;
  const labelsOk = ipv4.every((label) =>
    /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label)
  );
  if (!labelsOk || /^[0-9]+$/.test(ipv4[ipv4.length - 1])) return undefined;
  return text;
}

/** What ZooKeeper holds under the root. */
export interface ZooKeeperView {
  /** `endPoint/service=host:port` of every valid service under an end point the proxy knows. */
  expected: string[];
  /** Services whose data is not valid. */
  invalid: number;
  /** Valid services under an end point the proxy does not know (it refuses them). */
  unknownEndPoint: number;
}

/**
 * Reads the tree `root → end points → services`. A node that vanishes while being read is simply
 * absent (the caller polls until the view is stable).
 *
 * @param knownEndPoints the end points the proxy's configuration knows; `undefined`: all
 */
export async function readZooKeeper(
  session: ZkSession,
  root: string,
  knownEndPoints: ReadonlySet<string> | undefined,
): Promise<ZooKeeperView> {
  const view: ZooKeeperView = { expected: [], invalid: 0, unknownEndPoint: 0 };
  const endPoints = await childrenOf(session, root);
  for (const endPoint of endPoints) {
    const endPointPath = childPath(root, endPoint);
    for (const service of await childrenOf(session, endPointPath)) {
      const path = childPath(endPointPath, service);
      const hostPort = await readHostPort(session, path);
      if (hostPort === null) continue; // gone meanwhile
      if (hostPort === undefined) view.invalid++;
      else if (knownEndPoints && !knownEndPoints.has(endPoint)) view.unknownEndPoint++;
      else view.expected.push(`${endPoint}/${service}=${hostPort}`);
    }
  }
  view.expected.sort();
  return view;
}

async function childrenOf(session: ZkSession, path: string): Promise<string[]> {
  try {
    return (await session.getChildren(path)).children;
  } catch (error) {
    if (error instanceof ZkNoNodeError) return [];
    throw error;
  }
}

/** The valid `host:port`, `undefined` when invalid, `null` when the node is gone. */
async function readHostPort(
  session: ZkSession,
  path: string,
): Promise<string | undefined | null> {
  try {
    const stat = await session.exists(path);
    if (!stat) return null;
    if (stat.dataLength > MAX_HOST_PORT_BYTES) return undefined;
    return validHostPort((await session.getData(path)).data);
  } catch (error) {
    if (error instanceof ZkNoNodeError) return null;
    throw error;
  }
}

/** Every slot of the stand-in's balancer lists as `endPoint/service=host:port`, sorted. */
export function proxyHolds(standIn: StandInAsabru): string[] {
  return [...standIn.snapshot()].flatMap(([endPoint, entries]) =>
    entries.map((entry) => `${endPoint}/${entry.service}=${entry.host}:${entry.port}`)
  ).sort();
}

/** The multiset difference: what the proxy lacks and what it holds too much (or too often). */
export function difference(
  expected: readonly string[],
  actual: readonly string[],
): { missing: string[]; extra: string[] } {
  const left = new Map<string, number>();
  for (const item of expected) left.set(item, (left.get(item) ?? 0) + 1);
  const extra: string[] = [];
  for (const item of actual) {
    const count = left.get(item) ?? 0;
    if (count > 0) left.set(item, count - 1);
    else extra.push(item);
  }
  const missing = [...left].flatMap(([item, count]) => Array<string>(count).fill(item));
  return { missing: missing.sort(), extra: extra.sort() };
}

/** `endPoint/service` of an `endPoint/service=host:port` item. */
export function keyOf(item: string): string {
  const at = item.lastIndexOf("=");
  return at === -1 ? item : item.slice(0, at);
}
