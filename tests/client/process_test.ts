/**
 * The client as users run it: a real child process (`client.ts` with exactly the permissions of
 * `deno task client`), a real ZooKeeper, real signals.
 */
import { ZkNoAuthError, ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { ConnectRecorder } from "../../testing/connect_recorder.ts";
import { type Launcher, Program } from "../../testing/program.ts";
import {
  assertDuplicateIsOneRequest,
  assertSecondSignalExitsAtOnce,
  deliver,
  launcherName,
  LAUNCHERS,
  programProcess,
  STOP_SIGNALS,
  TARGETS,
  untilProvedDuplicate,
} from "../../testing/signals.ts";
import { LocalClickHouse } from "../../testing/local_clickhouse.ts";
import { ReplicaPair } from "../../testing/replica_lag.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { deferred, waitFor, withTimeout } from "../../testing/wait.ts";

const SERVICE = "/cluster1/ch_http_node1/ch_http_service2";
const SAMPLE = {
  "/cluster1": "",
  "/cluster1/ch_http_node1": "",
  [SERVICE]: "localhost:2023",
};
const decoder = new TextDecoder();

async function writeNodes(dir: string, content: unknown): Promise<string> {
  const file = `${dir}/nodes.json`;
  await Deno.writeTextFile(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

function client(
  env: Record<string, string>,
  args: string[] = [],
  launcher: Launcher = "run",
): Promise<Program> {
  return Program.start("client.ts", {
    task: "client",
    env: { LOG_LEVEL: "debug", ...env },
    args,
    launcher,
  });
}

Deno.test("client process", async (t) => {
  // Sessions up to 30 s: see "restart after kill -9".
  await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 30_000 });
  await using observer = ZkSession.open({ connectionString: zk.connectionString });
  await observer.waitUntilConnected({ timeoutMs: 10_000 });
  const dir = await Deno.makeTempDir({ prefix: "zkcm-client-test-" });
  const leafOwner = async () => (await observer.exists(SERVICE))?.ephemeralOwner;
  try {
    const nodesFile = await writeNodes(dir, SAMPLE);
    const base = { ZK_HOST: zk.connectionString, NODES_FILE: nodesFile, ZK_SESSION_TIMEOUT: "1s" };

    await t.step("the sample nodes.json: persistent parents, one ephemeral leaf", async () => {
      await observer.deleteRecursive("/cluster1");
      await using program = await client(base);
      await registeredBy(program);
      assertEquals((await observer.exists("/cluster1"))?.ephemeralOwner, 0n);
      assertEquals((await observer.exists("/cluster1/ch_http_node1"))?.ephemeralOwner, 0n);
      const leaf = await observer.getData(SERVICE);
      assertEquals(decoder.decode(leaf.data), "localhost:2023");
      assert(leaf.stat.ephemeralOwner !== 0n, "ephemeral");
    });

    await t.step("SIGTERM: the leaf is gone, exit 0", async () => {
      // That the client deletes it itself, before its session closes, is proved by ZooKeeper's
      // transaction order in "SIGTERM: the client deletes its leaf itself" below, not by a clock.
      await observer.deleteRecursive("/cluster1");
      await using program = await client(base);
      await registeredBy(program);
      const gone = deferred();
      await observer.exists(SERVICE, (event) => event.type === "deleted" && gone.resolve());
      program.kill("SIGTERM");
      await withTimeout(gone.promise, 10_000, "the leaf removed");
      const { code } = await program.finished();
      assertEquals(code, 0);
    });

    await t.step("kill -9: the leaf lives until the session times out", async () => {
      await observer.deleteRecursive("/cluster1");
      // The session ends at least two thirds of its timeout after the kill (the client pings
      // every third): with 1 s, that left the test some 0.6 s to see the process gone and read
      // the leaf, a race on a loaded machine. 6 s leaves it 4.
      const sessionMs = 6000;
      await using program = await client({ ...base, ZK_SESSION_TIMEOUT: `${sessionMs}ms` });
      await registeredBy(program);
      const owner = await leafOwner();
      const gone = deferred();
      await observer.exists(SERVICE, (event) => event.type === "deleted" && gone.resolve());
      const killedAt = performance.now();
      program.kill("SIGKILL");
      await program.finished();
      assertEquals(await leafOwner(), owner, "still there right after the kill");
      await withTimeout(gone.promise, sessionMs + 10_000, "the leaf expires with the session");
      const tookMs = performance.now() - killedAt;
      assert(tookMs > sessionMs / 2, `gone only after the session timeout (${tookMs} ms)`);
    });

    await t.step("restart after kill -9: taken over while the old session lives", async () => {
      await observer.deleteRecursive("/cluster1");
      // The crashed session must outlive the restarted client's start-up, which takes seconds on
      // a loaded machine: had it expired first (4 s, before), the leaf would merely be free.
      const sessionTimeout = { ZK_SESSION_TIMEOUT: "30s" };
      {
        await using crashed = await client({ ...base, ...sessionTimeout });
        await registeredBy(crashed);
        crashed.kill("SIGKILL");
        await crashed.finished();
      }
      const oldOwner = await leafOwner();
      await using restarted = await client({ ...base, ...sessionTimeout });
      await restarted.waitForLine(/took over/, 15_000);
      const owner = await leafOwner();
      assert(owner !== undefined && owner !== oldOwner, "owned by the new session");
      // Not a clock (the child's start-up varies): ZooKeeper still tracks the crashed session, so
      // the leaf was taken over before that session expired, not freed by its expiry.
      const sessions = (await zk.fourLetterWord("dump")).split("ephemeral nodes dump:")[0];
      assert(
        sessions.includes(`0x${oldOwner!.toString(16)}`),
        `the crashed session 0x${oldOwner!.toString(16)} is still alive:\n${sessions}`,
      );
      restarted.kill("SIGTERM");
      assertEquals((await restarted.finished()).code, 0);
    });

    await t.step("a different registration at the path is never deleted", async () => {
      await observer.deleteRecursive("/cluster1");
      await using other = ZkSession.open({ connectionString: zk.connectionString });
      await other.waitUntilConnected({ timeoutMs: 5000 });
      await other.ensurePath("/cluster1/ch_http_node1");
      await other.create(SERVICE, new TextEncoder().encode("otherhost:9000"), {
        mode: "ephemeral",
      });
      await using program = await client(base);
      await program.waitForLine(/held by session/, 10_000);
      assertEquals(decoder.decode((await observer.getData(SERVICE)).data), "otherhost:9000");
      await other.close();
      await program.waitForLine(/ch_http_service2.* registered/, 10_000);
      assertEquals(decoder.decode((await observer.getData(SERVICE)).data), "localhost:2023");
    });

    await t.step("session expiry (connection blackholed): leaves re-created", async () => {
      await observer.deleteRecursive("/cluster1");
      await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
      await using program = await client({ ...base, ZK_HOST: proxy.address });
      await registeredBy(program);
      const firstOwner = await leafOwner();
      const gone = deferred();
      await observer.exists(SERVICE, (event) => event.type === "deleted" && gone.resolve());
      proxy.setMode("blackhole");
      await withTimeout(gone.promise, 10_000, "the server expires the blackholed session");
      proxy.setMode("pass");
      proxy.dropAll();
      await program.waitForLine(/registered again in a new session/, 10_000);
      const owner = await leafOwner();
      assert(owner !== undefined && owner !== firstOwner, "re-created in a new session");
    });

    await t.step("health gating on a real ClickHouse: stopped, lagging, back", async () => {
      await observer.deleteRecursive("/cluster1");
      await using clickhouse = await LocalClickHouse.start({
        zookeeper: zk.connectionString,
        mergeTree: { min_absolute_delay_to_close: 1 },
      });
      const replicas = await ReplicaPair.create(clickhouse);
      await using program = await client({
        ...base,
        HEALTH_CHECK: `clickhouse://${clickhouse.hostPort}`,
        HEALTH_INTERVAL: "50ms",
        HEALTH_FALL: "2",
        HEALTH_RISE: "3",
      });
      await registeredBy(program);
      // The checker's flips, with how many checks in a row made each one.
      const flips = () =>
        program.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
          .filter((record) => record.logger === "zkcm.health" && "inARow" in record)
          .map(({ healthy, inARow, detail }) => ({ healthy, inARow, detail }));
      const leafChange = async (type: "deleted" | "created", what: string) => {
        const changed = deferred();
        await observer.exists(SERVICE, (event) => event.type === type && changed.resolve());
        return () => withTimeout(changed.promise, 10_000, what);
      };

      let changed = await leafChange("deleted", "deregistered once ClickHouse stopped");
      await clickhouse.stop();
      await changed();
      changed = await leafChange("created", "registered again once ClickHouse runs");
      await clickhouse.restart();
      await changed();
      changed = await leafChange("deleted", "deregistered while a replica lags");
      await replicas.fallBehind();
      await changed();
      changed = await leafChange("created", "registered again once the replica caught up");
      await replicas.catchUp();
      await changed();

      // The last flip's line comes through the client's stderr, which may still be on its way
      // when ZooKeeper's event for the registration it led to is already here.
      await waitFor(() => flips().length === 5, 10_000, "the fifth flip logged");
      const lag = flips()[3];
      assertMatch(lag.detail, /^replicas lag, says \/replicas_status: default\.events_behind: /);
      assertEquals(flips(), [
        { healthy: true, inARow: 1, detail: "ok" },
        { healthy: false, inARow: 2, detail: "connection refused" },
        { healthy: true, inARow: 3, detail: "ok" },
        { healthy: false, inARow: 2, detail: lag.detail },
        { healthy: true, inARow: 3, detail: "ok" },
      ]);
    });
    await t.step("with ZK_AUTH another identity cannot delete or overwrite the leaf", async () => {
      await observer.deleteRecursive("/cluster1");
      await using program = await client({ ...base, ZK_AUTH: "tenant-a:secret" });
      await registeredBy(program);
      await using intruder = ZkSession.open({
        connectionString: zk.connectionString,
        digestAuth: "tenant-b:secret",
      });
      await intruder.waitUntilConnected({ timeoutMs: 5000 });
      await assertRejects(() => intruder.delete(SERVICE), ZkNoAuthError);
      await assertRejects(
        () => intruder.setData(SERVICE, new TextEncoder().encode("evil:1")),
        ZkNoAuthError,
      );
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
      await using owner = ZkSession.open({
        connectionString: zk.connectionString,
        digestAuth: "tenant-a:secret",
      });
      await owner.waitUntilConnected({ timeoutMs: 5000 });
      await owner.deleteRecursive("/cluster1");
    });

    await t.step("--register without a file, and --help", async () => {
      await observer.deleteRecursive("/cluster1");
      await using program = await client({ ZK_HOST: zk.connectionString }, [
        "--register",
        "/cluster1/ch_http_node1/from_flag=127.0.0.1:9000",
      ]);
      await program.waitForLine(/from_flag.* registered/, 10_000);
      const help = await client({}, ["--help"]);
      const { code, stdout } = await help.finished();
      assertEquals(code, 0);
      for (const name of ["--zk-host", "ZK_HOST", "NODES_FILE", "REGISTER", "HEALTH_CHECK"]) {
        assert(stdout.some((line) => line.includes(name)), `--help mentions ${name}`);
      }
    });

    await t.step("bad input: one clear line each, exit 2, ZooKeeper untouched", async () => {
      await observer.deleteRecursive("/cluster1");
      const unreadable = await writeNodes(`${dir}`, SAMPLE).then(async (file) => {
        const copy = `${dir}/unreadable.json`;
        await Deno.copyFile(file, copy);
        return copy;
      });
      await Deno.mkdir(`${dir}/a-directory`);
      await Deno.writeTextFile(`${dir}/empty.json`, "");
      const cases: {
        name: string;
        content?: unknown;
        env?: Record<string, string>;
        expect: RegExp;
        extraFlags?: string[];
      }[] = [
        { name: "invalid JSON", content: "{ not json", expect: /nodes\.json.*JSON/i },
        {
          name: "relative path",
          content: { "cluster1/x": "h:1" },
          expect: /"cluster1\/x".*absolute/,
        },
        {
          name: "'..'",
          content: { "/cluster1/../x": "h:1" },
          expect: /"\/cluster1\/\.\.\/x".*'\.\.'/,
        },
        {
          name: "/zookeeper",
          content: { "/zookeeper/x": "h:1" },
          expect: /"\/zookeeper\/x".*reserved/,
        },
        { name: "non-string data", content: { "/c/n/s": 5 }, expect: /"\/c\/n\/s".*string/ },
        {
          name: "bad port",
          content: { "/c/n/s": "host:99999" },
          expect: /"\/c\/n\/s".*host:99999/,
        },
        { name: "empty file", env: { NODES_FILE: `${dir}/empty.json` }, expect: /empty/ },
        {
          name: "missing file",
          env: { NODES_FILE: `${dir}/missing.json` },
          expect: /missing\.json.*not found/,
        },
        {
          name: "a directory",
          env: { NODES_FILE: `${dir}/a-directory` },
          expect: /a-directory.*directory/,
        },
        {
          name: "unreadable file",
          env: { NODES_FILE: unreadable },
          extraFlags: [`--deny-read=${unreadable}`],
          expect: /unreadable\.json.*(read access|permission)/,
        },
        {
          name: "bad ZK_HOST",
          env: { ZK_HOST: "zk:99999" },
          expect: /--zk-host \(ZK_HOST\).*99999/,
        },
        {
          name: "bad duration",
          env: { ZK_SESSION_TIMEOUT: "soon" },
          expect: /ZK_SESSION_TIMEOUT.*duration/,
        },
        { name: "unknown flag", env: {}, expect: /--bogus/ },
      ];
      // Where ZooKeeper would be: proves that no connection was even opened.
      await using recorder = ConnectRecorder.start();
      for (const testCase of cases) {
        const file = testCase.content === undefined
          ? nodesFile
          : await writeNodes(`${dir}`, testCase.content);
        const program = await Program.start("client.ts", {
          task: "client",
          env: { ZK_HOST: recorder.address, NODES_FILE: file, ...testCase.env },
          args: testCase.name === "unknown flag" ? ["--bogus"] : [],
          extraFlags: testCase.extraFlags,
        });
        const { code, lines } = await program.finished();
        const printed = lines.filter((line) => line.trim() !== "");
        assertEquals(code, 2, `${testCase.name}: exit code (${printed.join(" | ")})`);
        assertEquals(printed.length, 1, `${testCase.name}: one line, got ${printed.join(" | ")}`);
        assertMatch(printed[0], testCase.expect, testCase.name);
      }
      assertEquals(recorder.connects, 0, "no connection to ZooKeeper was opened");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the client waits for ZooKeeper that is not there yet, then registers", async () => {
  await using zk = await LocalZooKeeper.start();
  await zk.stop();
  const dir = await Deno.makeTempDir({ prefix: "zkcm-client-test-" });
  try {
    const nodesFile = await writeNodes(dir, SAMPLE);
    await using program = await client({ ZK_HOST: zk.connectionString, NODES_FILE: nodesFile });
    await zk.restart();
    await registeredBy(program);
    await using observer = ZkSession.open({ connectionString: zk.connectionString });
    await observer.waitUntilConnected({ timeoutMs: 5000 });
    await waitFor(async () => (await observer.exists(SERVICE)) !== null, 5000, "registered");
    program.kill("SIGINT");
    assertEquals((await program.finished()).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client process: one stop request, however delivered, deregisters and exits 0", async (t) => {
  // A session timeout of a minute: within the half minute the tests allow, only the client
  // itself can have removed its registration, never the session's expiry.
  await using zk = await LocalZooKeeper.start({ maxSessionTimeoutMs: 60_000 });
  await using observer = ZkSession.open({ connectionString: zk.connectionString });
  await observer.waitUntilConnected({ timeoutMs: 10_000 });
  const dir = await Deno.makeTempDir({ prefix: "zkcm-client-test-" });
  const base = {
    ZK_HOST: zk.connectionString,
    NODES_FILE: await writeNodes(dir, SAMPLE),
    ZK_SESSION_TIMEOUT: "60s",
  };
  try {
    for (const launcher of LAUNCHERS) {
      for (const signal of STOP_SIGNALS) {
        for (const target of TARGETS) {
          await t.step(
            `${launcherName(launcher, "client")}: ${signal} to the ${target}`,
            async () => {
              await observer.deleteRecursive("/cluster1");
              await using program = await client(base, [], launcher);
              await registeredBy(program);
              const gone = deferred();
              await observer.exists(SERVICE, (event) => event.type === "deleted" && gone.resolve());
              deliver(program, target, signal);
              // Not a speed bound (1 s was, and a loaded machine can be slower): half the
              // session timeout, so that the removal is the client's own.
              await withTimeout(gone.promise, 30_000, "the leaf removed before any expiry");
              const { code, lines } = await program.finished();
              assertEquals(code, 0, lines.join("\n"));
              assert(
                lines.some((line) => /ch_http_service2 deregistered \(shutdown\)/.test(line)),
                "deregistered by the client itself",
              );
              assert(lines.some((line) => line.includes('"stopped"')), "an orderly stop");
            },
          );
        }
      }
    }

    // A group signal under `deno task` reaches the client twice only when the two deliveries do
    // not coalesce (about one run in eight here); this delivers the duplicate for sure: a moment
    // after the first was handled, while the shutdown is held (ZooKeeper blackholed, so it ends
    // only when the session gives up on the silent connection).
    for (const signal of STOP_SIGNALS) {
      await t.step(`${signal} delivered twice at once is one request: exit 0`, async () => {
        await untilProvedDuplicate(async () => {
          await observer.deleteRecursive("/cluster1");
          await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
          await using program = await client({
            ...base,
            ZK_HOST: proxy.address,
            ZK_SESSION_TIMEOUT: "2s",
          });
          await registeredBy(program);
          proxy.setMode("blackhole");
          return await assertDuplicateIsOneRequest(program, signal, /removing registrations/);
        });
      });
    }

    // The shutdown is held (ZooKeeper blackholed), so only a second request can end it.
    for (const launcher of LAUNCHERS) {
      for (const signal of STOP_SIGNALS) {
        await t.step(
          `${launcherName(launcher, "client")}: a second ${signal} later exits at once`,
          async () => {
            await observer.deleteRecursive("/cluster1");
            await using proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
            await using program = await client({ ...base, ZK_HOST: proxy.address }, [], launcher);
            await registeredBy(program);
            proxy.setMode("blackhole");
            await assertSecondSignalExitsAtOnce(program, signal, /removing registrations/);
          },
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client process: SIGHUP, SIGUSR1 and SIGUSR2 neither stop it nor open a port", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using observer = ZkSession.open({ connectionString: zk.connectionString });
  await observer.waitUntilConnected({ timeoutMs: 10_000 });
  const dir = await Deno.makeTempDir({ prefix: "zkcm-client-test-" });
  const base = { ZK_HOST: zk.connectionString, NODES_FILE: await writeNodes(dir, SAMPLE) };
  try {
    const ways: { name: string; launcher: Launcher; start: () => Promise<Program> }[] = [
      ...LAUNCHERS.map((launcher) => ({
        name: launcherName(launcher, "client"),
        launcher,
        start: () => client(base, [], launcher),
      })),
      {
        name: "the Docker entry (main.ts, MODE=client, the start task's permissions)",
        launcher: "run",
        start: () =>
          Program.start("main.ts", {
            task: "start",
            env: { LOG_LEVEL: "debug", MODE: "client", ...base },
          }),
      },
    ];
    for (const { name, launcher, start } of ways) {
      await t.step(name, async () => {
        await observer.deleteRecursive("/cluster1");
        await using program = await start();
        await registeredBy(program);
        // Only once the runtime has installed its own SIGUSR1 handler can it open an inspector.
        await program.waitForLine(/runtime's inspector handler replaced/, 15_000);
        const { pid, assertNoInspector } = await programProcess(program, launcher);
        for (const signal of ["SIGUSR1", "SIGUSR2", "SIGHUP"] as const) Deno.kill(pid, signal);
        await program.waitForLine(/SIGUSR2 ignored/, 5000);
        await program.waitForLine(/SIGHUP ignored/, 5000);
        // Still working: a registration deleted behind its back is made again.
        await observer.delete(SERVICE);
        await waitFor(async () => (await observer.exists(SERVICE)) !== null, 5000, "again");
        await assertNoInspector();
        program.kill("SIGTERM");
        assertEquals((await program.finished()).code, 0);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function registeredBy(program: Program) {
  return program.waitForLine(/registered|took over/, 15_000);
}

Deno.test("SIGTERM: the client deletes its leaf itself, before it closes its session", async () => {
  // Closing the session would delete the ephemeral leaf too, so "the leaf is gone" alone cannot
  // tell. ZooKeeper can: the parent's pzxid is the transaction that removed the leaf, and only
  // the client and this observer use this server, so the last transaction once the client has
  // exited is its session's close. A leaf removed by the close has pzxid equal to it.
  await using zk = await LocalZooKeeper.start();
  await using observer = ZkSession.open({ connectionString: zk.connectionString });
  await observer.waitUntilConnected({ timeoutMs: 10_000 });
  const dir = await Deno.makeTempDir({ prefix: "zkcm-client-test-" });
  try {
    const nodesFile = await writeNodes(dir, SAMPLE);
    await using program = await client({ ZK_HOST: zk.connectionString, NODES_FILE: nodesFile });
    await registeredBy(program);
    assert((await observer.exists(SERVICE)) !== null, "registered");
    program.kill("SIGTERM");
    assertEquals((await program.finished()).code, 0);
    assertEquals(await observer.exists(SERVICE), null, "the leaf is gone");
    const removedBy = (await observer.exists("/cluster1/ch_http_node1"))!.pzxid;
    const lastZxid = BigInt(/^Zxid: (0x[0-9a-f]+)$/m.exec(await zk.fourLetterWord("srvr"))![1]);
    assert(
      removedBy < lastZxid,
      `the leaf was removed by transaction 0x${removedBy.toString(16)}, the session's close ` +
        `(0x${lastZxid.toString(16)}), not by the client before it`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
