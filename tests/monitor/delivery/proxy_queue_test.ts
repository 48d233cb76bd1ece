/**
 * The delivery decisions and the per-proxy queue, as logic: the proxy here is a model with the
 * real proxy's semantics (add appends, delete removes every copy) whose answers a test scripts.
 * The same queue against the real HTTP stand-in is tested in the monitor's tests.
 */
import { nextOperation, type Wanted } from "../../../src/monitor/delivery/decide.ts";
import { ProxyQueue } from "../../../src/monitor/delivery/proxy_queue.ts";
import type { ServiceRef } from "../../../src/asabru/wire.ts";
import type { DeliveryOutcome } from "../../../src/asabru/sender.ts";
import { assert, assertEquals, assertMatch } from "../../../testing/assert.ts";
import { reset as resetLogging } from "@logtape/logtape";
import { configureLogging } from "../../../src/shared/logging.ts";
import { waitFor, withTimeout } from "../../../testing/wait.ts";
import { StandInAsabru } from "../../../testing/stand_in_asabru.ts";
import { AsabruSender } from "../../../src/asabru/sender.ts";

const ref = (service: string, port = 9000, endPoint = "ep"): ServiceRef => ({
  endPoint,
  service,
  host: "10.0.0.1",
  port,
});
const wanted = (service: string, port = 9000, version = 1n): Wanted => ({
  ref: ref(service, port),
  version,
});

Deno.test("decide: add only onto nothing, delete first after an unknown outcome", () => {
  assertEquals(nextOperation({ wanted: wanted("a") }), { op: "add", ref: ref("a") });
  assertEquals(nextOperation({ wanted: wanted("a"), acknowledged: wanted("a") }), undefined);
  assertEquals(nextOperation({ acknowledged: wanted("a") }), { op: "delete", ref: ref("a") });
  assertEquals(nextOperation({}), undefined);
  assertEquals(
    nextOperation({ wanted: wanted("a", 9001), acknowledged: wanted("a", 9000) }),
    { op: "delete", ref: ref("a", 9000) },
    "a changed host:port replaces the old entry",
  );
  assertEquals(
    nextOperation({ wanted: wanted("a", 9000, 2n), acknowledged: wanted("a", 9000, 1n) }),
    { op: "delete", ref: ref("a") },
    "a re-created znode (new czxid) is re-added",
  );
  assertEquals(
    nextOperation({ wanted: wanted("a"), uncertain: ref("a") }),
    { op: "delete", ref: ref("a") },
    "never add after an unknown outcome",
  );
});

/** A proxy with the real semantics, answering as `script` says. */
class ModelProxy {
  readonly entries = new Map<string, ServiceRef[]>();
  readonly log: string[] = [];
  script: (
    op: string,
    ref: ServiceRef,
  ) => "ok" | "refuse-connection" | "timeout-after-apply" | "reject" = () => "ok";

  send = (op: "add" | "delete", ref: ServiceRef): Promise<DeliveryOutcome> => {
    const how = this.script(op, ref);
    this.log.push(`${op} ${ref.service}:${ref.port} ${how}`);
    if (how === "refuse-connection") {
      return Promise.resolve({ kind: "not-sent", reason: "refused", ms: 0 });
    }
    if (how === "reject") {
      return Promise.resolve({ kind: "rejected", message: "Endpoint 'ep' not in config", ms: 0 });
    }
    const list = this.entries.get(ref.endPoint) ?? [];
    if (op === "add") list.push(ref);
    else this.entries.set(ref.endPoint, list.filter((e) => e.service !== ref.service));
    if (op === "add") this.entries.set(ref.endPoint, list);
    return Promise.resolve(
      how === "ok"
        ? { kind: "ok", ms: 0 }
        : { kind: "uncertain", reason: "timed out", ms: 0, timedOut: true },
    );
  };

  holds(): string[] {
    return [...this.entries.values()].flat().map((e) => `${e.service}:${e.port}`).sort();
  }
}

/** A script for ModelProxy: the first add is applied but answered by a timeout; all else is ok. */
function firstAddTimesOutAfterApplying(): ModelProxy["script"] {
  let first = true;
  return (op) => {
    if (op === "add" && first) {
      first = false;
      return "timeout-after-apply";
    }
    return "ok";
  };
}

function queue(
  proxy: ModelProxy,
  extra: Partial<ConstructorParameters<typeof ProxyQueue>[0]> = {},
) {
  return new ProxyQueue({
    proxy: "model",
    send: proxy.send,
    retryBaseMs: 2,
    retryMaxMs: 10,
    random: () => 0.5,
    ...extra,
  });
}

Deno.test("queue: one add per service; add then delete before delivery sends nothing", async () => {
  const proxy = new ModelProxy();
  // One request at a time, and the first one held: what comes meanwhile waits its turn.
  const gate = Promise.withResolvers<void>();
  const send = proxy.send;
  const q = queue(proxy, {
    concurrency: 1,
    send: async (op, r) => {
      if (r.service === "first") await gate.promise;
      return send(op, r);
    },
  });
  q.setWanted("ep/first", wanted("first"));
  q.setWanted("ep/a", wanted("a"));
  q.setWanted("ep/b", wanted("b"));
  q.setWanted("ep/b", undefined); // flapped away before delivery
  q.setWanted("ep/a", wanted("a")); // the same again
  gate.resolve();
  await withTimeout(q.idle(), 2000, "delivered");
  assertEquals(proxy.log, ["add first:9000 ok", "add a:9000 ok"]);
  assertEquals(proxy.holds(), ["a:9000", "first:9000"]);
  await q.stop();
});

Deno.test("queue: a standby remembers what the leader may have added", async () => {
  const proxy = new ModelProxy();
  let leading = false;
  const q = queue(proxy, { mayDeliver: () => leading });
  q.setWanted("ep/a", wanted("a"));
  q.setWanted("ep/gone", wanted("gone"));
  q.setWanted("ep/gone", undefined); // the leader may have added it before it vanished
  leading = true;
  q.resync();
  await withTimeout(q.idle(), 2000, "taken over");
  assertEquals(proxy.log.filter((line) => line.startsWith("delete gone")).length, 1);
  assertEquals(proxy.holds(), ["a:9000"]);
  await q.stop();
});

Deno.test("queue: a proxy that refuses connections gets everything once it is back", async () => {
  const proxy = new ModelProxy();
  let up = false;
  proxy.script = () => up ? "ok" : "refuse-connection";
  const q = queue(proxy);
  for (let i = 0; i < 20; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  for (let i = 0; i < 10; i++) q.setWanted(`ep/s${i}`, undefined);
  q.setWanted("ep/s15", wanted("s15", 9999)); // last state wins
  await waitFor(() => q.counters.notSent >= 3, 2000, "a few refused attempts");
  const refusedAttempts = proxy.log.length;
  up = true;
  await withTimeout(q.idle(), 2000, "caught up");
  const expected = Array.from({ length: 10 }, (_, i) => i + 10)
    .map((i) => `s${i}:${i === 15 ? 9999 : 9000}`);
  assertEquals(proxy.holds(), expected.sort());
  assertEquals(
    proxy.log.slice(refusedAttempts).filter((line) => line.startsWith("delete")).length,
    0,
    "nothing to delete: the removed ones never reached the proxy",
  );
  assertEquals(proxy.log.length - refusedAttempts, 10, "then one add per wanted service");
  await q.stop();
});

Deno.test("queue: after a timeout that was applied, delete before add: one copy", async () => {
  const proxy = new ModelProxy();
  proxy.script = firstAddTimesOutAfterApplying();
  const q = queue(proxy);
  q.setWanted("ep/a", wanted("a"));
  await withTimeout(q.idle(), 2000, "settled");
  assertEquals(proxy.log, ["add a:9000 timeout-after-apply", "delete a:9000 ok", "add a:9000 ok"]);
  assertEquals(proxy.holds(), ["a:9000"]);
  await q.stop();
});

Deno.test("queue: a refused change is retried on its own, others go on", async () => {
  const proxy = new ModelProxy();
  let known = false;
  proxy.script = (_op, r) => r.service === "new-ep" && !known ? "reject" : "ok";
  const q = queue(proxy);
  q.setWanted("ep/new-ep", wanted("new-ep"));
  q.setWanted("ep/b", wanted("b"));
  await waitFor(() => q.counters.rejected >= 2, 2000, "the refused one retried");
  assertEquals(proxy.holds(), ["b:9000"]);
  known = true;
  await withTimeout(q.idle(), 2000, "delivered once the end point is known");
  assertEquals(proxy.holds(), ["b:9000", "new-ep:9000"]);
  await q.stop();
});

Deno.test("queue: resync restores a proxy that restarted empty, one copy each", async () => {
  const proxy = new ModelProxy();
  const q = queue(proxy, { resyncPerSecond: 10_000 });
  for (let i = 0; i < 50; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  await withTimeout(q.idle(), 2000, "delivered");
  proxy.entries.clear(); // restarted empty
  q.resync();
  await withTimeout(q.idle(), 2000, "resynced");
  assertEquals(proxy.holds().length, 50);
  assertEquals(new Set(proxy.holds()).size, 50, "no duplicates");
  await q.stop();
});

Deno.test("queue: a service deleted before its add is back one round trip later, not after all others", async () => {
  const proxy = new ModelProxy();
  let fewest = Infinity;
  const q = queue(proxy, {
    concurrency: 4,
    resyncPerSecond: 100_000,
    send: async (op, r) => {
      await Promise.resolve(); // answers come later than the request, as over a network
      const outcome = await proxy.send(op, r);
      fewest = Math.min(fewest, proxy.holds().length);
      return outcome;
    },
  });
  for (let i = 0; i < 200; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  await withTimeout(q.idle(), 2000, "delivered");
  // A resync (as at a monitor's start): a delete and an add for each. While it runs, the proxy
  // must not lose more services at once than requests are in flight.
  fewest = Infinity;
  q.resync();
  await withTimeout(q.idle(), 5000, "resynced");
  assertEquals(proxy.holds().length, 200);
  assert(fewest >= 200 - 4, `the proxy held only ${fewest} of 200 services at one point`);
  await q.stop();
});

Deno.test("queue: a resync while an add's answer is on its way: the proxy ends up holding it", async () => {
  // Found by the chaos run (seeds 34 and 38): the add's answer used to undo the resync.
  await using proxy = await StandInAsabru.start({ slowMs: 500 });
  using sender = new AsabruSender({ url: proxy.url, timeoutMs: 2000 });
  const q = new ProxyQueue({ proxy: proxy.url, send: (op, r) => sender.send(op, r) });
  await proxy.setMode("slow");
  const applied = proxy.nextRequest((r) => r.op === "add");
  q.setWanted("ep/s", { ref: { endPoint: "ep", service: "s", host: "h", port: 1 }, version: 1n });
  await applied; // applied; its answer is held 500 ms
  proxy.restartEmpty(); // the proxy forgets it...
  q.resync(); // ...and a resync starts before the answer is processed
  await proxy.setMode("ok");
  await withTimeout(q.idle(), 5000, "resynced");
  assertEquals(proxy.list("ep"), [{ service: "s", host: "h", port: 1 }]);
  await q.stop();
});

/** Captures the info lines of the delivery logger while `body` runs. */
async function infoLines(body: (lines: string[]) => Promise<void>): Promise<void> {
  const lines: string[] = [];
  await configureLogging({ level: "info", format: "json", write: (line) => lines.push(line) });
  try {
    await body(lines);
  } finally {
    await resetLogging();
  }
}

const summaries = (lines: string[]) =>
  lines.filter((line) => line.includes("in step after")).map((line) =>
    JSON.parse(line).message.replace(/ in \d+ ms$/, "")
  );

Deno.test("queue: a start-up is one summary line, once every service listed at start is delivered", async () => {
  await infoLines(async (lines) => {
    const proxy = new ModelProxy();
    const q = queue(proxy);
    // Listed one at a time, as the mirror reads them: the queue drains in between.
    for (const service of ["a", "b", "c"]) {
      q.setWanted(`ep/${service}`, wanted(service), { proxyMayHold: true });
      await withTimeout(q.idle(), 2000, `${service} delivered`);
    }
    assertEquals(summaries(lines), [], "not before the listing is over");
    q.startupListed();
    assertEquals(summaries(lines), ["model in step after the start-up: 6 requests"]);
    assertEquals(lines.filter((line) => line.includes('"sent ')), [], "no line per request");
    // A change afterwards is a line of its own.
    q.setWanted("ep/d", wanted("d"));
    await withTimeout(q.idle(), 2000, "d delivered");
    assertEquals(lines.filter((line) => line.includes('"sent add ep/d to model"')).length, 1);
    await q.stop();
  });
});

Deno.test("queue: a refused service does not hold back the summary of the others", async () => {
  await infoLines(async (lines) => {
    const proxy = new ModelProxy();
    proxy.script = (_op, r) => r.service === "unknown-ep" ? "reject" : "ok";
    const q = queue(proxy, { retryMaxMs: 60_000 });
    for (const service of ["a", "b", "unknown-ep"]) {
      q.setWanted(`ep/${service}`, wanted(service), { proxyMayHold: true });
    }
    q.startupListed();
    await waitFor(() => summaries(lines).length === 1, 2000, "the summary");
    assertEquals(summaries(lines), ["model in step after the start-up: 4 requests"]);
    assert(lines.some((line) => line.includes("refused")), "the refusal is a warning of its own");
    await q.stop();
  });
});

Deno.test("queue: a resync during the start-up ends in one summary, the resync's", async () => {
  await infoLines(async (lines) => {
    const proxy = new ModelProxy();
    const q = queue(proxy, { resyncPerSecond: 100_000 });
    q.setWanted("ep/a", wanted("a"), { proxyMayHold: true });
    q.resync();
    q.setWanted("ep/b", wanted("b"), { proxyMayHold: true });
    q.startupListed();
    await withTimeout(q.idle(), 2000, "delivered");
    assertEquals(summaries(lines).length, 1);
    assertMatch(summaries(lines)[0], /^model in step after the resync: \d+ requests$/);
    assertEquals(proxy.holds(), ["a:9000", "b:9000"]);
    await q.stop();
  });
});

Deno.test("queue: once the start-up is declared over, a service still unknown is a change of its own", async () => {
  await infoLines(async (lines) => {
    const proxy = new ModelProxy();
    const q = queue(proxy);
    q.setWanted("ep/a", wanted("a"), { proxyMayHold: true });
    // The monitor ends the start-up after a grace time even when a read keeps failing.
    q.startupListed();
    await withTimeout(q.idle(), 2000, "a delivered");
    q.setWanted("ep/late", wanted("late"), { proxyMayHold: true });
    await withTimeout(q.idle(), 2000, "late delivered");
    assertEquals(summaries(lines), ["model in step after the start-up: 2 requests"]);
    assertEquals(
      proxy.log.filter((line) => line.includes("late")),
      ["delete late:9000 ok", "add late:9000 ok"],
      "still deleted before it is added",
    );
    assertEquals(
      lines.filter((line) => /"sent (add|delete) ep\/late to model"/.test(line)).length,
      2,
    );
    await q.stop();
  });
});

// ---- the deployed proxy (issue 15) ----

Deno.test("decide: where delete removes nothing, no delete before an add", () => {
  const deployed = { deletesRemove: false };
  assertEquals(nextOperation({ wanted: wanted("a"), uncertain: ref("a") }, deployed), {
    op: "add",
    ref: ref("a"),
  });
  assertEquals(
    nextOperation({ wanted: wanted("a", 9001), acknowledged: wanted("a", 9000) }, deployed),
    { op: "add", ref: ref("a", 9001) },
    "a moved service is added at its new place (the old slot cannot be removed)",
  );
  assertEquals(nextOperation({ acknowledged: wanted("a") }, deployed), {
    op: "delete",
    ref: ref("a"),
  });
  assertEquals(
    nextOperation({ wanted: wanted("a"), acknowledged: wanted("a") }, deployed),
    undefined,
  );
});

/**
 * A model proxy that can restart: while down it refuses connections, and it comes back with an
 * empty table.
 */
function restartableProxy() {
  const proxy = new ModelProxy();
  let up = true;
  proxy.script = () => up ? "ok" : "refuse-connection";
  /** Takes it down emptied, makes `change` (which must make `q` send), and brings it back once `q` has been refused twice. */
  const restart = async (q: ReturnType<typeof queue>, change: () => void) => {
    up = false;
    proxy.entries.clear();
    change();
    await waitFor(() => q.counters.notSent >= 2, 2000, "refused attempts");
    up = true;
  };
  return { proxy, restart };
}

Deno.test("queue: restart recovery re-fills what a proxy that refused for a while had acknowledged", async () => {
  const { proxy, restart } = restartableProxy();
  const q = queue(proxy);
  for (let i = 0; i < 5; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  await withTimeout(q.idle(), 2000, "delivered");
  await restart(q, () => q.setWanted("ep/new", wanted("new")));
  await withTimeout(q.idle(), 2000, "recovered");
  assertEquals(q.counters.restartRecoveries, 1);
  assertEquals(proxy.holds(), ["new:9000", "s0:9000", "s1:9000", "s2:9000", "s3:9000", "s4:9000"]);
  await q.stop();
});

Deno.test("queue: with restart recovery off, a proxy that comes back gets only the changes", async () => {
  const { proxy, restart } = restartableProxy();
  const q = queue(proxy, { restartRecovery: false });
  q.setWanted("ep/s0", wanted("s0"));
  await withTimeout(q.idle(), 2000, "delivered");
  await restart(q, () => q.setWanted("ep/new", wanted("new")));
  await withTimeout(q.idle(), 2000, "caught up");
  assertEquals([q.counters.restartRecoveries, proxy.holds()], [0, ["new:9000"]]);
  await q.stop();
});

Deno.test("queue: where delete removes nothing, an add of unknown outcome is taken as applied", async () => {
  const proxy = new ModelProxy();
  // The deployed proxy: its delete removes nothing.
  const send = proxy.send;
  proxy.script = firstAddTimesOutAfterApplying();
  const q = queue(proxy, {
    deletesRemove: () => false,
    send: (op, r) => op === "delete" ? Promise.resolve({ kind: "ok", ms: 0 }) : send(op, r),
  });
  q.setWanted("ep/a", wanted("a"), { proxyMayHold: true });
  q.setWanted("ep/b", wanted("b"), { proxyMayHold: true });
  await withTimeout(q.idle(), 2000, "settled");
  assertEquals(proxy.log.sort(), ["add a:9000 timeout-after-apply", "add b:9000 ok"]);
  assertEquals(proxy.holds(), ["a:9000", "b:9000"], "one slot each");
  assertEquals(q.counters.assumedApplied, 1);
  await q.stop();
});

Deno.test("queue: a 401 holds everything without uncertainty, then delivers once", async () => {
  const proxy = new ModelProxy();
  let authorized = false;
  const q = queue(proxy, {
    send: (op, r) =>
      authorized
        ? proxy.send(op, r)
        : Promise.resolve({ kind: "unauthorized", message: "http://p refused the token", ms: 0 }),
  });
  for (let i = 0; i < 3; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  await waitFor(() => q.counters.unauthorized >= 3, 2000, "a few 401s");
  assertEquals([q.authProblem, q.unreachable], ["http://p refused the token", false]);
  authorized = true;
  await withTimeout(q.idle(), 2000, "delivered");
  assertEquals(proxy.log.sort(), ["add s0:9000 ok", "add s1:9000 ok", "add s2:9000 ok"]);
  assertEquals(proxy.holds(), ["s0:9000", "s1:9000", "s2:9000"]);
  assertEquals([q.counters.uncertain, q.counters.restartRecoveries, q.authProblem], [
    0,
    0,
    undefined,
  ]);
  await q.stop();
});

Deno.test("queue: only a refused or broken connection counts as a possible restart", async () => {
  for (const connectionBroke of [false, true]) {
    const proxy = new ModelProxy();
    let firstOfB = true;
    const q = queue(proxy, {
      deletesRemove: () => false,
      send: (op, r) => {
        if (r.service === "b" && firstOfB) {
          firstOfB = false;
          // Not applied: the deployed proxy closed without reading (or the connection broke).
          return Promise.resolve({
            kind: "uncertain",
            reason: "no answer",
            ms: 0,
            connectionBroke,
          });
        }
        return op === "delete" ? Promise.resolve({ kind: "ok", ms: 0 }) : proxy.send(op, r);
      },
    });
    q.setWanted("ep/a", wanted("a"));
    await withTimeout(q.idle(), 2000, "a delivered");
    q.setWanted("ep/b", wanted("b"));
    q.setWanted("ep/c", wanted("c"));
    await withTimeout(q.idle(), 2000, "settled");
    assertEquals(
      q.counters.restartRecoveries,
      connectionBroke ? 1 : 0,
      `broke: ${connectionBroke}`,
    );
    await q.stop();
  }
});

Deno.test("queue: requests that waited for a connection slot past their deadline are no sign of a restart (no second slot)", async () => {
  // A deployed proxy that stalls (its one worker busy) without restarting: the 4 connections
  // time out (taken as applied), the requests waiting for one of them end "not sent". Those
  // must not make the proxy's return a restart recovery: it would add every service again.
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    endPoints: ["ep"],
    firstByteMs: 500,
  });
  using sender = new AsabruSender({ url: proxy.url, transport: "one-shot", timeoutMs: 400 });
  const q = new ProxyQueue({
    proxy: proxy.url,
    send: (op, r) => sender.send(op, r),
    concurrency: 12,
    retryBaseMs: 2,
    retryMaxMs: 10,
    random: () => 0.5,
    deletesRemove: () => false,
  });
  for (let i = 0; i < 3; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  await withTimeout(q.idle(), 5000, "the first services delivered");
  assertEquals(proxy.list("ep").length, 3);

  await proxy.setMode("apply-then-hang");
  for (let i = 0; i < 12; i++) q.setWanted(`ep/n${i}`, wanted(`n${i}`));
  await waitFor(() => q.counters.notSent > 0, 5000, "requests that waited past their deadline");
  await proxy.setMode("ok");
  await withTimeout(q.idle(), 5000, "settled");

  assertEquals(proxy.crashes, 0);
  assertEquals(proxy.everDuplicated(), []);
  assertEquals(q.counters.restartRecoveries, 0, "the proxy never restarted");
  await q.stop();
});

Deno.test("queue: a proxy that is down gets one request per back-off, not one per service", async () => {
  // Every request is answered "not sent" a moment later (a macrotask), so the test sees how many
  // the queue has out at once.
  let outstanding = 0;
  let mostAtOnceWhileDown = 0;
  let down = false;
  let probes = 0;
  const q = new ProxyQueue({
    proxy: "model",
    send: async () => {
      outstanding++;
      if (down) {
        probes++;
        mostAtOnceWhileDown = Math.max(mostAtOnceWhileDown, outstanding);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
      outstanding--;
      return { kind: "not-sent", reason: "refused", ms: 1 };
    },
    retryBaseMs: 2,
    retryMaxMs: 10,
    random: () => 0.5,
  });
  for (let i = 0; i < 20; i++) q.setWanted(`ep/s${i}`, wanted(`s${i}`));
  // The first round goes out before any answer says the proxy is down.
  await waitFor(() => q.unreachable, 2000, "the queue sees the proxy down");
  await waitFor(() => outstanding === 0, 2000, "the first round answered");
  down = true;
  await waitFor(() => probes >= 5, 2000, "five probes");
  await q.stop();
  assertEquals(mostAtOnceWhileDown, 1, "one request at a time while the proxy is down");
  assertEquals(q.pending(), 20, "nothing dropped");
});

Deno.test("queue: a refusal is logged once per service and reason, however often it is retried", async () => {
  await infoLines(async (lines) => {
    let reason = "Endpoint 'ep' not found.";
    const q = new ProxyQueue({
      proxy: "model",
      send: () => Promise.resolve({ kind: "rejected", message: reason, ms: 0 }),
      retryBaseMs: 1,
      retryMaxMs: 2,
      random: () => 0.5,
    });
    q.setWanted("ep/a", wanted("a"));
    q.setWanted("ep/b", wanted("b"));
    await waitFor(() => q.counters.rejected >= 10, 2000, "ten refusals");
    reason = "Endpoint 'ep' is being reloaded.";
    const before = q.counters.rejected;
    await waitFor(() => q.counters.rejected >= before + 10, 2000, "ten more, for another reason");
    await q.stop();
    const refusals = lines.filter((line) => line.includes(" refused add ")).map((line) => {
      const { key, reason } = JSON.parse(line);
      return `${key}: ${reason}`;
    });
    assertEquals(refusals.sort(), [
      "ep/a: Endpoint 'ep' is being reloaded.",
      "ep/a: Endpoint 'ep' not found.",
      "ep/b: Endpoint 'ep' is being reloaded.",
      "ep/b: Endpoint 'ep' not found.",
    ]);
  });
});
