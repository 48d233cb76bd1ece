/**
 * Both programs, as users run them (real child processes with their tasks' permissions, JSON logs
 * on a non-terminal stderr), when ZooKeeper cannot be reached: a port that refuses, a blackholed
 * server, a name that does not resolve, and a server that comes up later. What is promised: one
 * warning naming the server and the system's reason at the first failed attempt (not a line per
 * attempt), `/readyz` 503 with the reason, failures counted by kind in `/metrics`, and one info
 * line when the session is established, saying after how long.
 */
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { Program } from "../../testing/program.ts";
import { freePort } from "../../testing/convergence.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One way of not reaching ZooKeeper, and what both programs must say about it. */
interface Outage {
  zkHost: string;
  kind: string;
  /** The first warning's message. */
  warning: RegExp;
  /** The system's reason, as it appears in `/readyz`. */
  reason: RegExp;
  /** Failed attempts to wait for: they keep coming, the warning stays one. */
  attempts: number;
  /** Ends the outage; both programs must then say after how long and become ready. */
  repair?: () => Promise<void>;
}

async function bothPrograms(outage: Outage): Promise<void> {
  const programs = await Promise.all([
    start("client", outage.zkHost),
    start("monitor", outage.zkHost),
  ]);
  const eachProgram = (body: (running: Running) => Promise<void>) =>
    Promise.all(programs.map(body));
  try {
    await eachProgram(async (running) => {
      const warning = await waitForReachabilityLine(
        running,
        (line) => line.level === "WARN",
        "a warning",
      );
      assertMatch(warning.message, outage.warning);
      assertEquals(
        [warning.server, warning.kind, warning.attempts],
        [outage.zkHost, outage.kind, 1],
        "said at the first failed attempt, naming the server",
      );
      await waitFor(
        async () => await failuresCounted(running, outage.kind) >= outage.attempts,
        20_000,
        `${running.name}: ${outage.attempts} failed attempts counted as ${outage.kind}`,
      );
      assertEquals(
        reachabilityLines(running.program).filter((line) => line.level === "WARN").length,
        1,
        `${running.name}: one warning for many attempts (the next is a reminder after 30 s)`,
      );
      await assertNotReadyBecause(
        running,
        new RegExp(
          `^ZooKeeper session connecting for \\d+ s, \\d+ failed attempts; the last at ` +
            `${escapeRegExp(outage.zkHost)}: ${outage.reason.source} \\(${outage.kind}\\)$`,
        ),
      );
    });
    if (outage.repair) {
      await outage.repair();
      await eachProgram(async (running) => {
        const established = await waitForReachabilityLine(
          running,
          (line) => line.level === "INFO",
          "the session established",
        );
        assertMatch(
          established.message,
          new RegExp(
            `^ZooKeeper session 0x[0-9a-f]+ established with ${
              escapeRegExp(outage.zkHost)
            } after \\d+ ms and \\d+ failed attempts; the last: .+$`,
          ),
        );
        assert((established.attempts as number) >= outage.attempts, "the outage's attempts");
        await waitFor(
          async () => (await readiness(running)).status === 200,
          20_000,
          `${running.name}: ready`,
        );
      });
    }
    await eachProgram(stop);
  } finally {
    await eachProgram((running) => running.program[Symbol.asyncDispose]());
  }
}

Deno.test("ZooKeeper unreachable: both programs say so", async (t) => {
  await using zk = await LocalZooKeeper.start();

  await t.step("a port that refuses, then the server comes up there", async () => {
    await zk.stop();
    const server = escapeRegExp(zk.connectionString);
    await bothPrograms({
      zkHost: zk.connectionString,
      kind: "refused",
      warning: new RegExp(
        `^ZooKeeper server ${server} refused the connection: Connection refused \\(os error 111\\)$`,
      ),
      reason: /Connection refused \(os error 111\)/,
      attempts: 5,
      repair: () => zk.restart(),
    });
  });

  await t.step("a blackholed server: a timeout, then a session when traffic flows", async () => {
    await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    proxy.setMode("blackhole");
    await bothPrograms({
      zkHost: proxy.address,
      kind: "timeout",
      warning: new RegExp(
        `^ZooKeeper server ${escapeRegExp(proxy.address)} does not answer: ` +
          `no answer to the session request within \\d+ ms$`,
      ),
      reason: /no answer to the session request within \d+ ms/,
      attempts: 2,
      repair: () => Promise.resolve(proxy.setMode("pass")),
    });
  });

  await t.step("a name that does not resolve", async () => {
    await bothPrograms({
      zkHost: "zk.example.invalid:2181",
      kind: "unresolved",
      warning:
        /^the name of ZooKeeper server zk\.example\.invalid:2181 does not resolve: failed to lookup address information: .+$/,
      reason: /failed to lookup address information: .+/,
      attempts: 3,
    });
  });
});
