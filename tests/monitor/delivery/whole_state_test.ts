/**
 * Whole-state delivery as logic: what a push carries (static services + ZooKeeper's, never an
 * empty list), when a push goes out (coalescing, one in flight, back-off), and the pusher that
 * drives them, against a proxy model whose answers the test scripts. The pusher against a real
 * ZooKeeper and the deployed-mode stand-in is tested in `tests/monitor/whole_state_test.ts`.
 */
import { DOMParser } from "@xmldom/xmldom";
import { parseConfigTemplate } from "../../../src/asabru/parse_config_template.ts";
import type { DeliveryOutcome } from "../../../src/asabru/sender.ts";
import type { Wanted } from "../../../src/monitor/delivery/decide.ts";
import { nextPush } from "../../../src/monitor/delivery/push_schedule.ts";
import { planWholeState } from "../../../src/monitor/delivery/whole_state_plan.ts";
import { WholeStatePusher } from "../../../src/monitor/delivery/whole_state_pusher.ts";
import { backoffMs } from "../../../src/shared/backoff.ts";
import { assert, assertEquals } from "../../../testing/assert.ts";
import { deferred, waitFor } from "../../../testing/wait.ts";

const TEMPLATE = parseConfigTemplate(`<proxy>
  <protocol-server-config/>
  <END_POINT name="with_static"><SERVICES>
    <SERVICE name="static1"><HOST>127.0.0.1</HOST><PORT>8123</PORT></SERVICE>
  </SERVICES></END_POINT>
  <END_POINT name="bare"><SERVICES></SERVICES></END_POINT>
</proxy>`);

const wanted = (endPoint: string, service: string, port = 9000, version = 1n): Wanted => ({
  ref: { endPoint, service, host: "10.0.0.1", port },
  version,
});
const keyed = (...services: Wanted[]) =>
  new Map(services.map((w) => [`${w.ref.endPoint}/${w.ref.service}`, w]));

/** Per end point, the service names a pushed document lists. */
function namesIn(document: string): Record<string, string[]> {
  const root = new DOMParser().parseFromString(document, "text/xml").documentElement!;
  const result: Record<string, string[]> = {};
  for (const endPoint of Array.from(root.getElementsByTagName("END_POINT"))) {
    result[endPoint.getAttribute("name")!] = Array.from(endPoint.getElementsByTagName("SERVICE"))
      .map((service) => service.getAttribute("name")!);
  }
  return result;
}

Deno.test("plan: static services first, then ZooKeeper's sorted by name", () => {
  const plan = planWholeState(
    TEMPLATE,
    keyed(wanted("with_static", "b"), wanted("with_static", "a"), wanted("bare", "c")),
    new Map(),
  );
  assertEquals([...plan.lists.keys()], ["with_static", "bare"]);
  assertEquals(plan.lists.get("with_static")!.map((entry) => entry.service), [
    "static1",
    "a",
    "b",
  ]);
  assertEquals(plan.lists.get("bare")!.map((entry) => entry.service), ["c"]);
  assertEquals([...plan.carried.keys()].sort(), ["bare/c", "with_static/a", "with_static/b"]);
  assertEquals(plan.kept, new Map());
  assertEquals(plan.leftOut, []);
});

Deno.test("plan: an end point is never pushed empty", async (t) => {
  await t.step("with static services it keeps them when ZooKeeper has none", () => {
    const plan = planWholeState(TEMPLATE, new Map(), keyed(wanted("with_static", "gone")));
    assertEquals(plan.lists.get("with_static")!.map((entry) => entry.service), ["static1"]);
    assertEquals(plan.carried.has("with_static/gone"), false);
  });
  await t.step("without, one of its last pushed services stays, the first by name", () => {
    const last = keyed(wanted("bare", "y"), wanted("bare", "x"));
    const plan = planWholeState(TEMPLATE, new Map(), last);
    assertEquals(plan.lists.get("bare")!.map((entry) => entry.service), ["x"]);
    assertEquals(plan.kept, new Map([["bare", ["bare/x"]]]));
    assertEquals([...plan.carried.keys()], ["bare/x"]);
    // The next push keeps the same one.
    const next = planWholeState(TEMPLATE, new Map(), plan.carried);
    assertEquals(next.lists.get("bare")!.map((entry) => entry.service), ["x"]);
  });
  await t.step("never pushed with one: left out of the document", () => {
    const plan = planWholeState(TEMPLATE, new Map(), new Map());
    assertEquals(plan.lists.has("bare"), false);
    assertEquals(plan.leftOut, ["bare"]);
  });
  await t.step("one service back: only it, the kept ones go", () => {
    const plan = planWholeState(TEMPLATE, keyed(wanted("bare", "z")), keyed(wanted("bare", "x")));
    assertEquals(plan.lists.get("bare")!.map((entry) => entry.service), ["z"]);
    assertEquals(plan.kept, new Map());
  });
});

Deno.test("schedule: push when idle; wait while in flight, backing off or after a costly push", () => {
  const base = {
    dirty: true,
    inFlight: false,
    allowed: true,
    retryAt: 0,
    now: 1000,
    lastPushEndedAt: 0,
    lastPushCostMs: 0,
  };
  assertEquals(nextPush(base), { kind: "push" });
  assertEquals(nextPush({ ...base, dirty: false }), { kind: "none", why: "clean" });
  assertEquals(nextPush({ ...base, inFlight: true }), { kind: "none", why: "in flight" });
  assertEquals(nextPush({ ...base, allowed: false }), { kind: "none", why: "not allowed" });
  assertEquals(nextPush({ ...base, retryAt: 1250 }), { kind: "wait", ms: 250 });
  assertEquals(nextPush({ ...base, retryAt: 1000 }), { kind: "push" });
  // A push that cost 80 ms and ended 30 ms ago: the next one waits 50 ms more.
  assertEquals(nextPush({ ...base, lastPushEndedAt: 970, lastPushCostMs: 80 }), {
    kind: "wait",
    ms: 50,
  });
  assertEquals(nextPush({ ...base, lastPushEndedAt: 900, lastPushCostMs: 80 }), { kind: "push" });
});

Deno.test("back-off: capped, exponential, half of it jitter", () => {
  const bounds = { baseMs: 100, maxMs: 1000 };
  assertEquals(backoffMs(1, { ...bounds, random: () => 0 }), 50);
  assertEquals(backoffMs(1, { ...bounds, random: () => 0.999999 }) < 100, true);
  assertEquals(backoffMs(3, { ...bounds, random: () => 0 }), 200);
  assertEquals(backoffMs(30, { ...bounds, random: () => 0 }), 500);
  assertEquals(backoffMs(30, { ...bounds, random: () => 0.5 }), 750);
});

/** A proxy the test answers by hand: each push waits until the test resolves it. */
class ScriptedProxy {
  readonly documents: string[] = [];
  readonly #answers: Array<(outcome: DeliveryOutcome) => void> = [];
  #arrived = deferred();
  /** Answer every push at once with this, instead of by hand. */
  auto?: DeliveryOutcome;

  readonly push = (document: string): Promise<DeliveryOutcome> => {
    this.documents.push(document);
    this.#arrived.resolve();
    if (this.auto) return Promise.resolve(this.auto);
    const answer = Promise.withResolvers<DeliveryOutcome>();
    this.#answers.push(answer.resolve);
    return answer.promise;
  };

  get waiting(): number {
    return this.#answers.length;
  }

  /** Resolves when push number `count` (1-based) has arrived. */
  async arrived(count: number): Promise<void> {
    while (this.documents.length < count) {
      this.#arrived = deferred();
      await this.#arrived.promise;
    }
  }

  answer(outcome: DeliveryOutcome = { kind: "ok", ms: 1 }): void {
    this.#answers.shift()!(outcome);
  }

  last(): Record<string, string[]> {
    return namesIn(this.documents.at(-1)!);
  }
}

function pusher(proxy: ScriptedProxy, overrides: { mayDeliver?: () => boolean } = {}) {
  const converged: string[] = [];
  const instance = new WholeStatePusher({
    proxy: "test",
    template: TEMPLATE,
    push: proxy.push,
    retryBaseMs: 20,
    retryMaxMs: 40,
    random: () => 0,
    onConverged: (key) => converged.push(key),
    ...overrides,
  });
  return { pusher: instance, converged };
}

/** A pusher past its start-up whose proxy accepts every push at once. */
function acceptedPusher(overrides: { mayDeliver?: () => boolean } = {}) {
  const proxy = new ScriptedProxy();
  proxy.auto = { kind: "ok", ms: 1 };
  const { pusher: p } = pusher(proxy, overrides);
  p.startupListed();
  return { proxy, p };
}

Deno.test("pusher: nothing before the first full read, then the whole state at once", async () => {
  const proxy = new ScriptedProxy();
  const { pusher: p, converged } = pusher(proxy);
  p.setWanted("bare/a", wanted("bare", "a"));
  p.setWanted("with_static/b", wanted("with_static", "b"));
  await new Promise((resolve) => setTimeout(resolve, 20)); // a turn or two: nothing may go out
  assertEquals(proxy.documents.length, 0, "no push of a partial state before the full read");
  assertEquals(p.pending(), 2);
  p.startupListed();
  await proxy.arrived(1);
  assertEquals(proxy.last(), { with_static: ["static1", "b"], bare: ["a"] });
  proxy.answer();
  await p.idle();
  assertEquals(p.pending(), 0);
  assert(p.delivered("bare/a"));
  assertEquals(converged.sort(), ["bare/a", "with_static/b"]);
  assertEquals(p.status().lastPush?.result, "ok");
  await p.stop();
});

Deno.test("pusher: changes during a push go together in the next one, one push in flight", async () => {
  const proxy = new ScriptedProxy();
  const { pusher: p } = pusher(proxy);
  p.startupListed();
  p.setWanted("bare/s0", wanted("bare", "s0"));
  await proxy.arrived(1);
  // 500 changes while the first push is in flight.
  for (let i = 1; i <= 500; i++) p.setWanted(`bare/s${i}`, wanted("bare", `s${i}`));
  p.setWanted("bare/s0", undefined);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(proxy.documents.length, 1, "no second push while one is in flight");
  assertEquals(p.pending(), 500, "s0 was never acknowledged: nothing to remove yet");
  proxy.answer();
  await proxy.arrived(2);
  assertEquals(p.pending(), 501, "the proxy holds s0 now: its removal is pending");
  assertEquals(proxy.last().bare.length, 500);
  assertEquals(proxy.last().bare.includes("s0"), false, "the removal is in it");
  proxy.answer();
  await p.idle();
  assertEquals(proxy.documents.length, 2);
  assertEquals(p.pending(), 0);
  await p.stop();
});

Deno.test("pusher: a failed push is retried with the latest state after a back-off", async () => {
  const proxy = new ScriptedProxy();
  const { pusher: p } = pusher(proxy);
  p.startupListed();
  p.setWanted("bare/a", wanted("bare", "a"));
  await proxy.arrived(1);
  p.setWanted("bare/b", wanted("bare", "b"));
  proxy.answer({ kind: "not-sent", reason: "connection refused", ms: 0 });
  await waitFor(() => p.unreachable, 1000, "marked unreachable");
  assertEquals(p.status().lastError, "connection refused");
  await proxy.arrived(2);
  assertEquals(proxy.last().bare, ["a", "b"], "the retry carries the latest state");
  proxy.answer({ kind: "rejected", message: "Unauthorized", ms: 0 });
  await proxy.arrived(3);
  proxy.answer();
  await p.idle();
  assertEquals(p.unreachable, false);
  assertEquals(p.status().lastError, undefined);
  assertEquals(p.counters.sent.configuration, 3);
  assertEquals(p.counters.retried, 2);
  assertEquals(p.counters.notSent, 1);
  assertEquals(p.counters.rejected, 1);
  assertEquals(p.counters.ok, 1);
  await p.stop();
});

Deno.test("pusher: a resync pushes again though nothing changed", async () => {
  const { proxy, p } = acceptedPusher();
  p.setWanted("bare/a", wanted("bare", "a"));
  await p.idle();
  const pushes = proxy.documents.length;
  p.resync();
  await proxy.arrived(pushes + 1);
  assertEquals(proxy.documents.at(-1), proxy.documents.at(-2), "the same state, the same body");
  assertEquals(p.counters.resyncs, 1);
  await p.idle();
  await p.stop();
});

Deno.test("pusher: a standby pushes nothing until it leads", async () => {
  let leading = false;
  const { proxy, p } = acceptedPusher({ mayDeliver: () => leading });
  p.setWanted("bare/a", wanted("bare", "a"));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assertEquals(proxy.documents.length, 0);
  leading = true;
  p.kick();
  await p.idle();
  assertEquals(proxy.last().bare, ["a"]);
  await p.stop();
});

Deno.test("pusher: the last service of a bare end point stays, held, not pending", async () => {
  const { proxy, p } = acceptedPusher();
  p.setWanted("bare/a", wanted("bare", "a"));
  await p.idle();
  p.setWanted("bare/a", undefined);
  await p.idle();
  assertEquals(proxy.last().bare, ["a"], "never an empty list");
  assertEquals(p.pending(), 0, "held on purpose, not pending");
  assertEquals(p.status().kept, ["bare"]);
  p.setWanted("bare/b", wanted("bare", "b"));
  await p.idle();
  assertEquals(proxy.last().bare, ["b"], "the kept one goes once another is there");
  assertEquals(p.status().kept, []);
  await p.stop();
});

Deno.test("pusher: only a refused or broken connection makes the next success a restart recovery", async () => {
  const failures: Array<[DeliveryOutcome, number]> = [
    [{ kind: "uncertain", reason: "no answer within 5000 ms", ms: 5000, timedOut: true }, 0],
    [{ kind: "uncertain", reason: "HTTP 502", ms: 1 }, 0],
    [{ kind: "not-applied", reason: "closed without an answer", ms: 1 }, 0],
    [{ kind: "rejected", message: "Error parsing xml document.", ms: 1 }, 0],
    [{ kind: "uncertain", reason: "connection reset", ms: 1, connectionBroke: true }, 1],
    [{ kind: "not-sent", reason: "connection refused", ms: 0 }, 1],
    [{ kind: "not-sent", reason: "login timed out", ms: 5000, timedOut: true }, 0],
  ];
  for (const [failure, recoveries] of failures) {
    const proxy = new ScriptedProxy();
    const { pusher: p } = pusher(proxy);
    p.startupListed();
    p.setWanted("bare/a", wanted("bare", "a"));
    await proxy.arrived(1);
    proxy.answer(failure);
    await proxy.arrived(2);
    proxy.answer();
    await p.idle();
    assertEquals(p.counters.restartRecoveries, recoveries, JSON.stringify(failure));
    await p.stop();
  }
});
