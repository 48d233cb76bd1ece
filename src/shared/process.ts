/**
 * What both entry scripts do with their process: print plain lines, and shut down on the first
 * SIGTERM/SIGINT (however many times it is delivered) but exit at once on a second one.
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
 * The same stop signal again within this many milliseconds of the first is the same request,
 * delivered twice. That happens whenever a signal goes to a whole process group (a terminal's
 * Ctrl-C, `timeout`, systemd's `KillMode=control-group`) while the program runs under `deno task`:
 * the program gets the signal from the kernel and, a moment later, again from `deno task`, which
 * forwards it (0.3–0.4 ms apart, measured). A person cannot press Ctrl-C twice this fast: a
 * deliberate double press is well over 100 ms apart (a single finger taps at most about 7 times a
 * second), and a held key repeats only after the keyboard's repeat delay (250 ms at the least).
 */
export const DUPLICATE_SIGNAL_WINDOW_MS = 100;

/**
 * Returns the signal handler of a daemon: the first signal starts `shutdown` (its failure is
 * logged and exits 1); the same signal again within {@link DUPLICATE_SIGNAL_WINDOW_MS} is the same
 * request and is ignored; any later one exits at once with 128 + the signal's number, as shells
 * do.
 *
 * @example
 * ```ts
 * const stop = exitOnSecondSignal(async (signal) => { await app.shutdown(); Deno.exit(0); });
 * Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
 * ```
 */
export function exitOnSecondSignal(
  shutdown: (signal: Deno.Signal) => Promise<void>,
  exit: (code: number) => void = Deno.exit,
  now: () => number = () => performance.now(),
): (signal: Deno.Signal) => void {
  let first: { signal: Deno.Signal; at: number } | undefined;
  return (signal) => {
    if (first) {
      const afterMs = now() - first.at;
      if (signal === first.signal && afterMs < DUPLICATE_SIGNAL_WINDOW_MS) {
        log.debug("{signal} again after {afterMs} ms: the same request, delivered twice", {
          signal,
          afterMs: Math.round(afterMs * 10) / 10,
        });
        return;
      }
      log.warn("{signal} again after {afterMs} ms: exiting at once", {
        signal,
        afterMs: Math.round(afterMs * 10) / 10,
      });
      exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    first = { signal, at: now() };
    shutdown(signal).catch((error) => {
      log.fatal("shutdown failed: {error}", { error: String(error) });
      exit(1);
    });
  };
}
