/**
 * Stops one of the chaos run's child processes and says how it ended.
 *
 * @module
 */
import type { Program } from "../testing/program.ts";

/** How long a process may take to exit before it is killed. */
const EXIT_TIMEOUT_MS = 10_000;

/** How a stopped process ended; `killed` when the harness had to SIGKILL it after 10 s. */
export interface ExitStatus {
  code: number;
  signal: string | null;
  killed: boolean;
}

/** Sends `signal` to `program` and waits for its exit (SIGKILL after 10 s, reported as such). */
export async function stopProgram(
  program: Program,
  signal: "SIGTERM" | "SIGKILL",
): Promise<ExitStatus> {
  try {
    program.kill(signal);
  } catch {
    // already exited
  }
  try {
    const { code, signal: by } = await program.finished(EXIT_TIMEOUT_MS);
    return { code, signal: by, killed: false };
  } catch {
    await program[Symbol.asyncDispose]();
    const status = await program.status;
    return { code: status.code, signal: status.signal, killed: true };
  }
}
