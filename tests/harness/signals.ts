/**
 * The ways a stop request reaches a program, for the process tests: which signal, sent to the
 * process or to its whole group, under `deno task` or as the compiled entry runs.
 */
import type { Launcher, Program } from "./program.ts";
import { DUPLICATE_SIGNAL_WINDOW_MS } from "../../src/process.ts";

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
 * A person's second press comes later than a signal's duplicate delivery (see
 * DUPLICATE_SIGNAL_WINDOW_MS): letting that much time pass after the first was seen is the
 * behaviour under test, not a synchronisation.
 */
export function personPressesAgain(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, DUPLICATE_SIGNAL_WINDOW_MS));
}
