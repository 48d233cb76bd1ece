/**
 * The monitor as users run it: `monitor.ts` as a child process with exactly the permissions of
 * `deno task monitor`, the client as another, a real ZooKeeper, the stand-in proxy, real signals.
 */
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
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
import { freePort } from "../../testing/convergence.ts";
import { childPids } from "../../testing/process_info.ts";
import { ConnectRecorder } from "../../testing/connect_recorder.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor, withTimeout } from "../../testing/wait.ts";

const SERVICE = "/cluster1/ch_http_node1/ch_http_service2";

function monitor(
  env: Record<string, string>,
  args: string[] = [],
  launcher: Launcher = "run",
): Promise<Program> {
  return Program.start("monitor.ts", { task: "monitor", env, args, launcher });
}

Deno.test("monitor process with the client process", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await StandInAsabru.start({ behaviour: "documented" });
  const statusPort = freePort();
  await using program = await monitor({
    ZK_HOST: zk.connectionString,
    ZK_ROOT_NODE: "/cluster1",
    ASABRU_API_URL: proxy.url,
    STATUS_PORT: String(statusPort),
    STATUS_HOST: "127.0.0.1",
    STATUS_TOKEN: "the-operator's-secret",
    ZK_SESSION_TIMEOUT: "2s",
  });
  const status = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${statusPort}${path}`, init);
  await program.waitForLine(/synced/, 15_000);

  await t.step(
    "a client registers: the proxy gets one add; SIGTERM: one delete, before its session expires",
    async () => {
      const added = proxy.nextRequest((r) => r.op === "add");
      await using client = await Program.start("client.ts", {
        task: "client",
        env: { ZK_HOST: zk.connectionString, REGISTER: `${SERVICE}=localhost:2023` },
      });
      const add = await withTimeout(added, 10_000, "the add");
      assertEquals(
        [add.endPoint, add.service, add.host, add.port],
        ["ch_http_node1", "ch_http_service2", "localhost", 2023],
      );
      const deleted = proxy.nextRequest((r) => r.op === "delete");
      client.kill("SIGTERM");
      assertEquals((await client.finished()).code, 0);
      // The client's own delete, not its session's expiry (10 s, its default): the leaf is gone
      // the moment the client has exited. No wall-clock bound: a loaded machine is slow too.
      await using observer = ZkSession.open({ connectionString: zk.connectionString });
      await observer.waitUntilConnected({ timeoutMs: 10_000 });
      assertEquals(await observer.exists(SERVICE), null, "the leaf is gone once the client exited");
      await withTimeout(deleted, 10_000, "the delete after SIGTERM");
      assertEquals(proxy.requests.map((r) => `${r.op} ${r.service}`), [
        "add ch_http_service2",
        "delete ch_http_service2",
      ]);
      // A change is logged where it happens, one line each.
      await program.waitForLine(/sent add ch_http_node1\/ch_http_service2 to/, 5000);
      await program.waitForLine(/sent delete ch_http_node1\/ch_http_service2 to/, 5000);
    },
  );

  await t.step("status: /readyz, /v1/services, /metrics", async () => {
    await using writer = ZkSession.open({ connectionString: zk.connectionString });
    await writer.waitUntilConnected({ timeoutMs: 5000 });
    await writer.create("/cluster1/ch_http_node1/svc-a", new TextEncoder().encode("10.0.0.1:8123"));
    // Delivered as the monitor itself reports it: the proxy holding the service comes first,
    // and the proxy's answer may still be on its way to the monitor at that instant.
    const svcA = async () =>
      (await (await status("/v1/services")).json()).endPoints.ch_http_node1?.["svc-a"];
    await waitFor(
      async () => (await svcA())?.delivered?.[proxy.url] === true,
      10_000,
      "svc-a delivered, as the monitor reports it",
    );
    assertEquals(proxy.list("ch_http_node1").length, 1);
    await waitFor(async () => (await status("/readyz")).status === 200, 5000, "ready");
    const services = await (await status("/v1/services")).json();
    assertEquals(services.endPoints.ch_http_node1["svc-a"].host, "10.0.0.1");
    assertEquals(services.endPoints.ch_http_node1["svc-a"].delivered[proxy.url], true);
    assertEquals(services.watchMode, "recursiveWatch");
    const metrics = await (await status("/metrics")).text();
    assertMatch(metrics, /^zkcm_mirror_watch_mode\{mode="recursiveWatch"\} 1$/m);
    assertMatch(metrics, /^zkcm_mirror_watch_mode\{mode="oneShotWatches"\} 0$/m);
    assertMatch(metrics, /zkcm_delivery_pending\{proxy="[^"]+"\} 0/);
    assertMatch(metrics, /zkcm_zookeeper_session_state\{state="connected"\} 1/);
    // The process's own memory, as the monitor process itself reads it: tens of MB, not zero.
    const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(metrics)?.[1]);
    assert(rss > 10_000_000 && rss < 2_000_000_000, `process_resident_memory_bytes ${rss}`);
    assertMatch(metrics, /^zkcm_js_heap_bytes\{kind="used"\} [1-9]\d*$/m);
  });

  await t.step("a proxy restarted empty, then SIGHUP: restored without duplicates", async () => {
    proxy.restartEmpty();
    const linesBefore = program.lines.length;
    program.kill("SIGHUP");
    await waitFor(() => proxy.list("ch_http_node1").length === 1, 5000, "restored");
    // A resync is one summary line, not a line per request (thousands, in a large cluster).
    await program.waitForLine(/in step after the resync: 2 requests in \d+ ms/, 5000);
    const perRequest = program.lines.slice(linesBefore).filter((line) => /"sent /.test(line));
    assertEquals(perRequest, []);
    assertEquals(proxy.everDuplicated(), [], "no second slot at any moment");
  });

  await t.step("POST /v1/resync does the same", async () => {
    proxy.restartEmpty();
    const linesBefore = program.lines.length;
    const answer = await status("/v1/resync", {
      method: "POST",
      headers: { Authorization: "Bearer the-operator's-secret" },
    });
    assertEquals(answer.status, 202);
    await answer.body?.cancel();
    await waitFor(
      () => program.lines.slice(linesBefore).some((line) => /in step after the resync/.test(line)),
      5000,
      "the resync's summary",
    );
    assertEquals(proxy.list("ch_http_node1").map((entry) => entry.service), ["svc-a"]);
    assertEquals(proxy.everDuplicated(), []);
  });

  await t.step(
    "a resync of a proxy that holds everything: delete, then add; never two slots",
    async () => {
      // The proxy keeps what it holds (no restart): a resync that only re-adds would append a
      // second slot per service (documented behaviour: adds append).
      assertEquals(proxy.behaviour, "documented");
      const held = proxy.list("ch_http_node1").map((entry) => entry.service);
      assertEquals(held, ["svc-a"], "the proxy holds the service before the resync");
      const before = proxy.requests.length;
      const linesBefore = program.lines.length;
      program.kill("SIGHUP");
      await waitFor(
        () =>
          program.lines.slice(linesBefore).some((line) => /in step after the resync/.test(line)),
        5000,
        "the resync's summary",
      );
      assertEquals(
        proxy.requests.slice(before).map((r) => `${r.op} ${r.service}`),
        ["delete svc-a", "add svc-a"],
      );
      assertEquals(proxy.list("ch_http_node1").map((entry) => entry.service), ["svc-a"]);
      assertEquals(proxy.everDuplicated(), [], "no second slot at any moment");
    },
  );

  await t.step("SIGTERM: exits 0, its last log line written", async () => {
    program.kill("SIGTERM");
    const { code, lines } = await program.finished();
    assertEquals(code, 0);
    assertMatch(lines.at(-1) ?? "", /"message":"stopped"/);
  });
});

Deno.test("monitor process: one stop request, however delivered, settles and exits 0", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await StandInAsabru.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  let roots = 0;

  /**
   * A monitor of a fresh root, synced, with an add in flight at the proxy, which answers it only
   * after `answerAfterMs`: until then the monitor's shutdown has a request to settle.
   */
  async function monitorWithAddInFlight(launcher: Launcher, answerAfterMs: number) {
    const root = `/stop${++roots}`;
    const program = await monitor(
      {
        ZK_HOST: zk.connectionString,
        ZK_ROOT_NODE: root,
        ASABRU_API_URL: proxy.url,
        ZK_SESSION_TIMEOUT: "2s",
        LOG_LEVEL: "debug",
      },
      [],
      launcher,
    );
    await program.waitForLine(/synced/, 15_000);
    await proxy.setMode("slow", { slowMs: answerAfterMs });
    const service = `svc${roots}`;
    const arrived = proxy.nextRequest((request) => request.service === service);
    await writer.ensurePath(`${root}/ch_http_node1`);
    await writer.create(`${root}/ch_http_node1/${service}`, new TextEncoder().encode("h:1"));
    await withTimeout(arrived, 10_000, "the add reaches the proxy");
    return { program, sent: new RegExp(`sent add ch_http_node1/${service} to`) };
  }

  try {
    for (const launcher of LAUNCHERS) {
      for (const signal of STOP_SIGNALS) {
        for (const target of TARGETS) {
          await t.step(
            `${launcherName(launcher, "monitor")}: ${signal} to the ${target}`,
            async () => {
              const { program, sent } = await monitorWithAddInFlight(launcher, 500);
              await using _ = program;
              deliver(program, target, signal);
              const { code, lines } = await program.finished();
              assertEquals(code, 0, lines.join("\n"));
              const settled = lines.findIndex((line) => sent.test(line));
              assert(settled >= 0, "the add in flight was settled");
              assertMatch(lines.at(-1) ?? "", /"message":"stopped"/);
            },
          );
        }
      }
    }

    // The duplicate for sure: a moment after the first was handled, while the add is in flight.
    for (const signal of STOP_SIGNALS) {
      await t.step(`${signal} delivered twice at once is one request: exit 0`, async () => {
        await untilProvedDuplicate(async () => {
          const { program, sent } = await monitorWithAddInFlight("run", 1000);
          await using _ = program;
          const proved = await assertDuplicateIsOneRequest(program, signal, /stopping/);
          if (proved.duplicate) {
            assert(proved.lines.some((line) => sent.test(line)), "the add in flight settled");
          }
          return proved;
        });
      });
    }

    for (const launcher of LAUNCHERS) {
      for (const signal of STOP_SIGNALS) {
        await t.step(
          `${launcherName(launcher, "monitor")}: a second ${signal} later exits at once`,
          async () => {
            const { program } = await monitorWithAddInFlight(launcher, 10_000);
            await using _ = program;
            await assertSecondSignalExitsAtOnce(program, signal, /stopping/);
          },
        );
      }
    }
  } finally {
    await proxy.setMode("ok");
  }
});

Deno.test("monitor process: SIGUSR1 and SIGUSR2 neither stop it nor open a port", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await StandInAsabru.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  for (const launcher of LAUNCHERS) {
    await t.step(launcherName(launcher, "monitor"), async () => {
      const root = `/usr-${launcher}`;
      await using program = await monitor(
        {
          ZK_HOST: zk.connectionString,
          ZK_ROOT_NODE: root,
          ASABRU_API_URL: proxy.url,
          LOG_LEVEL: "debug",
        },
        [],
        launcher,
      );
      await program.waitForLine(/synced/, 15_000);
      // Only once the runtime has installed its own SIGUSR1 handler can it open an inspector.
      await program.waitForLine(/runtime's inspector handler replaced/, 15_000);
      const { pid, assertNoInspector } = await programProcess(program, launcher);
      Deno.kill(pid, "SIGUSR1");
      Deno.kill(pid, "SIGUSR2");
      await program.waitForLine(/SIGUSR2 ignored/, 5000);
      // Still working: a new service reaches the proxy.
      const added = proxy.nextRequest((request) => request.service === "after-usr");
      await writer.ensurePath(`${root}/ch_http_node1`);
      await writer.create(`${root}/ch_http_node1/after-usr`, new TextEncoder().encode("h:1"));
      await withTimeout(added, 10_000, "the add after the signals");
      await assertNoInspector();
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
    });
  }
});

/**
 * The local ZooKeeper's JVM once the monitor has spawned it: its pid and its directory. `pid` is
 * the monitor's, or under `deno task` that of `deno task` (the JVM is then a grandchild).
 */
async function startingZooKeeper(pid: number): Promise<{ pid: number; directory: string }> {
  let found: { pid: number; directory: string } | undefined;
  await waitFor(
    async () => {
      const monitors = [pid, ...await childPids(pid)];
      for (const pid of (await Promise.all(monitors.map(childPids))).flat()) {
        const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
        const directory = cmdline.split("\0").map((arg) => /(\/\S*zkcm-zk-[^/]+)/.exec(arg)?.[1])
          .find(Boolean);
        if (directory) found = { pid, directory };
      }
      return found !== undefined;
    },
    30_000,
    "the local ZooKeeper's JVM",
  );
  return found!;
}

/** Whether `pid` runs: a process killed but not yet reaped (a zombie, state Z) does not. */
const alive = (pid: number) => {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};
const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** Kills what a monitor without the fix left behind, so that one failure does not leak a JVM. */
async function cleanUp({ pid, directory }: { pid: number; directory: string }): Promise<void> {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Stopped by the monitor, as it should be.
  }
  await Deno.remove(directory, { recursive: true }).catch(() => {});
}

Deno.test("monitor process: a stop during --local-zookeeper start-up stops that ZooKeeper", async (t) => {
  for (const signal of STOP_SIGNALS) {
    await t.step(`${signal} while the JVM starts: exit 0, no JVM, no directory left`, async () => {
      await using program = await Program.start("monitor.ts", {
        task: "monitor:local",
        args: ["--local-zookeeper"],
        env: { ASABRU_API_URL: "http://127.0.0.1:1/updateService" },
      });
      const zookeeper = await startingZooKeeper(program.pid);
      try {
        program.kill(signal);
        const { code, lines } = await program.finished(30_000);
        assertEquals(code, 0, lines.join("\n"));
        assert(!alive(zookeeper.pid), `the JVM ${zookeeper.pid} was stopped`);
        assert(!await exists(zookeeper.directory), `${zookeeper.directory} was removed`);
      } finally {
        await cleanUp(zookeeper);
      }
    });
  }

  await t.step("the status port taken while the JVM starts: exit 1, no JVM left", async () => {
    const port = freePort();
    await using program = await Program.start("monitor.ts", {
      task: "monitor:local",
      args: ["--local-zookeeper"],
      env: { ASABRU_API_URL: "http://127.0.0.1:1/updateService", STATUS_PORT: String(port) },
    });
    const zookeeper = await startingZooKeeper(program.pid);
    // Taken after the monitor's check at start, before it listens: the listen itself fails.
    using _taken = Deno.listen({ hostname: "127.0.0.1", port });
    try {
      const { code, lines } = await program.finished(30_000);
      assertEquals(code, 1, lines.join("\n"));
      assert(lines.some((line) => line.includes(String(port))), lines.join("\n"));
      assert(!alive(zookeeper.pid), `the JVM ${zookeeper.pid} was stopped`);
      assert(!await exists(zookeeper.directory), `${zookeeper.directory} was removed`);
    } finally {
      await cleanUp(zookeeper);
    }
  });
});

Deno.test("monitor process: deno task monitor:local stopped from its terminal", async (t) => {
  // Ctrl-C signals the terminal's whole process group. The throwaway ZooKeeper is not part of
  // it: were it, it would die with the monitor's session still open, which the monitor then
  // logs as a lost connection during its own stop. Yet it never outlives the monitor.
  const start = async () => {
    const proxy = await StandInAsabru.start();
    const program = await Program.start("monitor.ts", {
      task: "monitor:local",
      launcher: "task",
      env: { ASABRU_API_URL: proxy.url },
    });
    await program.waitForLine(/synced/, 60_000);
    return { proxy, program, zookeeper: await startingZooKeeper(program.pid) };
  };

  await t.step("Ctrl-C: a quiet orderly stop, then no JVM and no directory", async () => {
    const { proxy, program, zookeeper } = await start();
    await using _proxy = proxy;
    await using _program = program;
    try {
      const linesBefore = program.lines.length;
      program.killGroup("SIGINT");
      const { code, lines } = await program.finished(30_000);
      const stop = lines.slice(linesBefore);
      assertEquals(code, 0, lines.join("\n"));
      assert(stop.some((line) => line.includes('"stopped"')), stop.join("\n"));
      const complaints = stop.filter((line) => /"level":"(WARN|ERROR|FATAL)/i.test(line));
      assertEquals(complaints, [], "nothing but the stop itself is logged");
      assert(!alive(zookeeper.pid), `the JVM ${zookeeper.pid} was stopped`);
      assert(!await exists(zookeeper.directory), `${zookeeper.directory} was removed`);
    } finally {
      await cleanUp(zookeeper);
    }
  });

  for (const target of TARGETS) {
    await t.step(`SIGKILL to the ${target}: the JVM goes with the monitor`, async () => {
      const { proxy, program, zookeeper } = await start();
      await using _proxy = proxy;
      await using _program = program;
      try {
        // The monitor itself, not deno task (which would leave its child running).
        const monitor = target === "pid" ? (await childPids(program.pid))[0] : program.pid;
        Deno.kill(target === "pid" ? monitor : -monitor, "SIGKILL");
        await waitFor(() => !alive(zookeeper.pid), 10_000, `the JVM ${zookeeper.pid} gone`);
      } finally {
        await cleanUp(zookeeper);
      }
    });
  }
});

Deno.test("monitor process: bad configuration is one line and exit 2; --help", async () => {
  const template = await Deno.makeTempFile({ suffix: ".xml" });
  await Deno.writeTextFile(template, "<proxy><END_POINT name='e'><SERVICES/></END_POINT></proxy>");
  const cases: [Record<string, string>, RegExp][] = [
    [
      { ASABRU_CONFIG_TEMPLATE: `${template}.missing` },
      /--asabru-config-template \(ASABRU_CONFIG_TEMPLATE\): ".*" cannot be read: No such file/,
    ],
    [{ ASABRU_CONFIG_TEMPLATE: template }, /ASABRU_CONFIG_TEMPLATE.*no <protocol-server-config>/],
    [{ ASABRU_API_URL: "ftp://proxy/updateService" }, /--asabru-url \(ASABRU_API_URL\)/],
    [{ ZK_ROOT_NODE: "cluster1" }, /--root \(ZK_ROOT_NODE\).*absolute/],
    [{ ZK_HOST: "a:1,,b:2" }, /--zk-host \(ZK_HOST\)/],
    [{ RESYNC_INTERVAL: "often" }, /RESYNC_INTERVAL.*duration/],
    [{ ASABRU_API_TOKEN: "has space" }, /ASABRU_API_TOKEN.*hidden/],
    [
      { STATUS_TOKEN_FILE: "/nonexistent/zkcm-token" },
      /^zk-monitor: --status-token-file \(STATUS_TOKEN_FILE\): \/nonexistent\/zkcm-token: /,
    ],
  ];
  // Where ZooKeeper and the proxy would be: proves that no connection was even opened.
  await using recorder = ConnectRecorder.start();
  const targets = {
    ZK_HOST: recorder.address,
    ASABRU_API_URL: `http://${recorder.address}/updateService`,
  };
  for (const [env, expected] of cases) {
    const program = await monitor({ ...targets, ...env });
    const { code, lines } = await program.finished();
    const printed = lines.filter((line) => line.trim() !== "");
    assertEquals(code, 2, `${JSON.stringify(env)}: ${printed.join(" | ")}`);
    assertEquals(printed.length, 1, `${JSON.stringify(env)}: ${printed.join(" | ")}`);
    assertMatch(printed[0], expected);
    assert(!printed[0].includes("has space"), "a secret is never echoed");
  }
  await Deno.remove(template);
  assertEquals(recorder.connects, 0, "no connection to ZooKeeper or the proxy was opened");
  const help = await monitor({}, ["--help"]);
  const { code, stdout } = await help.finished();
  assertEquals(code, 0);
  for (const name of ["ZK_HOST", "ZK_ROOT_NODE", "ASABRU_API_URL", "RESYNC_INTERVAL", "SIGHUP"]) {
    assert(stdout.some((line) => line.includes(name)), `--help mentions ${name}`);
  }
});
