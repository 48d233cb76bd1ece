/**
 * The chaos run's bounded waits (chaos/bounded.ts): a wait that never ends becomes an error that
 * names it, so the run gives a verdict instead of hanging; one that ends passes its value through.
 */
import { bounded, ChaosHangError } from "../../chaos/bounded.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

Deno.test("bounded: a wait that never ends fails with a ChaosHangError naming it", async () => {
  const never = new Promise<void>(() => {});
  const error = await bounded(never, 20, "the heal: the stand-in's setMode(ok)").then(
    () => undefined,
    (error) => error,
  );
  assert(error instanceof ChaosHangError, `a ChaosHangError, got ${error}`);
  assertEquals(error.step, "the heal: the stand-in's setMode(ok)");
  assertEquals(error.message, "the heal: the stand-in's setMode(ok) did not end within 20 ms");
});

Deno.test("bounded: a wait that ends passes its value or its error through", async () => {
  assertEquals(await bounded(Promise.resolve(7), 60_000, "seven"), 7);
  const failure = await bounded(Promise.reject(new RangeError("no")), 60_000, "a failure").then(
    () => undefined,
    (error) => error,
  );
  assert(failure instanceof RangeError, "the promise's own error");
});
