/**
 * Where a cold sync's memory goes: runs the monitor in this process against a real ZooKeeper
 * holding `N` services and the benchmark's receiver, with V8's sampling heap profiler on (through
 * `node:inspector`), until the receiver has every add. Prints the bytes allocated per service (the
 * garbage included), the live heap before and after (each after a full GC), and the allocation
 * sites that allocated most, with two callers each.
 *
 * ```sh
 * deno run -A bench/allocations.ts 5000
 * ```
 *
 * The receiver runs in this process too: its own sites (`bench/receiver.ts`) are listed, and are
 * not the monitor's.
 *
 * @module
 */
import inspector from "node:inspector";
import { printLines } from "../src/shared/process.ts";
import { monitorOptions, parseOptions, startMonitor } from "../mod.ts";
import { LocalZooKeeper } from "../src/dev/local_zookeeper.ts";
import { BenchReceiver } from "./receiver.ts";
import { connect, createEndPoints, createServices } from "./zk_tree.ts";
import { endPointCount, treeServices } from "./tree_layout.ts";

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const services = Number(Deno.args[0] ?? 5000);
if (!Number.isInteger(services) || services < 1 || services > 100_000) {
  printLines(Deno.stderr, ["usage: deno run -A bench/allocations.ts [services, 1-100000]"]);
  Deno.exit(2);
}

const session = new inspector.Session();
session.connect();
const post = <T>(method: string, params: Record<string, unknown> = {}) =>
  new Promise<T>((resolve, reject) =>
    session.post(method, params, (error: Error | null, result: unknown) => {
      if (error) reject(error);
      else resolve(result as T);
    })
  );
const liveHeapMb = async () => {
  await post("HeapProfiler.collectGarbage");
  return Deno.memoryUsage().heapUsed / 1048576;
};

await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
await using receiver = await BenchReceiver.start();
await using driver = await connect(zk);
await createEndPoints(driver, "/cluster1", endPointCount(services));
await createServices(driver, treeServices("/cluster1", services));
const parsed = parseOptions(
  monitorOptions,
  ["--zk-host", zk.connectionString, "--asabru-url", receiver.url],
  new Map(),
);
if (!parsed.ok || parsed.help) throw new Error("the monitor's options did not parse");

await post("HeapProfiler.enable");
const liveBefore = await liveHeapMb();
await post("HeapProfiler.startSampling", {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const app = await startMonitor({
  ...parsed.value,
  configTemplate: undefined,
  rootNode: "/cluster1",
});
try {
  await receiver.until(() => receiver.adds >= services, 120_000, "every add");
} finally {
  const { profile } = await post<{ profile: { head: ProfileNode } }>("HeapProfiler.stopSampling");
  const liveAfter = await liveHeapMb();
  await app.shutdown();
  session.disconnect();
  report(profile.head, liveBefore, liveAfter);
}

function report(head: ProfileNode, liveBefore: number, liveAfter: number): void {
  const bySite = new Map<string, number>();
  let total = 0;
  const name = (node: ProfileNode) => {
    const frame = node.callFrame;
    const file = frame.url.split("/").slice(-2).join("/");
    return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
  };
  const walk = (node: ProfileNode, callers: string[]) => {
    const site = name(node);
    total += node.selfSize;
    const key = [site, ...callers.slice(-2).reverse()].join(" <- ");
    bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, [...callers, site]);
  };
  walk(head, []);
  const mb = (bytes: number) => (bytes / 1048576).toFixed(2);
  const lines = [
    `${services} services: ${mb(total)} MB allocated while syncing ` +
    `(${(total / services / 1024).toFixed(1)} KB per service, garbage included); ` +
    `live heap after a full GC ${liveBefore.toFixed(1)} → ${liveAfter.toFixed(1)} MB ` +
    `(${((liveAfter - liveBefore) * 1048576 / services / 1024).toFixed(1)} KB per service, ` +
    "the receiver's records included)",
    "MB allocated  site <- caller <- caller's caller",
  ];
  const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 30);
  for (const [site, bytes] of top) lines.push(`${mb(bytes).padStart(12)}  ${site}`);
  printLines(Deno.stdout, lines);
}
