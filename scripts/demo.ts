/**
 * `deno task demo`: the whole chain on one machine, with nothing to set up. It starts a throwaway
 * ZooKeeper, a receiver that prints what the Asabru proxy would receive, the monitor, and the
 * client with examples/nodes.json; shows the service being added, stops the client and shows it
 * being deleted. Then the same against a stand-in for the proxy as it is deployed (whose
 * /updateService delete removes nothing), with whole-state delivery (ASABRU_CONFIG_TEMPLATE =
 * examples/asabru-config.xml): the removal takes effect in the proxy's round-robin table. Then it
 * stops everything. Ctrl-C at any point stops everything too, and nothing is left running or on
 * disk.
 */
import { LocalZooKeeper } from "../src/dev/local_zookeeper.ts";
// The stand-in proxy's strict parser: the demo shows exactly what a proxy would read.
import { parseUpdateBody, StandInAsabru } from "../testing/stand_in_asabru.ts";

const root = new URL("../", import.meta.url);
const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(`demo: ${line}\n`));

const children = new Set<Deno.ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
let finished = false;

async function cleanUp(): Promise<void> {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  await Promise.all([...children].map((child) => child.status));
  for (const cleanup of cleanups.reverse()) await cleanup();
}

let interrupted = false;
const onInterrupt = () => {
  if (interrupted) return;
  interrupted = true;
  say("interrupted: stopping everything");
  cleanUp().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", onInterrupt);
Deno.addSignalListener("SIGTERM", onInterrupt);

/** Runs a deno task's program the way `deno task` does, its logs as readable text. */
function start(script: string, task: string, env: Record<string, string>): Deno.ChildProcess {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  const permissions = (config.tasks[task] as string).split(/\s+/)
    .filter((word) => /^--(allow|deny)-/.test(word));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...permissions, script],
    cwd: root.pathname,
    env: { LOG_FORMAT: "text", LOG_LEVEL: "warning", ...env },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  children.add(child);
  child.status.then(() => children.delete(child));
  return child;
}

const received: { op: string; text: string }[] = [];
const waiters = new Set<() => void>();
/** Resolves once an update `op` has been received after the first `after` updates. */
function nextUpdate(op: string, after = 0): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (received.slice(after).some((update) => update.op === op)) {
        waiters.delete(check);
        resolve();
      }
    };
    waiters.add(check);
    check();
  });
}

/**
 * The deployed proxy removes nothing on `/updateService` delete: with whole-state delivery the
 * monitor pushes its whole configuration to `/configuration`, and the removal takes effect.
 */
async function wholeState(zkHost: string): Promise<void> {
  const template = new URL("examples/asabru-config.xml", root).pathname;
  const proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config: Deno.readTextFileSync(template),
  });
  cleanups.push(() => proxy.close());
  const table = () =>
    proxy.list("ch_http_node1").map((entry) => `${entry.service} (${entry.host}:${entry.port})`)
      .join(", ");
  const until = async (condition: () => boolean, what: string) => {
    const deadline = performance.now() + 15_000;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`${what} did not happen within 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  say(`now a stand-in for the proxy as deployed, at ${proxy.url}: its delete removes nothing`);
  say(`its round robin for ch_http_node1 (from ${template}): ${table()}`);
  start("monitor.ts", "monitor", {
    ZK_HOST: zkHost,
    ZK_ROOT_NODE: "/cluster1",
    ASABRU_API_URL: proxy.url,
    ASABRU_CONFIG_TEMPLATE: template,
  });
  say("a monitor with ASABRU_CONFIG_TEMPLATE pushes the whole configuration to /configuration");
  const client = start("client.ts", "client", {
    ZK_HOST: zkHost,
    NODES_FILE: new URL("examples/nodes.json", root).pathname,
  });
  await until(() => proxy.list("ch_http_node1").length === 2, "the push of the registration");
  say(`the client registered again; the proxy's round robin: ${table()}`);
  client.kill("SIGTERM");
  await client.status;
  await until(() => proxy.list("ch_http_node1").length === 1, "the removal");
  say(`the client stopped; the removal took effect, the round robin: ${table()}`);
}

try {
  say("starting a throwaway ZooKeeper (Debian's zookeeper package, or ZOOKEEPER_HOME)...");
  const zookeeper = await LocalZooKeeper.start();
  cleanups.push(() => zookeeper.close());
  say(`ZooKeeper listens on ${zookeeper.connectionString}`);

  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const update = parseUpdateBody(await request.text());
      if ("error" in update) return Response.json({ status: "error", message: update.error });
      const text = `${update.op} ${update.service} (${update.host}:${update.port}) ` +
        `at end point ${update.endPoint}`;
      say(`proxy received: ${text}`);
      received.push({ op: update.op, text });
      for (const waiter of [...waiters]) waiter();
      return Response.json({ status: "ok", message: "Configuration Updated Successfully!" });
    },
  );
  cleanups.push(() => receiver.shutdown());
  const proxyUrl = `http://127.0.0.1:${receiver.addr.port}/updateService`;
  say(`a receiver stands in for the Asabru proxy at ${proxyUrl}`);

  const monitor = start("monitor.ts", "monitor", {
    ZK_HOST: zookeeper.connectionString,
    ZK_ROOT_NODE: "/cluster1",
    ASABRU_API_URL: proxyUrl,
  });
  say("monitor started, watching /cluster1");

  const client = start("client.ts", "client", {
    ZK_HOST: zookeeper.connectionString,
    NODES_FILE: new URL("examples/nodes.json", root).pathname,
  });
  say(
    "client started with examples/nodes.json: registering /cluster1/ch_http_node1/ch_http_service2",
  );

  await nextUpdate("add");
  say("the service is registered and the proxy was told; now stopping the client (SIGTERM)...");
  // A starting monitor deletes before it adds: wait for a delete that comes after the stop.
  const before = received.length;
  client.kill("SIGTERM");
  await client.status;
  await nextUpdate("delete", before);
  say("the client removed its registration and the proxy was told at once");
  monitor.kill("SIGTERM");
  await monitor.status;

  await wholeState(zookeeper.connectionString);
  finished = true;
} catch (error) {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  if (!interrupted) {
    await cleanUp();
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
    say(finished ? "done: everything stopped and removed" : "stopped");
    Deno.exit(finished ? 0 : 1);
  }
}
