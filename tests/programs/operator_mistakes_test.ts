/**
 * What a fault-finding user broke (issue 20), each as it happened: the programs as real processes
 * (with exactly their tasks' permissions), a real ZooKeeper, the stand-in proxy, real signals.
 */
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { Program } from "../../testing/program.ts";
import { freePort } from "../../testing/convergence.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor, withTimeout } from "../../testing/wait.ts";

const text = new TextEncoder();

function client(env: Record<string, string>): Promise<Program> {
  return Program.start("client.ts", { task: "client", env });
}

function monitor(env: Record<string, string>): Promise<Program> {
  return Program.start("monitor.ts", { task: "monitor", env });
}

/** `GET path` of a status server on 127.0.0.1: status and body text. */
/** The operator's secret the monitors of these tests get: `POST /v1/resync` needs it. */
const STATUS_TOKEN = "operator-mistakes-token";

async function status(port: number, path: string, method = "GET") {
  const headers = { Authorization: `Bearer ${STATUS_TOKEN}` };
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers });
  return { status: response.status, body: await response.text() };
}

function metric(body: string, name: string): number {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(body);
  assert(match, `metric ${name} in\n${body}`);
  return Number(match[1]);
}

function count(lines: readonly string[], pattern: RegExp): number {
  return lines.filter((line) => pattern.test(line)).length;
}

Deno.test("the client: a large registration, a missing chroot, no session at all", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using observer = ZkSession.open({ connectionString: zk.connectionString });
  await observer.waitUntilConnected({ timeoutMs: 10_000 });
  const dir = await Deno.makeTempDir({ prefix: "zkcm-mistakes-" });
  try {
    await t.step("SIGTERM during a registration of 20,000: prompt, clean, exit 0", async () => {
      const entries: Record<string, string> = {};
      const total = 20_000;
      for (let i = 0; i < total; i++) entries[`/big/ep/s${i}`] = `h:${1 + i}`;
      const file = `${dir}/big.json`;
      await Deno.writeTextFile(file, JSON.stringify(entries));
      const program = await client({ ZK_HOST: zk.connectionString, NODES_FILE: file });
      await program.waitForLine(/"message":"\/big\/ep\/s\d+ registered"/, 30_000);
      program.kill("SIGTERM");
      const { code, lines } = await program.finished(30_000);
      assertEquals(code, 0);
      // It stopped registering at once instead of registering everything first (before: all
      // 20,000, then 13 s to exit).
      const registered = count(lines, / registered"/);
      assert(registered < total / 2, `${registered} registered before it stopped`);
      assertEquals((await observer.getChildren("/big/ep")).children, [], "nothing left behind");
      assertMatch(lines.at(-1) ?? "", /"message":"stopped"/);
    });

    await t.step(
      "a missing chroot: one line naming it, on /readyz too; registers once made",
      async () => {
        const statusPort = freePort();
        await using program = await client({
          ZK_HOST: `${zk.connectionString}/nochroot`,
          REGISTER: "/cluster1/ep/svc=h:1",
          STATUS_PORT: String(statusPort),
          STATUS_HOST: "127.0.0.1",
        });
        const chrootLine = /ZooKeeper chroot \/nochroot .*does not exist: create it/;
        await program.waitForLine(chrootLine, 15_000);
        const ready = await status(statusPort, "/readyz");
        assertEquals(ready.status, 503);
        assertMatch(JSON.parse(ready.body).reasons[0], chrootLine);
        await observer.create("/nochroot");
        await program.waitForLine(/\/cluster1\/ep\/svc registered/, 15_000);
        await program.waitForLine(/ZooKeeper chroot \/nochroot exists now/, 5000);
        await waitFor(
          async () => (await status(statusPort, "/readyz")).status === 200,
          5000,
          "ready once the chroot exists",
        );
        assertEquals(count(program.lines, chrootLine), 1, "said once");
        program.kill("SIGTERM");
        assertEquals((await program.finished()).code, 0);
        await observer.deleteRecursive("/nochroot");
      },
    );

    await t.step("a listed parent with other data is reported, not silently kept", async () => {
      await observer.create("/kept", text.encode("theirs"));
      await using program = await client({
        ZK_HOST: zk.connectionString,
        REGISTER: "/kept=ours,/kept/ep/svc=h:1",
      });
      const line = await program.waitForLine(/\/kept exists with other data than listed/, 15_000);
      assertMatch(line, /listed \\"ours\\", found \\"theirs\\"/);
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
      assertEquals(new TextDecoder().decode((await observer.getData("/kept")).data), "theirs");
    });

    await t.step("stopped before any session existed: no 'session 0x0'", async () => {
      const nowhere = `127.0.0.1:${freePort()}`;
      const program = await client({ ZK_HOST: nowhere, REGISTER: "/c/ep/svc=h:1" });
      await program.waitForLine(/registering 1 services/, 10_000);
      program.kill("SIGTERM");
      const { code, lines } = await program.finished();
      assertEquals(code, 0);
      assertEquals(count(lines, /0x0/), 0, lines.join("\n"));
      assertEquals(count(lines, /closed before a ZooKeeper session was established/), 1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the monitor: a hostile tree, a wrong proxy path, a resync under load", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using proxy = await StandInAsabru.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  const statusPort = freePort();
  await writer.ensurePath("/cluster1/ep");
  /** The monitor on `proxy`, once it has delivered what was there at its start. */
  const startedMonitor = async () => {
    const program = await monitor({
      ZK_HOST: zk.connectionString,
      ASABRU_API_URL: proxy.url,
      STATUS_PORT: String(statusPort),
      STATUS_HOST: "127.0.0.1",
      STATUS_TOKEN,
    });
    await program.waitForLine(/in step after the start-up/, 15_000);
    return program;
  };

  await t.step(
    "invalid and odd services: reported once each, counted, lines kept short",
    async () => {
      const longName = "n".repeat(100_000);
      const invalid: [string, Uint8Array][] = [
        ["bom", new Uint8Array([0xef, 0xbb, 0xbf, ...text.encode("localhost:2023")])],
        ["underscore", text.encode("_:80")],
        ["unspecified", text.encode("0.0.0.0:80")],
        ["dot", text.encode(".:80")],
        [longName, text.encode("h:1")],
      ];
      for (const [name, data] of invalid) {
        await writer.create(`/cluster1/ep/${name}`, data, { mode: "ephemeral" });
      }
      await writer.create("/cluster1/ep/good", text.encode("h:2"), { mode: "ephemeral" });
      await writer.create("/cluster1/ep/persistent", text.encode("h:3"));
      await writer.create("/cluster1/ep/deep", text.encode("h:4"));
      await writer.create("/cluster1/ep/deep/extra", text.encode("h:5"));

      await using program = await startedMonitor();
      assertEquals(proxy.list("ep").map((entry) => entry.service).sort(), [
        "deep",
        "good",
        "persistent",
      ]);
      const notSending = (name: string) => new RegExp(`"message":"not sending ep/${name}: `);
      assertMatch(
        await program.waitForLine(notSending("bom"), 1000),
        /starts with a UTF-8 byte order mark/,
      );
      assertMatch(
        await program.waitForLine(notSending("underscore"), 1000),
        /hostname label has no letter or digit/,
      );
      assertMatch(
        await program.waitForLine(notSending("unspecified"), 1000),
        /0\.0\.0\.0 is the unspecified address/,
      );
      assertMatch(await program.waitForLine(notSending("dot"), 1000), /empty label in hostname/);
      const long = await program.waitForLine(/not sending ep\/nnnn/, 1000);
      assert(long.length < 3000, `a line of ${long.length} characters`);
      assertMatch(long, /… \(100003 characters\)/);
      assertMatch(
        await program.waitForLine(/ep\/persistent is a persistent znode/, 1000),
        /stays in the proxy after its node dies/,
      );
      assertMatch(
        await program.waitForLine(/ep\/deep is a persistent znode, with 1 child/, 1000),
        /a level below services, ignored/,
      );
      for (const line of program.lines) assert(line.length < 3000, `${line.length} characters`);

      const metrics = (await status(statusPort, "/metrics")).body;
      assertEquals(metric(metrics, "zkcm_mirror_services"), 3, "valid services only");
      assertEquals(metric(metrics, "zkcm_mirror_invalid_services"), 5);
      assertEquals(metric(metrics, "zkcm_mirror_persistent_services"), 2);
      const services = JSON.parse((await status(statusPort, "/v1/services")).body);
      assertMatch(services.endPoints.ep.persistent.warning, /persistent znode/);

      // Cleaned up for the next steps: only valid, ephemeral services remain.
      for (const [name] of invalid) await writer.delete(`/cluster1/ep/${name}`);
      await writer.deleteRecursive("/cluster1/ep/deep");
      await writer.delete("/cluster1/ep/persistent");
      await waitFor(() => proxy.list("ep").length === 1, 5000, "the proxy holds only ep/good");
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
    },
  );

  await t.step("a resync under load is one summary line, not a line per request", async () => {
    for (let i = 0; i < 40; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${100 + i}`), { mode: "ephemeral" });
    }
    await using program = await startedMonitor();
    await proxy.setMode("slow", { slowMs: 300 });
    const inFlight = proxy.nextRequest();
    assertEquals((await status(statusPort, "/v1/resync", "POST")).status, 202);
    await withTimeout(inFlight, 5000, "a request of the first resync in flight");
    // A second resync while the first one's requests are in flight: each answer that comes back
    // belongs to the older resync and is redone, at debug level.
    const linesBefore = program.lines.length;
    assertEquals((await status(statusPort, "/v1/resync", "POST")).status, 202);
    await proxy.setMode("ok");
    await program.waitForLine(/in step after the resync/, 20_000);
    const after = program.lines.slice(linesBefore);
    assertEquals(count(after, /during a resync/), 0, after.join("\n"));
    assertEquals(count(after, /"message":"sent /), 0);
    assertEquals(proxy.duplicates(), []);
    program.kill("SIGTERM");
    assertEquals((await program.finished()).code, 0);
  });

  await t.step(
    "a proxy URL that answers 404: one line naming it, counted, on /readyz",
    async () => {
      const wrong = proxy.url.replace("/updateService", "/updateServices");
      await using program = await monitor({
        ZK_HOST: zk.connectionString,
        ASABRU_API_URL: wrong,
        STATUS_PORT: String(statusPort),
        STATUS_HOST: "127.0.0.1",
        RETRY_MAX: "250ms",
      });
      const line = await program.waitForLine(/is not the proxy's update route/, 15_000);
      assert(line.includes(wrong), line);
      assertMatch(line, /"level":"ERROR"/);
      assertMatch(line, /HTTP 404/);
      // Still retried at the capped back-off, and said once.
      await waitFor(
        async () => {
          const metrics = (await status(statusPort, "/metrics")).body;
          return /zkcm_delivery_results_total\{[^}]*result="misconfigured"\} ([3-9]|\d\d+)/.test(
            metrics,
          );
        },
        15_000,
        "three wrong-route answers counted",
      );
      assertEquals(count(program.lines, /is not the proxy's update route/), 1);
      assertEquals(count(program.lines, /unreachable/), 0, "not called unreachable");
      const ready = await status(statusPort, "/readyz");
      assertEquals(ready.status, 503);
      assertMatch(ready.body, /answers HTTP 404.*check ASABRU_API_URL/);
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
    },
  );
});

Deno.test("the monitor: a missing chroot, and what others leave in the election path", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  const ports = [freePort(), freePort()];
  const start = (index: number, extra: Record<string, string> = {}) =>
    monitor({
      ZK_HOST: zk.connectionString,
      STATUS_PORT: String(ports[index]),
      STATUS_HOST: "127.0.0.1",
      MONITOR_ID: `monitor-${index}`,
      ...extra,
    });

  await t.step(
    "a missing chroot: said once, the election's retries quiet, /readyz names it",
    async () => {
      await using program = await start(0, {
        ZK_HOST: `${zk.connectionString}/nochroot`,
        LOG_LEVEL: "debug",
      });
      const chrootLine = /ZooKeeper chroot \/nochroot .*does not exist: create it/;
      await program.waitForLine(chrootLine, 15_000);
      // Before: a warning every half second. Now the first failure is a warning, the same one
      // again is at debug level (and at most once a minute a warning).
      await waitFor(
        () => count(program.lines, /election pass failed again/) >= 3,
        15_000,
        "three failed election passes",
      );
      assertEquals(count(program.lines, /"level":"WARN","message":"election pass failed/), 1);
      assertEquals(count(program.lines, chrootLine), 1);
      const ready = await status(ports[0], "/readyz");
      assertEquals(ready.status, 503);
      assertMatch(ready.body, /ZooKeeper chroot \/nochroot/);
      await writer.create("/nochroot");
      await program.waitForLine(/"message":"leading, epoch/, 15_000);
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
    },
  );

  await t.step(
    "stale persistent nodes: ignored with a warning, never deleted, it leads",
    async () => {
      await writer.ensurePath("/cluster1-election");
      await writer.create("/cluster1-election/candidate-0", text.encode("junk"));
      const sequential = await writer.create(
        "/cluster1-election/candidate-",
        text.encode("{left by a tool}"),
        { mode: "persistent_sequential" },
      );
      await using program = await start(0);
      await program.waitForLine(/"message":"leading, epoch/, 15_000);
      assertMatch(
        await program.waitForLine(/ignoring \/cluster1-election\/candidate-0 /, 1000),
        /\(data \\"junk\\"\).*its name is not a candidate's/,
      );
      assertMatch(
        await program.waitForLine(new RegExp(`ignoring ${sequential} `), 1000),
        /\(data \\"\{left by a tool\}\\"\) in the election path: it is persistent/,
      );
      await waitFor(
        async () => (await status(ports[0], "/readyz")).status === 200,
        5000,
        "ready",
      );
      assert(await writer.exists("/cluster1-election/candidate-0"), "not ours: kept");
      assert(await writer.exists(sequential), "not ours: kept");
      program.kill("SIGTERM");
      assertEquals((await program.finished()).code, 0);
    },
  );

  await t.step("a foreign ephemeral node first: both say who leads, neither is ready", async () => {
    await using foreign = ZkSession.open({ connectionString: zk.connectionString });
    await foreign.waitUntilConnected({ timeoutMs: 5000 });
    const node = await foreign.create("/cluster1-election/candidate-", new Uint8Array(), {
      mode: "ephemeral_sequential",
    });
    await using first = await start(0);
    await using second = await start(1);
    for (const [index, program] of [first, second].entries()) {
      const line = await program.waitForLine(/standing by \(epoch \d+\): /, 15_000);
      assert(line.includes(`${node} (data \\"\\") leads`), line);
      await program.waitForLine(/no monitor leads: the lowest candidate/, 5000);
      await waitFor(
        async () => (await status(ports[index], "/readyz")).status === 503,
        5000,
        `monitor ${index} not ready`,
      );
      const ready = await status(ports[index], "/readyz");
      assertMatch(ready.body, /no monitor leads: the lowest candidate .*data is empty/);
    }
    assertEquals(count([...first.lines, ...second.lines], /"message":"leading/), 0);
    assert(await writer.exists(node), "not ours: kept");

    await foreign.close(); // its session ends: its node goes, a monitor leads
    await waitFor(
      () => count([...first.lines, ...second.lines], /"message":"leading/) === 1,
      15_000,
      "one monitor leads",
    );
    for (const port of ports) {
      await waitFor(async () => (await status(port, "/readyz")).status === 200, 10_000, "ready");
    }
    first.kill("SIGTERM");
    second.kill("SIGTERM");
    assertEquals((await first.finished()).code, 0);
    assertEquals((await second.finished()).code, 0);
  });
});
