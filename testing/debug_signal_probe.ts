/**
 * A program that does what the entry scripts do about SIGUSR1 and nothing else, for
 * tests/shared/debug_signal_test.ts: logs at debug level as JSON lines on stderr, calls
 * `ignoreDebugSignal()` (with `late`: see below), then prints on stdout, as one JSON line, the state of the FFI permission for libc and
 * what loading libc again gives. It runs until SIGTERM (exit 0).
 */
import { configureLogging } from "../src/shared/logging.ts";
import {
  ignoreDebugSignal,
  LIBC_PATHS,
  warnDebugSignalNotIgnored,
} from "../src/shared/debug_signal.ts";

/**
 * With `late`: a start as slow as the entries' on a loaded machine. It waits for a line on stdin,
 * which the test writes once the runtime's own SIGUSR1 handler is in place (this process may not
 * read its own /proc entry); then `ignoreDebugSignal()` runs, and logging is set up only after
 * it, in the entries' order.
 */
const late = Deno.args[0] === "late";
const logging = () => configureLogging({ level: "debug", format: "json" });
if (late) await Deno.stdin.read(new Uint8Array(1));
else await logging();
// A signal listener alone does not keep a program running.
setInterval(() => {}, 60_000);
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
const problem = ignoreDebugSignal();
if (late) await logging();
warnDebugSignalNotIgnored(problem);

let loadAgain: string;
try {
  Deno.dlopen(LIBC_PATHS[Deno.build.arch]!, { getpid: { parameters: [], result: "i32" } }).close();
  loadAgain = "loaded";
} catch (error) {
  loadAgain = error instanceof Error ? error.name : String(error);
}
const ffi = Deno.permissions.querySync({ name: "ffi", path: LIBC_PATHS[Deno.build.arch] }).state;
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ ffi, loadAgain }) + "\n"));
