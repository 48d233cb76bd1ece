/**
 * What the proxy should end with: exactly the valid services ZooKeeper holds, one copy each.
 * Shared by the monitor tests; both sides are written as `endPoint/service=host:port`.
 */
import type { ZkSession } from "../src/zookeeper/mod.ts";
import { reserveFreePorts } from "../src/dev/_loopback.ts";
import type { StandInAsabru } from "./stand_in_asabru.ts";
import { assertEquals } from "./assert.ts";
import { waitFor, withTimeout } from "./wait.ts";

const decoder = new TextDecoder();

/** The services under `root` whose data is a plain `host:port`, sorted. */
export async function zkState(session: ZkSession, root = "/cluster1"): Promise<string[]> {
  const out: string[] = [];
  if (!(await session.exists(root))) return out;
  for (const ep of (await session.getChildren(root)).children) {
    for (const svc of (await session.getChildren(`${root}/${ep}`)).children) {
      const data = decoder.decode((await session.getData(`${root}/${ep}/${svc}`)).data);
      if (/^[a-z0-9.-]+:\d{1,5}$/.test(data)) out.push(`${ep}/${svc}=${data}`);
    }
  }
  return out.sort();
}

/** What the stand-in holds, duplicates included, sorted. */
export function proxyState(proxy: StandInAsabru): string[] {
  return [...proxy.snapshot()].flatMap(([ep, entries]) =>
    entries.map((e) => `${ep}/${e.service}=${e.host}:${e.port}`)
  ).sort();
}

/**
 * Waits until the proxy equals ZooKeeper; then no duplicate slot, now or at any moment of the
 * proxy's history (one that a later delete cleaned up is still a bug), and no malformed request.
 * It returns at the first instant the two are equal: when the monitor runs in this process, use
 * {@link settled}, which also waits for its queues to go idle.
 */
export async function converged(
  proxy: StandInAsabru,
  writer: ZkSession,
  what: string,
  ms = 10_000,
): Promise<void> {
  let expected: string[] = [];
  await waitFor(
    async () => {
      expected = await zkState(writer);
      return JSON.stringify(proxyState(proxy)) === JSON.stringify(expected);
    },
    ms,
    `${what}: proxy equals ZooKeeper`,
    50,
  ).catch((error) => {
    throw new Error(`${error.message}\n proxy: ${proxyState(proxy)}\n zk:    ${expected}`);
  });
  assertEquals(proxy.duplicates(), [], `${what}: no duplicates`);
  assertEquals(proxy.everDuplicated(), [], `${what}: no duplicate slot at any moment`);
  assertEquals(proxy.malformed, 0, `${what}: no malformed request`);
}

/**
 * {@link converged}, then waits until every one of `queues` has nothing pending nor in flight
 * (a retry still to go out would otherwise be missed), and checks both again: equal to
 * ZooKeeper, and no duplicate slot in the whole history.
 */
export async function settled(
  proxy: StandInAsabru,
  writer: ZkSession,
  queues: readonly { idle(): Promise<void> }[],
  what: string,
  ms = 10_000,
): Promise<void> {
  await converged(proxy, writer, what, ms);
  await withTimeout(Promise.all(queues.map((queue) => queue.idle())), ms, `${what}: queues idle`);
  await converged(proxy, writer, `${what} (once idle)`, ms);
}

/**
 * A port free on 127.0.0.1 right now, for a child's status server, which binds it a second or so
 * later: picked below the kernel's ephemeral range, so no connection made meanwhile on this
 * machine can be handed it (see {@link reserveFreePorts}).
 */
export function freePort(): number {
  return reserveFreePorts(1)[0];
}
