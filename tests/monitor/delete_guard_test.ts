/**
 * The mass-delete guard as logic: what it forwards to the delivery queues, and when. Windows and
 * limbos are short real timers; every wait is on what was forwarded.
 */
import { DeleteGuard, type DeleteGuardOptions } from "../../src/monitor/delete_guard.ts";
import { DecisionJournal } from "../../src/monitor/journal.ts";
import type { Wanted } from "../../src/monitor/delivery/decide.ts";
import { assertEquals } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const wanted = (service: string): Wanted => ({
  ref: { endPoint: "ep", service, host: "10.0.0.1", port: 9000 },
  version: 1n,
});

/** A guard over `count` services of end point `ep`, recording what it forwards. */
function guardOver(count: number, options: Partial<DeleteGuardOptions> = {}) {
  const forwarded: string[] = [];
  const journal = new DecisionJournal();
  const guard = new DeleteGuard({
    enabled: true,
    share: 0.5,
    windowMs: 20,
    // Long: a delete that waits for the limbo to end is one the guard held.
    limboMs: 60_000,
    minServices: 0,
    apply: (key, w) => forwarded.push(`${w ? "set" : "delete"} ${key}`),
    journal,
    ...options,
  });
  for (let i = 0; i < count; i++) guard.set(`ep/s${i}`, "ep", wanted(`s${i}`));
  forwarded.length = 0;
  const deletes = () => forwarded.filter((line) => line.startsWith("delete"));
  const decisions = (kind: string) =>
    journal.recent().filter((d) => d.decision === kind).map((d) => d.key);
  return { guard, forwarded, deletes, decisions };
}

Deno.test("a removal below the threshold goes out at the end of the window, not held", async () => {
  const { guard, deletes, decisions } = guardOver(10);
  try {
    guard.remove("ep/s3", "ep");
    assertEquals(deletes(), [], "it waits the window first");
    await waitFor(() => deletes().length === 1, 2000, "the delete of s3 forwarded");
    assertEquals(deletes(), ["delete ep/s3"]);
    assertEquals(guard.held, 0);
    assertEquals(decisions("held"), []);
  } finally {
    guard.stop();
  }
});

Deno.test("half an end point at once is held; releaseAll sends every held delete", async () => {
  const { guard, deletes, decisions } = guardOver(4);
  try {
    guard.remove("ep/s0", "ep");
    guard.remove("ep/s1", "ep");
    await waitFor(() => guard.held === 2, 2000, "two deletes held");
    assertEquals(deletes(), []);
    assertEquals(guard.releaseAll(), 2);
    assertEquals(deletes().sort(), ["delete ep/s0", "delete ep/s1"]);
    assertEquals(guard.held, 0);
    assertEquals(decisions("released").sort(), ["ep/s0", "ep/s1"]);
  } finally {
    guard.stop();
  }
});

Deno.test("MIN_SERVICES: the last N services of an end point are kept until released", async () => {
  const { guard, forwarded, deletes, decisions } = guardOver(3, { minServices: 2 });
  try {
    // One of three: not a mass delete, and two remain: it goes.
    guard.remove("ep/s0", "ep");
    await waitFor(() => deletes().length === 1, 2000, "s0 deleted");
    // One of the last two: held by the floor, whatever the window says.
    guard.remove("ep/s1", "ep");
    await waitFor(() => guard.held === 1, 2000, "s1 held by the floor");
    assertEquals(deletes(), ["delete ep/s0"]);
    assertEquals(decisions("held"), ["ep/s1"]);
    // Back as it was: nothing to send.
    guard.set("ep/s1", "ep", wanted("s1"));
    assertEquals(guard.held, 0);
    assertEquals(forwarded.at(-1), "set ep/s1");
    guard.remove("ep/s1", "ep");
    await waitFor(() => guard.held === 1, 2000, "s1 held again");
    assertEquals(guard.releaseAll(), 1, "the operator releases it");
    assertEquals(deletes(), ["delete ep/s0", "delete ep/s1"]);
  } finally {
    guard.stop();
  }
});
