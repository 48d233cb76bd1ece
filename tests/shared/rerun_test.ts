/**
 * "Run again if asked while running" as logic: asks during a run fold into one more run, each ask
 * settles with the run that covers it, a failure does not stop the run asked for after it, and a
 * stop ends the series. Runs are gated by promises the test resolves; nothing waits on time.
 */
import { Rerun } from "../../src/shared/rerun.ts";
import { assertEquals, assertRejects } from "../../testing/assert.ts";

/** A Rerun whose runs each wait for the test to let them end, in order. */
function gated(options: { stopped?: () => boolean; fail?: (run: number) => boolean } = {}) {
  const log: string[] = [];
  const gates: PromiseWithResolvers<void>[] = [];
  let runs = 0;
  const rerun = new Rerun({
    run: async () => {
      const run = ++runs;
      log.push(`start ${run}`);
      const gate = Promise.withResolvers<void>();
      gates.push(gate);
      await gate.promise;
      log.push(`end ${run}`);
      if (options.fail?.(run)) throw new Error(`run ${run} failed`);
    },
    stopped: options.stopped,
    onIdle: () => log.push("idle"),
  });
  /** Lets the oldest waiting run end. */
  const release = async () => {
    gates.shift()!.resolve();
    // Let the run's continuation and the chaining settle.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { rerun, log, release };
}

Deno.test("asks during a run fold into one more run, each settling with the run that covers it", async () => {
  const { rerun, log, release } = gated();
  const settledBy: string[] = [];
  const first = rerun.ask().then(() => settledBy.push("first"));
  const second = rerun.ask().then(() => settledBy.push("second"));
  const third = rerun.ask().then(() => settledBy.push("third"));
  assertEquals(rerun.running, true);
  await release();
  await first;
  assertEquals(settledBy, ["first"]);
  await release();
  await Promise.all([second, third]);
  assertEquals(settledBy, ["first", "second", "third"]);
  assertEquals(log, ["start 1", "end 1", "start 2", "end 2", "idle"]);
  assertEquals(rerun.running, false);
  await rerun.settled();
});

Deno.test("a run that asks for itself runs once more", async () => {
  let runs = 0;
  const rerun = new Rerun({
    run: () => {
      runs++;
      if (runs === 1) void rerun.ask();
      return Promise.resolve();
    },
  });
  await rerun.ask();
  await rerun.settled();
  assertEquals(runs, 2);
});

Deno.test("a failed run rejects its askers; the run asked for after it still runs", async () => {
  const { rerun, log, release } = gated({ fail: (run) => run === 1 });
  const first = rerun.ask();
  const second = rerun.ask();
  await release();
  await assertRejects(() => first, Error, "run 1 failed");
  await release();
  await second;
  assertEquals(log, ["start 1", "end 1", "start 2", "end 2", "idle"]);
});

Deno.test("once stopped, no further run starts and the asks made resolve", async () => {
  let stopped = false;
  const { rerun, log, release } = gated({ stopped: () => stopped });
  const first = rerun.ask();
  const second = rerun.ask();
  stopped = true;
  await release();
  await Promise.all([first, second]);
  assertEquals(log, ["start 1", "end 1", "idle"]);
  await rerun.settled();
});

Deno.test("settled waits for the whole series", async () => {
  const { rerun, log, release } = gated();
  void rerun.ask();
  void rerun.ask();
  let settled = false;
  const done = rerun.settled().then(() => settled = true);
  await release();
  assertEquals(settled, false);
  await release();
  await done;
  assertEquals(log.at(-1), "idle");
});

Deno.test("a run that throws before its first await leaves it idle", async () => {
  const rerun = new Rerun({
    run: () => {
      throw new Error("at once");
    },
  });
  await assertRejects(() => rerun.ask(), Error, "at once");
  assertEquals(rerun.running, false);
  await rerun.settled();
});

Deno.test("a failed run that was asked for during another rejects its askers", async () => {
  const { rerun, release } = gated({ fail: (run) => run === 2 });
  const first = rerun.ask();
  const second = rerun.ask();
  await release();
  await first;
  await release();
  await assertRejects(() => second, Error, "run 2 failed");
});
