/**
 * Both programs, as users run them (real child processes with their tasks' permissions, JSON logs
 * on a non-terminal stderr), when ZooKeeper cannot be reached: a port that refuses, a blackholed
 * server, a name that does not resolve, and a server that comes up later. What is promised: one
 * warning naming the server and the system's reason at the first failed attempt (not a line per
 * attempt), `/readyz` 503 with the reason, failures counted by kind in `/metrics`, and one info
 * line when the session is established, saying after how long.
 */
import { LocalZooKeeper } from "../src/local_zookeeper.ts";
import { FaultProxy } from "./harness/fault_proxy.ts";
import { Program } from "./harness/program.ts";
import { freePort } from "./harness/convergence.ts";
import { assert, assertEquals, assertMatch } from "./harness/assert.ts";
import { waitFor } from "./harness/wait.ts";

interface LogLine {
  level: string;
  message: string;
  logger: string;
  [property: string]: unknown;
}

/** A running program with its status port. */
interface Running {
  name: "client" | "monitor";
  program: Program;
  status(path: string): Promise<Response>;
}

async function start(name: Running["name"], zkHost: string): Promise<Running> {
  const statusPort = freePort();
  const env: Record<string, string> = {
    ZK_HOST: zkHost,
    ZK_SESSION_TIMEOUT: "1s",
    STATUS_PORT: String(statusPort),
    STATUS_HOST: "127.0.0.1",
    ...(name === "client"
      ? { REGISTER: "/cluster1/ch_http_node1/ch_http_service2=localhost:2023" }
      : { ZK_ROOT_NODE: "/cluster1" }),
  };
  const program = await Program.start(`${name}.ts`, { task: name, env });
  const status = (path: string) => fetch(`http://127.0.0.1:${statusPort}${path}`);
  return { name, program, status };
}

/** The program's lines from the ZooKeeper reachability report (logger `zkcm.zookeeper`). */
function reachabilityLines(program: Program): LogLine[] {
  return program.lines
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.logger === "zkcm.zookeeper");
}

async function waitForReachabilityLine(
  running: Running,
  matches: (line: LogLine) => boolean,
  what: string,
): Promise<LogLine> {
  await waitFor(
    () => reachabilityLines(running.program).some(matches),
    20_000,
    `${running.name}: ${what}`,
  );
  return reachabilityLines(running.program).find(matches)!;
}

/** `zkcm_zookeeper_connection_failures_total{reason="..."}` from `/metrics`. */
async function failuresCounted(running: Running, reason: string): Promise<number> {
  const text = await (await running.status("/metrics")).text();
  const line = text.split("\n").find((line) =>
    line.startsWith(`zkcm_zookeeper_connection_failures_total{reason="${reason}"} `)
  );
  return Number(line?.split(" ")[1] ?? NaN);
}

async function readiness(running: Running): Promise<{ status: number; body: string }> {
  const answer = await running.status("/readyz");
  return { status: answer.status, body: await answer.text() };
}

/** `/readyz` is 503 and its first reason is one line matching `pattern`. */
async function assertNotReadyBecause(running: Running, pattern: RegExp): Promise<void> {
  const { status, body } = await readiness(running);
  assertEquals(status, 503, `${running.name}: /readyz ${body}`);
  assert(!body.includes("\n"), "one line");
  const reasons: string[] = JSON.parse(body).reasons;
  assertMatch(reasons[0], pattern);
}

async function stop(running: Running): Promise<void> {
  running.program.kill("SIGTERM");
  const { code } = await running.program.finished();
  assertEquals(code, 0, `${running.name} stops cleanly`);
}

Deno.test("ZooKeeper unreachable: both programs say so", async (t) => {
  await using zk = await LocalZooKeeper.start();

  await t.step("a port that refuses, then the server comes up there", async () => {
    await zk.stop();
    const server = zk.connectionString;
    const programs = await Promise.all([start("client", server), start("monitor", server)]);
    try {
      await Promise.all(programs.map(async (running) => {
        const warning = await waitForReachabilityLine(
          running,
          (line) => line.level === "WARN",
          "a warning",
        );
        assertEquals(
          warning.message,
          `ZooKeeper server ${server} refused the connection: connect ECONNREFUSED ${server}`,
        );
        assertEquals(
          [warning.server, warning.kind, warning.attempts],
          [server, "refused", 1],
          "said at the first failed attempt",
        );
        // Attempts go on (several a second), lines do not: the next is a reminder after 30 s.
        await waitFor(
          async () => await failuresCounted(running, "refused") >= 5,
          20_000,
          `${running.name}: five refused attempts counted`,
        );
        assertEquals(
          reachabilityLines(running.program).filter((line) => line.level === "WARN").length,
          1,
          `${running.name}: one warning for many attempts`,
        );
        await assertNotReadyBecause(
          running,
          new RegExp(
            `^ZooKeeper session connecting for \\d+ s, \\d+ failed attempts; the last at ` +
              `${server}: connect ECONNREFUSED ${server} \\(refused\\)$`,
          ),
        );
      }));

      await zk.restart();
      await Promise.all(programs.map(async (running) => {
        const established = await waitForReachabilityLine(
          running,
          (line) => line.level === "INFO",
          "the session established",
        );
        assertMatch(
          established.message,
          new RegExp(
            `^ZooKeeper session 0x[0-9a-f]+ established with ${server} after \\d+ ms and ` +
              `\\d+ failed attempts$`,
          ),
        );
        assert((established.attempts as number) >= 5, "the attempts of the outage");
        await waitFor(
          async () => (await readiness(running)).status === 200,
          20_000,
          `${running.name}: ready`,
        );
        await stop(running);
      }));
    } finally {
      await Promise.all(programs.map((running) => running.program[Symbol.asyncDispose]()));
    }
  });

  await t.step("a blackholed server: a timeout, then a session when traffic flows", async () => {
    await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    proxy.setMode("blackhole");
    const server = proxy.address;
    const programs = await Promise.all([start("client", server), start("monitor", server)]);
    try {
      await Promise.all(programs.map(async (running) => {
        const warning = await waitForReachabilityLine(
          running,
          (line) => line.level === "WARN",
          "a warning",
        );
        assertMatch(
          warning.message,
          new RegExp(
            `^ZooKeeper server ${server} does not answer: ` +
              `no answer to the session request within \\d+ ms$`,
          ),
        );
        assertEquals([warning.kind, warning.attempts], ["timeout", 1]);
        await assertNotReadyBecause(
          running,
          new RegExp(
            `^ZooKeeper session connecting for \\d+ s, \\d+ failed attempts; ` +
              `the last at ${server}: no answer to the session request within \\d+ ms \\(timeout\\)$`,
          ),
        );
        assert(await failuresCounted(running, "timeout") >= 1, "counted as a timeout");
      }));

      proxy.setMode("pass");
      await Promise.all(programs.map(async (running) => {
        await waitForReachabilityLine(
          running,
          (line) => line.level === "INFO" && /established with/.test(line.message),
          "the session established",
        );
        await waitFor(
          async () => (await readiness(running)).status === 200,
          20_000,
          `${running.name}: ready`,
        );
        await stop(running);
      }));
    } finally {
      await Promise.all(programs.map((running) => running.program[Symbol.asyncDispose]()));
    }
  });

  await t.step("a name that does not resolve", async () => {
    const server = "zk.example.invalid:2181";
    const programs = await Promise.all([start("client", server), start("monitor", server)]);
    try {
      await Promise.all(programs.map(async (running) => {
        const warning = await waitForReachabilityLine(
          running,
          (line) => line.level === "WARN",
          "a warning",
        );
        assertEquals(
          warning.message,
          `ZooKeeper server name ${server} does not resolve: ` +
            "getaddrinfo ENOTFOUND zk.example.invalid",
        );
        assertEquals([warning.server, warning.kind], [server, "unresolved"]);
        await assertNotReadyBecause(
          running,
          /^ZooKeeper session connecting for \d+ s, \d+ failed attempts; the last at zk\.example\.invalid:2181: getaddrinfo ENOTFOUND zk\.example\.invalid \(unresolved\)$/,
        );
        assert(await failuresCounted(running, "unresolved") >= 1, "counted as unresolved");
        await stop(running);
      }));
    } finally {
      await Promise.all(programs.map((running) => running.program[Symbol.asyncDispose]()));
    }
  });
});
