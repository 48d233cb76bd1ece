/**
 * The takeover policy as logic, fed leaderships as the election reports them: when a new leader
 * goes on delivering, when it first lets the old leader's requests end and then resyncs, and that
 * it sends nothing in between. The drain is a short real timer; every wait is on what was called.
 */
import { Takeover } from "../../src/monitor/takeover.ts";
import type { Leadership } from "../../src/monitor/leader_election.ts";
import { assertEquals } from "../../testing/assert.ts";

const DRAIN_MS = 20;

/** A takeover of monitor `me` recording what it decided, in order. */
function takeoverOf() {
  const calls: string[] = [];
  let tookOver = Promise.withResolvers<void>();
  const takeover = new Takeover({
    monitorId: "me",
    drainMs: DRAIN_MS,
    onContinue: () => calls.push("continue"),
    onTakeover: (epoch) => {
      calls.push(`takeover ${epoch}`);
      tookOver.resolve();
      tookOver = Promise.withResolvers<void>();
    },
  });
  return { takeover, calls, tookOver: () => tookOver.promise };
}

const leader = (epoch: number): Leadership => ({ leader: true, epoch, leaderId: "me" });
const standby = (leaderId: string | undefined): Leadership => ({ leader: false, leaderId });

Deno.test("a monitor that leads from the start goes on at once", () => {
  const { takeover, calls } = takeoverOf();
  takeover.onLeadership(standby(undefined));
  takeover.onLeadership(leader(1));
  assertEquals(calls, ["continue"]);
  assertEquals(takeover.pending, false);
});

Deno.test("a standby that saw another leader waits for its requests, then resyncs", async () => {
  const { takeover, calls, tookOver } = takeoverOf();
  takeover.onLeadership(standby("other"));
  takeover.onLeadership(leader(2));
  // Fenced until the old leader's last requests are over.
  assertEquals(takeover.pending, true);
  assertEquals(calls, []);
  await tookOver();
  assertEquals(takeover.pending, false);
  assertEquals(calls, ["takeover 2"]);
});

Deno.test("seeing itself named leader while a standby is no takeover", () => {
  const { takeover, calls } = takeoverOf();
  takeover.onLeadership(standby("me"));
  takeover.onLeadership(leader(1));
  assertEquals(calls, ["continue"]);
});

Deno.test("leading again with the next epoch goes on; with a gap it takes over", async () => {
  const { takeover, calls, tookOver } = takeoverOf();
  takeover.onLeadership(leader(4));
  // The session expired; the new candidate follows the old one: nobody led in between.
  takeover.onLeadership(leader(5));
  assertEquals(calls, ["continue", "continue"]);
  // A gap of two: a monitor this one never saw may have led and sent meanwhile.
  takeover.onLeadership(leader(7));
  assertEquals(takeover.pending, true);
  await tookOver();
  assertEquals(calls, ["continue", "continue", "takeover 7"]);
});

Deno.test("one takeover per standby spell: the next win goes on at once", async () => {
  const { takeover, calls, tookOver } = takeoverOf();
  takeover.onLeadership(standby("other"));
  takeover.onLeadership(leader(3));
  await tookOver();
  takeover.onLeadership(leader(4));
  assertEquals(calls, ["takeover 3", "continue"]);
});

Deno.test("a second win during the drain restarts it, and takes over once", async () => {
  const { takeover, calls, tookOver } = takeoverOf();
  takeover.onLeadership(standby("other"));
  takeover.onLeadership(leader(3));
  takeover.onLeadership(standby("other"));
  takeover.onLeadership(leader(5));
  await tookOver();
  assertEquals(calls, ["takeover 5"]);
});

Deno.test("stop cancels a takeover that waits", () => {
  const { takeover, calls } = takeoverOf();
  takeover.onLeadership(standby("other"));
  takeover.onLeadership(leader(2));
  takeover.stop();
  // The sanitizers fail this test if the drain's timer were still armed.
  assertEquals(calls, []);
});
