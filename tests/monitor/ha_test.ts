/**
 * High availability: three monitor processes on one root, exactly one writing; the leader killed
 * or cut off, a standby taking over with no duplicate and no lost change. And the mass-delete
 * guard. Each monitor sends its own bearer token, so the stand-in proxy tells who sent what.
 */
import {
  type MonitorApp,
  type MonitorOptions,
  monitorOptions,
  parseOptions,
  startMonitor,
} from "../../mod.ts";
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { LocalEnsemble, LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { Program } from "../../testing/program.ts";
import { expireSession } from "../../testing/expire_session.ts";
import { converged, freePort, proxyState } from "../../testing/convergence.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const text = new TextEncoder();

interface Replica {
  name: string;
  program: Program;
  statusPort: number;
}

async function startReplica(name: string, zkHost: string, proxy: StandInAsabru): Promise<Replica> {
  const statusPort = freePort();
  const program = await Program.start("monitor.ts", {
    task: "monitor",
    env: {
      ZK_HOST: zkHost,
      ASABRU_API_URL: proxy.url,
      ASABRU_API_TOKEN: name,
      ASABRU_TIMEOUT: "500ms",
      RETRY_MAX: "300ms",
      ZK_SESSION_TIMEOUT: "2s",
      STATUS_PORT: String(statusPort),
      STATUS_HOST: "127.0.0.1",
      MONITOR_ID: name,
    },
  });
  return { name, program, statusPort };
}

/** SIGTERM to every replica still running, then waits for each to be gone. */
async function stopReplicas(replicas: readonly Replica[]): Promise<void> {
  for (const replica of replicas) {
    try {
      replica.program.kill("SIGTERM");
    } catch {
      // exited already (killed by a step)
    }
    await replica.program.finished().catch(() => {});
    await replica.program[Symbol.asyncDispose]();
  }
}

async function isLeader(replica: Replica): Promise<boolean> {
  try {
    const metrics = await (await fetch(`http://127.0.0.1:${replica.statusPort}/metrics`)).text();
    return /^zkcm_leader 1$/m.test(metrics);
  } catch {
    return false;
  }
}

/**
 * {@link converged}, then waits until the leader among `replicas` has nothing pending for the
 * proxy (a retry still to go out would otherwise be missed), and checks again, history included.
 */
async function settledWith(
  proxy: StandInAsabru,
  writer: ZkSession,
  replicas: readonly Replica[],
  what: string,
): Promise<void> {
  await converged(proxy, writer, what);
  await waitFor(
    async () => {
      for (const replica of replicas) {
        if (!(await isLeader(replica))) continue;
        const metrics = await (await fetch(`http://127.0.0.1:${replica.statusPort}/metrics`))
          .text();
        return /^zkcm_delivery_pending\{[^}]*\} 0$/m.test(metrics);
      }
      return false;
    },
    10_000,
    `${what}: the leader has nothing pending`,
  );
  await converged(proxy, writer, `${what} (nothing pending)`);
}

const senders = (proxy: StandInAsabru, from = 0) =>
  new Set(proxy.requests.slice(from).map((r) => r.authorization));

Deno.test("three monitors: one writes; the leader killed or cut off, a standby takes over", async (t) => {
  await using ensemble = await LocalEnsemble.start(3);
  await using writer = ZkSession.open({ connectionString: ensemble.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  await writer.ensurePath("/cluster1/ep");
  await using proxy = await StandInAsabru.start();
  // The leader-to-be connects through fault proxies, so it can be cut off from ZooKeeper.
  const faults = await Promise.all(
    ensemble.members.map((m) => FaultProxy.start({ hostname: "127.0.0.1", port: m.port })),
  );
  const replicas: Replica[] = [];
  try {
    replicas.push(await startReplica("m1", faults.map((f) => f.address).join(","), proxy));
    await waitFor(() => isLeader(replicas[0]), 15_000, "m1 leads");
    replicas.push(await startReplica("m2", ensemble.connectionString, proxy));
    replicas.push(await startReplica("m3", ensemble.connectionString, proxy));
    await Promise.all(replicas.slice(1).map((r) => r.program.waitForLine(/synced/, 15_000)));

    await t.step("exactly one monitor delivers: one add per service", async () => {
      for (let i = 0; i < 20; i++) {
        await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${1000 + i}`));
      }
      await settledWith(proxy, writer, replicas, "three monitors");
      assertEquals(senders(proxy), new Set(["Bearer m1"]));
      assertEquals(proxy.requests.filter((r) => r.op === "add").length, 20);
    });

    await t.step("the leader cut off from ZooKeeper: it stops, a standby takes over", async () => {
      const before = proxy.requests.length;
      // Something for the old leader to send: a change it has seen but could not deliver (the
      // proxy refused). Were it to go on believing it leads, it would send it once the proxy
      // answers again, which is after the cut.
      await proxy.setMode("refuse");
      await writer.create("/cluster1/ep/undelivered", text.encode("h:2001"));
      await waitFor(
        async () => (await reported(replicas[0], "ep", "undelivered")) !== undefined,
        10_000,
        "m1 has seen the change",
      );
      for (const fault of faults) fault.setMode("blackhole");
      await writer.create("/cluster1/ep/while-cut-off", text.encode("h:2000"));
      await writer.delete("/cluster1/ep/s0");
      await waitFor(
        async () => (await isLeader(replicas[1])) || (await isLeader(replicas[2])),
        15_000,
        "a standby leads",
      );
      await proxy.setMode("ok");
      await settledWith(proxy, writer, replicas, "after the takeover");
      const after = proxy.requests.slice(before);
      assert(!after.some((r) => r.authorization === "Bearer m1"), "the old leader sent nothing");
      for (const fault of faults) fault.setMode("pass");
    });

    await t.step("kill -9 of the leader while changes are in flight", async () => {
      const leader = (await isLeader(replicas[1])) ? replicas[1] : replicas[2];
      for (let i = 100; i < 130; i++) {
        void writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${i}`));
      }
      leader.program.kill("SIGKILL");
      await leader.program.finished();
      for (let i = 130; i < 140; i++) {
        await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${i}`));
      }
      await settledWith(
        proxy,
        writer,
        replicas.filter((r) => r !== leader),
        "after the leader was killed",
      );
    });
  } finally {
    await stopReplicas(replicas);
    await Promise.all(faults.map((fault) => fault.close()));
  }
});

/** The service as the monitor's `/v1/services` reports it (delivered to each proxy, ...). */
async function reported(replica: Replica, endPoint: string, service: string) {
  try {
    const answer = await fetch(`http://127.0.0.1:${replica.statusPort}/v1/services`);
    const body = await answer.json();
    return body.synced ? body.endPoints?.[endPoint]?.[service] : undefined;
  } catch {
    return undefined;
  }
}

Deno.test("a leader cut off until its session expired, its successor gone meanwhile, leads again with a full resync", async () => {
  // Found by reasoning over the chaos run's handovers: the old leader came back in a new session,
  // saw no other candidate (its successor had left), led without a resync, and added again a
  // service its successor had added while it was cut off: two copies at the proxy.
  await using zk = await LocalZooKeeper.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 10_000 });
  await writer.ensurePath("/cluster1/ep");
  await writer.create("/cluster1/ep/before", text.encode("h:1000"));
  await using proxy = await StandInAsabru.start();
  await using fault = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
  const replicas: Replica[] = [];
  try {
    const first = await startReplica("a1", fault.address, proxy);
    replicas.push(first);
    await waitFor(() => isLeader(first), 15_000, "a1 leads");
    const second = await startReplica("b1", zk.connectionString, proxy);
    replicas.push(second);
    await second.program.waitForLine(/synced/, 15_000);
    await converged(proxy, writer, "a1 delivered");

    // a1 cut off until its session expires: b1 takes over.
    fault.setMode("blackhole");
    await waitFor(() => isLeader(second), 15_000, "b1 takes over");
    await writer.create("/cluster1/ep/while-away", text.encode("h:2000"));
    await converged(proxy, writer, "b1 delivered the new service");
    // b1 leaves (its candidate goes at once) before a1 is back.
    second.program.kill("SIGTERM");
    assertEquals((await second.program.finished()).code, 0);

    fault.setMode("pass");
    fault.dropAll();
    await waitFor(() => isLeader(first), 15_000, "a1 leads again");
    await waitFor(
      async () => (await reported(first, "ep", "while-away"))?.delivered?.[proxy.url] === true,
      15_000,
      "a1 holds the new service as delivered",
    );
    assertEquals(proxy.everDuplicated(), [], "one copy of each service, at every moment");
    await converged(proxy, writer, "after a1 led again");
    const after = proxy.requests.filter((r) =>
      r.authorization === "Bearer a1" && r.service === "while-away"
    );
    assertEquals(after.map((r) => r.op), ["delete", "add"], "a1 resynced it: delete, then add");
  } finally {
    await stopReplicas(replicas);
  }
});

Deno.test("the mass-delete guard holds deletes of half an end point at once", async () => {
  await using zk = await LocalZooKeeper.start();
  await using writer = ZkSession.open({ connectionString: zk.connectionString });
  await writer.waitUntilConnected({ timeoutMs: 5000 });
  await writer.ensurePath("/cluster1/ep");
  const openSession = async () => {
    const session = ZkSession.open({
      connectionString: zk.connectionString,
      sessionTimeoutMs: 4000,
    });
    await session.waitUntilConnected({ timeoutMs: 5000 });
    return session;
  };
  // Ten clients' services: five in a session that will expire, five in one that lives.
  await using doomed = await openSession();
  await using lasting = await openSession();
  for (let i = 0; i < 10; i++) {
    await (i < 5 ? doomed : lasting).create(`/cluster1/ep/s${i}`, text.encode(`h:${3000 + i}`), {
      mode: "ephemeral",
    });
  }
  await using proxy = await StandInAsabru.start();
  const parsed = parseOptions(monitorOptions, [
    "--zk-host",
    zk.connectionString,
    "--asabru-url",
    proxy.url,
  ], new Map());
  if (!parsed.ok || parsed.help) throw new Error("options");
  const options: MonitorOptions = {
    ...parsed.value,
    configTemplate: undefined, // a template is parsed by loadMonitorConfig; none here
    massDeleteGuard: true,
    massDeleteLimbo: 1500,
    proxyTimeout: 5000,
  };
  const app: MonitorApp = await startMonitor(options);
  try {
    await waitFor(() => proxyState(proxy).length === 10, 10_000, "ten delivered");
    const before = proxy.requests.length;
    const { sessionId, password } = doomed.credentials();
    await expireSession(zk.connectionString, sessionId, password, 4000);
    await waitFor(() => app.guard.held === 5, 5000, "five deletes held");
    assertEquals(proxyState(proxy).length, 10, "nothing deleted yet");
    // Three come back (their clients re-register), two do not.
    await using returning = await openSession();
    for (const i of [0, 1, 2]) {
      await returning.create(`/cluster1/ep/s${i}`, text.encode(`h:${3000 + i}`), {
        mode: "ephemeral",
      });
    }
    await waitFor(() => app.guard.held === 2, 5000, "three returned");
    await waitFor(() => app.guard.held === 0, 5000, "limbo over");
    await app.queues[0].idle();
    const sent = proxy.requests.slice(before).map((r) => `${r.op} ${r.service}`).sort();
    assertEquals(sent, ["delete s3", "delete s4"], "only the two that stayed away");
    const decisions = app.journal.recent().map((d) => d.decision);
    assertEquals(decisions.filter((d) => d === "held").length, 5);
    assertEquals(decisions.filter((d) => d === "returned").length, 3);
    assertEquals(decisions.filter((d) => d === "released").length, 2);
  } finally {
    await app.shutdown();
  }
});
