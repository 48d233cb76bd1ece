/**
 * The monitor against a real ZooKeeper and stand-in proxies that are real HTTP servers with the
 * real proxy's semantics (adds append, so a duplicate shows; deletes remove by name).
 */
import { type MonitorApp, type MonitorOptions, startMonitor } from "../../mod.ts";
import {
  ZkConnectionLossError,
  ZkNodeExistsError,
  ZkTimeoutError,
} from "../../src/zookeeper/mod.ts";
import { LocalEnsemble, LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { FaultProxy } from "../../testing/fault_proxy.ts";
import { expireSession } from "../../testing/expire_session.ts";
import { converged, proxyState, settled } from "../../testing/convergence.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { nextStateChange, waitFor, withTimeout } from "../../testing/wait.ts";
import { reset as resetLogging } from "@logtape/logtape";
import { configureLogging } from "../../src/shared/logging.ts";
import { connectWriter, monitorTestOptions } from "../../testing/monitor_setup.ts";

const text = new TextEncoder();

function options(
  zkHost: string,
  proxies: StandInAsabru[],
  overrides: Partial<MonitorOptions> = {},
): MonitorOptions {
  return monitorTestOptions(zkHost, proxies.map((proxy) => proxy.url), overrides);
}

const connect = connectWriter;

async function withMonitor(o: MonitorOptions, body: (app: MonitorApp) => Promise<void>) {
  const app = await startMonitor(o);
  try {
    await body(app);
  } finally {
    await app.shutdown();
  }
}

Deno.test("monitor against one ZooKeeper server", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using writer = await connect(zk.connectionString);
  const reset = async () => await writer.deleteRecursive("/cluster1");

  await t.step("one add and one delete per service, in order, with the right XML", async () => {
    await reset();
    await using proxy = await StandInAsabru.start();
    await withMonitor(options(zk.connectionString, [proxy]), async (app) => {
      await waitFor(() => app.mirror.synced, 5000, "synced");
      await writer.ensurePath("/cluster1/ch_http_node1");
      await writer.create(
        "/cluster1/ch_http_node1/ch_http_service2",
        text.encode("localhost:2023"),
        {
          mode: "ephemeral",
        },
      );
      await settled(proxy, writer, app.queues, "after the add");
      await writer.delete("/cluster1/ch_http_node1/ch_http_service2");
      await settled(proxy, writer, app.queues, "after the delete");
      const seen = proxy.requests.map((r) =>
        `${r.op} ${r.endPoint}/${r.service} ${r.host}:${r.port} ${r.contentType}`
      );
      assertEquals(seen, [
        "add ch_http_node1/ch_http_service2 localhost:2023 application/xml",
        "delete ch_http_node1/ch_http_service2 localhost:2023 application/xml",
      ]);
    });
  });

  await t.step("an existing tree of 1,000 services: exactly 1,000 adds", async () => {
    await reset();
    await writer.ensurePath("/cluster1");
    const creates: Promise<unknown>[] = [];
    for (let ep = 0; ep < 10; ep++) {
      await writer.create(`/cluster1/ep${ep}`);
      for (let s = 0; s < 100; s++) {
        creates.push(writer.create(`/cluster1/ep${ep}/s${s}`, text.encode(`h${ep}:${1000 + s}`)));
      }
    }
    await Promise.all(creates);
    await using proxy = await StandInAsabru.start();
    // A generous proxy timeout: on a loaded machine a timed-out add is (rightly) sent again.
    const patient = { proxyTimeout: 10_000 };
    await withMonitor(options(zk.connectionString, [proxy], patient), async (app) => {
      await settled(proxy, writer, app.queues, "cold start");
      const adds = proxy.requests.filter((r) => r.op === "add");
      assertEquals(adds.length, 1000);
      assertEquals(new Set(adds.map((r) => `${r.endPoint}/${r.service}`)).size, 1000);
      // A monitor that starts cannot know what an earlier one sent: delete first, once each.
      const firstOp = new Map<string, string>();
      for (const r of proxy.requests) {
        firstOp.set(
          `${r.endPoint}/${r.service}`,
          firstOp.get(`${r.endPoint}/${r.service}`) ?? r.op,
        );
      }
      assert([...firstOp.values()].every((op) => op === "delete"), "a delete before each add");
      assertEquals(proxy.requests.filter((r) => r.op === "delete").length, 1000);
    });
  });

  await t.step("a monitor restarted while the proxy holds everything: one copy each", async () => {
    await using proxy = await StandInAsabru.start();
    await withMonitor(
      options(zk.connectionString, [proxy], { proxyTimeout: 10_000 }),
      async (app) => {
        await settled(proxy, writer, app.queues, "first monitor");
      },
    );
    assertEquals(proxyState(proxy).length, 1000, "the proxy kept the services");
    await withMonitor(
      options(zk.connectionString, [proxy], { proxyTimeout: 10_000 }),
      async (app) => {
        await settled(proxy, writer, app.queues, "second monitor");
      },
    );
  });

  await t.step("a proxy down for a while: every change arrives, last state wins", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < 20; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${2000 + i}`));
    }
    await using proxy = await StandInAsabru.start();
    // Restart recovery off: this step is about what the queue sends for the changes alone (a
    // refused proxy may have restarted: with recovery, everything delivered is sent again).
    const o = options(zk.connectionString, [proxy], { restartRecovery: false });
    await withMonitor(o, async (app) => {
      await settled(proxy, writer, app.queues, "initial");
      await proxy.setMode("refuse");
      for (let i = 0; i < 10; i++) await writer.delete(`/cluster1/ep/s${i}`);
      for (let i = 20; i < 30; i++) {
        await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${2000 + i}`));
      }
      await writer.setData("/cluster1/ep/s15", text.encode("h:9999"));
      // A flapping service: created and deleted 50 times while the proxy is away.
      for (let i = 0; i < 50; i++) {
        await writer.create("/cluster1/ep/flap", text.encode("f:1"));
        await writer.delete("/cluster1/ep/flap");
      }
      await waitFor(() => app.queues[0].unreachable, 5000, "the queue notices the proxy is down");
      const requestsBefore = proxy.requests.length;
      await proxy.setMode("ok");
      await settled(proxy, writer, app.queues, "after the proxy came back");
      const after = proxy.requests.slice(requestsBefore);
      assertEquals(after.filter((r) => r.service === "flap").length, 0, "the flapper sent nothing");
      assert(after.length <= 10 + 10 + 2, `only the difference was sent (${after.length})`);
    });
  });

  await t.step("a request that times out after the proxy applied it: one copy", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    await using proxy = await StandInAsabru.start();
    await withMonitor(options(zk.connectionString, [proxy], { proxyTimeout: 300 }), async (app) => {
      await waitFor(() => app.mirror.synced, 5000, "synced");
      await proxy.setMode("apply-then-hang");
      const applied = proxy.nextRequest((r) => r.op === "add" && r.service === "slow");
      await writer.create("/cluster1/ep/slow", text.encode("h:3000"));
      await applied;
      await waitFor(() => app.queues[0].counters.uncertain > 0, 5000, "the timeout is seen");
      await proxy.setMode("ok");
      // Not only the first instant the proxy equals ZooKeeper: until the queue is idle, and no
      // second slot at any moment (an add sent again after the timeout would make one).
      await settled(proxy, writer, app.queues, "after the uncertain add");
    });
  });

  await t.step("ZooKeeper restart: no spurious deletes; nothing is lost", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < 5; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${4000 + i}`));
    }
    await using proxy = await StandInAsabru.start();
    await withMonitor(options(zk.connectionString, [proxy]), async (app) => {
      await settled(proxy, writer, app.queues, "initial");
      const before = proxy.requests.length;
      const down = nextStateChange(app.session, (c) => c.state === "suspended", 5000, "down");
      await zk.kill();
      await down;
      const back = nextStateChange(app.session, (c) => c.state === "connected", 10_000, "back");
      await zk.restart();
      await back;
      await waitFor(() => app.mirror.synced, 5000, "resynced");
      // The re-read has been diffed into the queue: whatever it would send is pending by now.
      await app.queues[0].idle();
      assertEquals(proxy.requests.length, before, "nothing sent: nothing changed");
      await writer.waitUntilConnected({ timeoutMs: 5000 });
      await writer.create("/cluster1/ep/after", text.encode("h:4999"));
      await settled(proxy, writer, app.queues, "a change after the restart");
    });
  });

  await t.step("changes during a network outage arrive after it, no spurious deletes", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < 5; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${5000 + i}`));
    }
    await using fault = await FaultProxy.start({ hostname: "127.0.0.1", port: zk.port });
    await using proxy = await StandInAsabru.start();
    await withMonitor(options(fault.address, [proxy], { sessionTimeoutMs: 4000 }), async (app) => {
      await settled(proxy, writer, app.queues, "initial");
      const before = proxy.requests.length;
      const down = nextStateChange(app.session, (c) => c.state === "suspended", 5000, "down");
      fault.dropAll();
      fault.setMode("refuse");
      await down;
      await writer.delete("/cluster1/ep/s0");
      await writer.create("/cluster1/ep/new", text.encode("h:5999"));
      fault.setMode("pass");
      // Every request since the outage began is in the history: a delete sent while ZooKeeper
      // was unreachable would show below.
      await settled(proxy, writer, app.queues, "after the outage");
      const deletes = proxy.requests.slice(before).filter((r) => r.op === "delete");
      assertEquals(deletes.map((r) => r.service), ["s0"], "no spurious delete");
    });
  });

  await t.step("session expiry: the resync sends only the difference", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < 20; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${6000 + i}`));
    }
    await using proxy = await StandInAsabru.start();
    await withMonitor(options(zk.connectionString, [proxy]), async (app) => {
      await settled(proxy, writer, app.queues, "initial");
      const before = proxy.requests.length;
      const renewed = nextStateChange(app.session, (c) => c.newSession, 10_000, "new session");
      const { sessionId, password } = app.session.credentials();
      await expireSession(zk.connectionString, sessionId, password, 2000);
      await writer.delete("/cluster1/ep/s0");
      await writer.create("/cluster1/ep/s99", text.encode("h:6099"));
      await renewed;
      await settled(proxy, writer, app.queues, "after the new session");
      const sent = proxy.requests.slice(before).map((r) => `${r.op} ${r.service}`).sort();
      assertEquals(sent, ["add s99", "delete s0"]);
    });
  });

  await t.step("a proxy restarted empty is restored by a resync, one copy each", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < 30; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${7000 + i}`));
    }
    await using proxy = await StandInAsabru.start();
    await withMonitor(options(zk.connectionString, [proxy]), async (app) => {
      await settled(proxy, writer, app.queues, "initial");
      proxy.restartEmpty();
      app.resync("test");
      await settled(proxy, writer, app.queues, "after the resync");
    });
  });

  await t.step(
    "two proxies, one down: the other is kept current, the down one catches up",
    async () => {
      await reset();
      await writer.ensurePath("/cluster1/ep");
      await using up = await StandInAsabru.start();
      await using down = await StandInAsabru.start();
      await withMonitor(options(zk.connectionString, [up, down]), async (app) => {
        await down.setMode("refuse");
        for (let i = 0; i < 10; i++) {
          await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${8000 + i}`));
        }
        await settled(up, writer, [app.queues[0]], "the live proxy");
        assert(app.queues[1].pending() > 0, "the down proxy's changes wait");
        await down.setMode("ok");
        await settled(down, writer, app.queues, "the proxy that came back");
      });
    },
  );

  await t.step("hostile znodes never produce malformed XML, and are counted", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep<&>\"'");
    const hostile: [string, Uint8Array][] = [
      ["/cluster1/ep<&>\"'/svc]]>", text.encode("good:1")],
      ["/cluster1/ep<&>\"'/bad-port", text.encode("host:99999")],
      ["/cluster1/ep<&>\"'/empty", new Uint8Array()],
      ["/cluster1/ep<&>\"'/not-utf8", Uint8Array.of(0xff, 0xfe, 0x3a, 0x31)],
      ["/cluster1/ep<&>\"'/huge", new Uint8Array(1_000_000).fill(0x61)],
      ["/cluster1/ep<&>\"'/xml-in-data", text.encode("<host>evil</host>:1")],
    ];
    for (const [path, data] of hostile) await writer.create(path, data);
    await using proxy = await StandInAsabru.start();
    await withMonitor(
      options(zk.connectionString, [proxy], { statusPort: 0, statusHost: "127.0.0.1" }),
      async (app) => {
        await waitFor(() => app.mirror.size === hostile.length, 5000, "all mirrored");
        await waitFor(
          () => proxy.requests.some((r) => r.op === "add"),
          5000,
          "the one valid service sent",
        );
        await app.queues[0].idle();
        assertEquals(proxyState(proxy), ["ep<&>\"'/svc]]>=good:1"]);
        assertEquals(proxy.malformed, 0);
        const metrics = await (await fetch(`http://127.0.0.1:${app.statusPort}/metrics`)).text();
        assert(/zkcm_mirror_invalid_services 5\b/.test(metrics), "5 invalid services counted");
        const services = await (await fetch(`http://127.0.0.1:${app.statusPort}/v1/services`))
          .json();
        assertEquals(services.services, hostile.length);
      },
    );
  });
});

Deno.test("monitor against an ensemble: a member killed, no spurious deletes", async () => {
  await using ensemble = await LocalEnsemble.start(3);
  await using writer = await connect(ensemble.connectionString);
  await writer.ensurePath("/cluster1/ep");
  for (let i = 0; i < 5; i++) {
    await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${9000 + i}`));
  }
  await using proxy = await StandInAsabru.start();
  await withMonitor(options(ensemble.connectionString, [proxy]), async (app) => {
    await settled(proxy, writer, app.queues, "initial");
    const before = proxy.requests.length;
    const member = ensemble.members.find((m) => m.connectionString === app.session.server)!;
    const back = nextStateChange(app.session, (c) => c.state === "connected", 10_000, "failover");
    const other = ensemble.members.find((m) =>
      m !== member && m.connectionString !== writer.server
    )!;
    await using otherWriter = await connect(other.connectionString);
    await member.kill();
    // Killing the leader makes the others elect a new one and drop their clients meanwhile:
    // write until the ensemble takes it (an attempt lost with the connection may have landed).
    await waitFor(
      async () => {
        try {
          await otherWriter.create("/cluster1/ep/during", text.encode("h:9999"));
          return true;
        } catch (error) {
          if (error instanceof ZkNodeExistsError) return true;
          if (error instanceof ZkConnectionLossError || error instanceof ZkTimeoutError) {
            return false;
          }
          throw error;
        }
      },
      15_000,
      "the write during the failover",
    );
    await back;
    await settled(proxy, writer, app.queues, "after the failover");
    assert(!proxy.requests.slice(before).some((r) => r.op === "delete"), "no delete at all");
    await member.restart();
  });
});

Deno.test("monitor against the proxy as deployed (one-shot, login, restarts)", async (t) => {
  await using zk = await LocalZooKeeper.start();
  await using writer = await connect(zk.connectionString);
  const reset = async () => await writer.deleteRecursive("/cluster1");
  const deployed = (extra: Parameters<typeof StandInAsabru.start>[0] = {}) =>
    // The monitor and the stand-in share this process: a connect that waits more than 10 ms for
    // its request (which the proxy closes unread) is the sender tests' subject, not these.
    StandInAsabru.start({ behaviour: "deployed", firstByteMs: 2000, ...extra });

  await t.step(
    "a burst arrives once each, no unknown outcome; a removal stays (its bug)",
    async () => {
      await reset();
      await writer.ensurePath("/cluster1/ep");
      for (let i = 0; i < 10; i++) {
        await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${2000 + i}`));
      }
      await using proxy = await deployed();
      await withMonitor(options(zk.connectionString, [proxy]), async (app) => {
        await converged(proxy, writer, "initial");
        for (let i = 10; i < 200; i++) {
          await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${2000 + i}`));
        }
        await converged(proxy, writer, "after the burst");
        const counters = app.queues[0].counters;
        // Only the very first request, sent before the proxy's kind is known, may lose its answer
        // to the proxy's 10 ms idle rule on a busy machine (and is then deleted before re-added).
        assert(counters.uncertain <= 1, `unknown outcomes: ${counters.uncertain}`);
        assertEquals(counters.notSent, 0);
        assertEquals(proxy.everDuplicated(), [], "no second slot, ever");
        assert(proxy.mostWaiting <= 4, `at most 4 connections at once (${proxy.mostWaiting})`);
        const deleted = proxy.nextRequest((r) => r.op === "delete" && r.service === "s0");
        await writer.delete("/cluster1/ep/s0");
        await withTimeout(deleted, 10_000, "the delete of s0");
        assertEquals(proxy.list("ep").filter((e) => e.service === "s0").length, 1);
      });
    },
  );

  await t.step("it warns once that removals will not take effect, naming the remedy", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    await using proxy = await deployed();
    const lines: string[] = [];
    await configureLogging({ level: "warning", format: "json", write: (line) => lines.push(line) });
    try {
      await withMonitor(options(zk.connectionString, [proxy]), async () => {
        for (let i = 0; i < 5; i++) {
          await writer.create(`/cluster1/ep/w${i}`, text.encode(`h:${i + 1}`));
        }
        await converged(proxy, writer, "five adds");
      });
    } finally {
      await resetLogging();
    }
    const warnings = lines.filter((line) => line.includes("delete removes nothing"));
    assertEquals(warnings.length, 1, lines.join("\n"));
    assert(warnings[0].includes("ASABRU_CONFIG_TEMPLATE"), warnings[0]);
  });

  await t.step("a proxy that restarted empty is re-filled once it answers again", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    for (let i = 0; i < 30; i++) {
      await writer.create(`/cluster1/ep/s${i}`, text.encode(`h:${3000 + i}`));
    }
    await using proxy = await deployed({ restartMs: 500 });
    await withMonitor(options(zk.connectionString, [proxy]), async (app) => {
      await converged(proxy, writer, "initial");
      proxy.restartEmpty(); // refuses connections for 500 ms, then holds nothing
      // A change while it is down: the monitor meets the refused connections.
      await writer.create("/cluster1/ep/during", text.encode("h:3999"));
      await waitFor(() => app.queues[0].counters.notSent > 0, 5000, "a refused connection");
      await converged(proxy, writer, "after the restart");
      assertEquals(app.queues[0].counters.restartRecoveries, 1);
      assertEquals(proxy.everDuplicated(), [], "no second slot, ever");
    });
  });

  await t.step("login: delivery goes on across an expired token", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    await using proxy = await deployed({ users: { monitor: "s3cret" } });
    const o = options(zk.connectionString, [proxy], {
      proxyUsername: "monitor",
      proxyPassword: "s3cret",
    });
    await withMonitor(o, async () => {
      await writer.create("/cluster1/ep/a", text.encode("h:1"));
      await converged(proxy, writer, "the first add");
      proxy.expireTokens();
      await writer.create("/cluster1/ep/b", text.encode("h:2"));
      await converged(proxy, writer, "an add after the token expired");
      assertEquals(proxy.auth.logins, 2);
      assertEquals(proxy.everDuplicated(), []);
    });
  });

  await t.step("a refused login is one line on /readyz, and nothing is sent", async () => {
    await reset();
    await writer.ensurePath("/cluster1/ep");
    await using proxy = await deployed({ users: { monitor: "s3cret" } });
    const o = options(zk.connectionString, [proxy], {
      proxyUsername: "monitor",
      proxyPassword: "wrong",
      statusPort: 0,
    });
    await withMonitor(o, async (app) => {
      await writer.create("/cluster1/ep/a", text.encode("h:1"));
      await waitFor(() => proxy.auth.refusedLogins > 0, 5000, "a refused login");
      // The refusal as the monitor reports it: the proxy counts it before its answer is back.
      let ready: Response | undefined;
      let body = "";
      await waitFor(
        async () => {
          ready = await fetch(`http://127.0.0.1:${app.statusPort}/readyz`);
          body = await ready.text();
          return body.includes("login");
        },
        5000,
        "the refused login on /readyz",
      );
      assertEquals(ready?.status, 503);
      const { reasons } = JSON.parse(body) as { reasons: string[] };
      assertEquals(reasons.length, 1, body);
      assert(
        /^login as "monitor" at http:\/\/127\.0\.0\.1:\d+\/auth\/login refused: HTTP 401 Unauthorized$/
          .test(reasons[0]),
        body,
      );
      assert(!body.includes("wrong"), "the password is not shown");
      const metrics = await (await fetch(`http://127.0.0.1:${app.statusPort}/metrics`)).text();
      assert(/zkcm_asabru_auth_ok\{proxy="[^"]+"\} 0/.test(metrics), "auth_ok is 0");
      assertEquals(proxy.snapshot(), new Map());
    });
  });
});
