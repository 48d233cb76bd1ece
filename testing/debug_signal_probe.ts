/**
 * A program that does what the entry scripts do about SIGUSR1 and nothing else, for
 * tests/shared/debug_signal_test.ts: logs at debug level as JSON lines on stderr, calls
 * `ignoreDebugSignal()`, then prints on stdout, as one JSON line, the state of the FFI permission for libc and
 * what loading libc again gives. It runs until SIGTERM (exit 0).
 */
import { configureLogging } from "../src/shared/logging.ts";
import {
  ignoreDebugSignal,
  LIBC_PATHS,
  warnDebugSignalNotIgnored,
} from "../src/shared/debug_signal.ts";

await configureLogging({ level: "debug", format: "json" });
// A signal listener alone does not keep a program running.
setInterval(() => {}, 60_000);
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
warnDebugSignalNotIgnored(ignoreDebugSignal());

let loadAgain: string;
try {
  Deno.dlopen(LIBC_PATHS[Deno.build.arch]!, { getpid: { parameters: [], result: "i32" } }).close();
  loadAgain = "loaded";
} catch (error) {
  loadAgain = error instanceof Error ? error.name : String(error);
}
const ffi = Deno.permissions.querySync({ name: "ffi", path: LIBC_PATHS[Deno.build.arch] }).state;
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ ffi, loadAgain }) + "\n"));
