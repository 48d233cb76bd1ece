/**
 * The ways a stop request reaches a program, for the process tests: which signal, sent to the
 * process or to its whole group, under `deno task` or as the compiled entry runs.
 */
import type { Launcher, Program } from "./program.ts";
import { assert, assertEquals } from "./assert.ts";
import { childPids, listeningPorts, sigusr1Disposition } from "./process_info.ts";

/** Both ways a program is started. */
export const LAUNCHERS: readonly Launcher[] = ["task", "run"];
/** The signals that ask a program to stop. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** A stop signal. */
export type StopSignal = typeof STOP_SIGNALS[number];
/** Their numbers: a program killed at once exits with 128 + this. */
export const SIGNAL_NUMBER: Record<StopSignal, number> = { SIGINT: 2, SIGTERM: 15 };
/** Where a signal is sent: the process (`kill PID`), or its group (Ctrl-C, `timeout`, systemd). */
export const TARGETS = ["pid", "process group"] as const;
/** Where a signal is sent. */
export type Target = typeof TARGETS[number];

/** How a launcher reads in a step's name. */
export function launcherName(launcher: Launcher, task: string): string {
  return launcher === "task" ? `deno task ${task}` : "the compiled entry (deno run)";
}

/** Sends `signal` to the program or to its process group. */
export function deliver(program: Program, target: Target, signal: StopSignal): void {
  if (target === "pid") program.kill(signal);
  else program.killGroup(signal);
}

/**
 * A person's pace: the README promises that only a signal within 100 ms of the first is taken for
 * the same request, so a press this long after it is a second request. The test's own number, not
 * the program's constant, so that a program whose window outgrew the README's is caught.
 */
const PERSONS_PACE_MS = 150;

/**
 * A person's second press, {@link PERSONS_PACE_MS} after the first was seen: letting that much
 * time pass is the behaviour under test, not a synchronisation.
 */
export function personPressesAgain(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, PERSONS_PACE_MS));
}

/**
 * A second delivery this soon after the first is a duplicate whatever window the program uses
 * (forwarding takes a few ms): the test's own bound, not the program's constant, so that a
 * changed window is caught.
 */
const SURELY_A_DUPLICATE_MS = 50;

/**
 * The program is stopping (its shutdown held by the test): `signal` again a moment after the
 * first was handled (the line `stopping` seen) is the same request: it ends as the first does,
 * with exit 0. The verdict goes by the gap the program itself measured: on a machine so loaded
 * that the test's second signal came {@link SURELY_A_DUPLICATE_MS} or more after the first, it
 * proves nothing either way (then `duplicate` is false: run it under {@link untilProvedDuplicate}).
 * Returns the program's lines.
 */
export async function assertDuplicateIsOneRequest(
  program: Program,
  signal: StopSignal,
  stopping: RegExp,
): Promise<{ duplicate: boolean; lines: string[] }> {
  program.kill(signal);
  await program.waitForLine(stopping, 5000);
  program.kill(signal);
  const { code, lines } = await program.finished(15_000);
  const again = lines.map(logEntry).find((entry) => entry?.message?.startsWith(`${signal} again`));
  assert(again && typeof again.afterMs === "number", `the second ${signal} was logged`);
  if (again.afterMs >= SURELY_A_DUPLICATE_MS) {
    return { duplicate: false, lines };
  }
  assertEquals(code, 0, lines.join("\n"));
  assert(again.message?.includes("the same request"), "taken for the same request");
  assert(lines.some((line) => line.includes('"stopped"')), "an orderly stop");
  return { duplicate: true, lines };
}

/** How many fresh programs {@link untilProvedDuplicate} tries before it fails. */
const DUPLICATE_TRIES = 5;

/**
 * Runs `attempt` (a fresh program and {@link assertDuplicateIsOneRequest} on it) until one run
 * proved something: its second signal came within {@link SURELY_A_DUPLICATE_MS} of the first.
 * Fails after {@link DUPLICATE_TRIES} runs that proved nothing, instead of passing without a test.
 */
export async function untilProvedDuplicate(
  attempt: () => Promise<{ duplicate: boolean }>,
): Promise<void> {
  for (let tries = 1; tries <= DUPLICATE_TRIES; tries++) {
    if ((await attempt()).duplicate) return;
  }
  throw new Error(
    `in ${DUPLICATE_TRIES} runs the second signal never came within ${SURELY_A_DUPLICATE_MS} ms ` +
      "of the first: the duplicate was never delivered, nothing was proved",
  );
}

function logEntry(line: string): { message?: string; afterMs?: unknown } | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * The program is stopping (its shutdown held by the test): a person's second `signal` to the
 * group, once the first was seen (the line `stopping`) and the duplicate window has passed,
 * exits at once with 128 + n and no orderly stop.
 */
export async function assertSecondSignalExitsAtOnce(
  program: Program,
  signal: StopSignal,
  stopping: RegExp,
): Promise<void> {
  program.killGroup(signal);
  await program.waitForLine(stopping, 5000);
  await personPressesAgain();
  program.killGroup(signal);
  const { code, lines } = await program.finished(5000);
  assertEquals(code, 128 + SIGNAL_NUMBER[signal], lines.join("\n"));
  assert(!lines.some((line) => line.includes('"stopped"')), "no orderly stop");
  assert(lines.some((line) => /again after [\d.]+ ms: exiting at once/.test(line)), "says why");
}

/**
 * The program's own process (under `deno task`, deno task's child), and a check that it has
 * opened no listening port since this call, printed no inspector banner, and has SIGUSR1 ignored
 * by the kernel with no handler: the last holds whether or not 127.0.0.1:9229 was free (an
 * inspector that could not bind opens no port and may print nothing).
 */
export async function programProcess(
  program: Program,
  launcher: Launcher,
): Promise<{ pid: number; assertNoInspector(): Promise<void> }> {
  const pid = launcher === "task" ? (await childPids(program.pid))[0] : program.pid;
  const portsBefore = await listeningPorts(pid);
  return {
    pid,
    async assertNoInspector() {
      assertEquals(await listeningPorts(pid), portsBefore, "no port opened");
      assert(!program.lines.some((line) => /Debugger listening/.test(line)), "no inspector");
      assertEquals(await sigusr1Disposition(pid), { ignored: true, caught: false }, "SIGUSR1");
    },
  };
}
