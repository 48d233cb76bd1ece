/**
 * The stop-signal rule of both programs, with a clock and an exit under the test's control. The
 * same rule against real processes and real signals: tests/client/process_test.ts and
 * tests/monitor/process_test.ts.
 */
import { DUPLICATE_SIGNAL_WINDOW_MS, exitOnSecondSignal } from "../../src/shared/process.ts";
import { assertEquals } from "../../testing/assert.ts";

function harness() {
  let clock = 1000;
  const exits: number[] = [];
  const shutdowns: Deno.Signal[] = [];
  const failure = Promise.withResolvers<void>();
  let failNext = false;
  const handle = exitOnSecondSignal(
    (signal) => {
      shutdowns.push(signal);
      return failNext ? Promise.reject(new Error("boom")) : new Promise<void>(() => {});
    },
    (code) => {
      exits.push(code);
      failure.resolve();
    },
    () => clock,
  );
  return {
    handle,
    exits,
    shutdowns,
    failure: failure.promise,
    advance: (ms: number) => clock += ms,
    failShutdown: () => failNext = true,
  };
}

Deno.test("the first stop signal starts the shutdown, once", () => {
  const { handle, exits, shutdowns } = harness();
  handle("SIGINT");
  assertEquals(shutdowns, ["SIGINT"]);
  assertEquals(exits, []);
});

Deno.test("the same signal delivered twice at once (deno task forwarding) is one request", () => {
  const { handle, exits, shutdowns, advance } = harness();
  handle("SIGINT");
  advance(0.4);
  handle("SIGINT");
  advance(DUPLICATE_SIGNAL_WINDOW_MS - 1);
  handle("SIGINT");
  assertEquals(shutdowns, ["SIGINT"]);
  assertEquals(exits, [], "no exit at once");
});

Deno.test("a second Ctrl-C after a pause exits at once with 128 + 2", () => {
  const { handle, exits, shutdowns, advance } = harness();
  handle("SIGINT");
  advance(DUPLICATE_SIGNAL_WINDOW_MS);
  handle("SIGINT");
  assertEquals(exits, [130]);
  assertEquals(shutdowns, ["SIGINT"]);
});

Deno.test("a second SIGTERM after a pause exits with 128 + 15", () => {
  const { handle, exits, advance } = harness();
  handle("SIGTERM");
  advance(DUPLICATE_SIGNAL_WINDOW_MS + 500);
  handle("SIGTERM");
  assertEquals(exits, [143]);
});

Deno.test("another stop signal is never a duplicate, however soon", () => {
  const { handle, exits, advance } = harness();
  handle("SIGINT");
  advance(1);
  handle("SIGTERM");
  assertEquals(exits, [143]);
});

Deno.test("a failed shutdown exits 1", async () => {
  const { handle, exits, failure, failShutdown } = harness();
  failShutdown();
  handle("SIGTERM");
  await failure;
  assertEquals(exits, [1]);
});
