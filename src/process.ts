/**
 * What both entry scripts do with their process: print plain lines, and shut down on the first
 * SIGTERM/SIGINT but exit at once on the second.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["zkcm", "process"]);
const encoder = new TextEncoder();

/** Writes lines synchronously (nothing is lost when `Deno.exit` follows). */
export function printLines(
  stream: { writeSync(bytes: Uint8Array): number },
  lines: string[],
): void {
  const bytes = encoder.encode(lines.map((line) => line + "\n").join(""));
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/**
 * Returns the signal handler of a daemon: the first signal starts `shutdown` (its failure is
 * logged and exits 1); a second one exits at once with 128 + the signal's number, as shells do.
 */
export function exitOnSecondSignal(
  shutdown: (signal: Deno.Signal) => Promise<void>,
  exit: (code: number) => void = Deno.exit,
): (signal: Deno.Signal) => void {
  let shuttingDown = false;
  return (signal) => {
    if (shuttingDown) {
      log.warn("{signal} again: exiting at once", { signal });
      exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    shuttingDown = true;
    shutdown(signal).catch((error) => {
      log.fatal("shutdown failed: {error}", { error: String(error) });
      exit(1);
    });
  };
}
