/**
 * Filling and reading the benchmark's ZooKeeper trees: `root → epNNN → svcNNNNNN` with 100
 * services per end point, created by pipelined requests from the driver (a bounded window in
 * flight), and what the server itself says (`wchs`, `cons`).
 *
 * @module
 */
import { type LocalZooKeeper, ZkSession } from "../mod.ts";
import { endPointName, type TreeService } from "./tree_layout.ts";

const encoder = new TextEncoder();

/** Requests the driver keeps in flight when it fills a tree. */
const PIPELINE_WINDOW = 1000;
/** Creates per `multi` transaction. */
const MULTI_BATCH = 100;

/** Session timeout of the driver's sessions: long enough to survive a ZooKeeper restart. */
export const DRIVER_SESSION_TIMEOUT_MS = 30_000;

/** Opens a driver session and waits until it is connected. */
export async function connect(zk: LocalZooKeeper): Promise<ZkSession> {
  const session = ZkSession.open({
    connectionString: zk.connectionString,
    sessionTimeoutMs: DRIVER_SESSION_TIMEOUT_MS,
    requestTimeoutMs: 60_000,
  });
  await session.waitUntilConnected({ timeoutMs: 15_000 });
  return session;
}

/** Creates `root` and its end points (persistent, empty), pipelined. */
export async function createEndPoints(
  session: ZkSession,
  root: string,
  endPoints: number,
): Promise<void> {
  await session.ensurePath(root);
  await pipelined(
    endPoints,
    (index) => session.create(`${root}/${endPointName(index)}`).then(() => {}),
  );
}

/**
 * Creates the services as ephemeral znodes of `session`, "at once": one `multi` transaction per
 * end point (its 100 services), every transaction pipelined, so the driver's own client is not
 * what a burst measures. Resolves with the milliseconds until ZooKeeper acknowledged the last one.
 */
export async function createServices(
  session: ZkSession,
  services: readonly TreeService[],
): Promise<number> {
  const started = performance.now();
  const batches: TreeService[][] = [];
  for (const service of services) {
    const last = batches[batches.length - 1];
    if (last && last.length < MULTI_BATCH && last[0].endPoint === service.endPoint) {
      last.push(service);
    } else {
      batches.push([service]);
    }
  }
  await pipelined(
    batches.length,
    (index) =>
      session.multi(batches[index].map((service) => ({
        op: "create" as const,
        path: service.path,
        data: encoder.encode(service.data),
        mode: "ephemeral" as const,
      }))),
  );
  return performance.now() - started;
}

/** Runs `count` requests with at most {@link PIPELINE_WINDOW} in flight. */
async function pipelined(count: number, request: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await request(next++);
  };
  await Promise.all(Array.from({ length: Math.min(PIPELINE_WINDOW, count) }, worker));
}

/** Removes `root` and everything below it (a best effort: used in clean-up). */
export async function removeTree(session: ZkSession, root: string): Promise<void> {
  await session.deleteRecursive(root);
}

/** Total watches the server holds (`wchs`: `Total watches:N`). */
export async function watchCount(zk: LocalZooKeeper): Promise<number> {
  const answer = await zk.fourLetterWord("wchs", 5000);
  const match = /Total watches:\s*(\d+)/.exec(answer);
  if (!match) throw new Error(`unexpected wchs answer: ${answer}`);
  return Number(match[1]);
}

/** One client connection as `cons` lists it. */
export interface ServerConnection {
  sessionId: bigint;
  /** Requests received on this connection. */
  received: number;
  sent: number;
}

/** The server's client connections (`cons`), those with a session only. */
export async function serverConnections(zk: LocalZooKeeper): Promise<ServerConnection[]> {
  const answer = await zk.fourLetterWord("cons", 5000);
  const connections: ServerConnection[] = [];
  for (const line of answer.split("\n")) {
    const sid = /sid=0x([0-9a-f]+)/.exec(line);
    const received = /recved=(\d+)/.exec(line);
    const sent = /sent=(\d+)/.exec(line);
    if (!sid || !received || !sent) continue;
    connections.push({
      sessionId: BigInt(`0x${sid[1]}`),
      received: Number(received[1]),
      sent: Number(sent[1]),
    });
  }
  return connections;
}

/**
 * Requests received from every connection whose session is not one of the driver's: the
 * monitor's, when it is the only other client.
 */
export async function requestsFromOthers(
  zk: LocalZooKeeper,
  driverSessions: readonly ZkSession[],
): Promise<number> {
  const ours = new Set(driverSessions.map((session) => session.sessionId));
  return (await serverConnections(zk))
    .filter((connection) => !ours.has(connection.sessionId))
    .reduce((sum, connection) => sum + connection.received, 0);
}
