/**
 * `deno task demo`: the whole chain on one machine, with nothing to set up. It starts a throwaway
 * ZooKeeper, a receiver that prints what the Asabru proxy would receive, the monitor, and the
 * client with examples/nodes.json; shows the service being added, stops the client and shows it
 * being deleted; then stops everything. Ctrl-C at any point stops everything too, and nothing is
 * left running or on disk.
 */
import { LocalZooKeeper } from "../src/local_zookeeper.ts";
// The stand-in proxy's strict parser: the demo shows exactly what a proxy would read.
import { parseUpdateBody } from "../tests/harness/stand_in_asabru.ts";

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
function nextUpdate(op: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (received.some((update) => update.op === op)) {
        waiters.delete(check);
        resolve();
      }
    };
    waiters.add(check);
    check();
  });
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

  start("monitor.ts", "monitor", {
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
  client.kill("SIGTERM");
  await client.status;
  await nextUpdate("delete");
  say("the client removed its registration and the proxy was told at once");
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
