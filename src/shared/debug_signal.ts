/**
 * Keeps SIGUSR1 from opening a debugger. Since 2.9.2, Deno does what Node does: a running process
 * that gets SIGUSR1 starts an inspector on 127.0.0.1:9229 (denoland/deno#35738), unauthenticated,
 * so any local user can attach to the process that holds the proxy's or ZooKeeper's credentials.
 * Deno 2.9.6 has no flag or variable to turn that off; `--deny-net`, `NODE_OPTIONS=
 * --disable-sigusr1`, a JS listener for SIGUSR1 and an inherited "ignore" disposition all leave
 * it on (tried), because the runtime installs its own handler about 500 ms after start.
 *
 * So this sets SIGUSR1's disposition to "ignore" through libc (FFI, the one library the
 * programs' `--allow-ffi` names, revoked as soon as libc is open so that nothing else in the
 * process can load a library), at once and again every {@link POLL_MS} ms until it has replaced
 * the runtime's handler (or {@link GIVE_UP_MS} have passed: a runtime without that handler).
 * The entries call it before anything else. What still holds, once, at start: before that call
 * SIGUSR1 has its default action (the process dies); between the runtime's installation and the
 * next turn of the timer (every {@link POLL_MS} ms, later while start-up keeps the event loop
 * busy) a SIGUSR1 still opens the inspector. Linux only, where the programs are deployed.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["zkcm", "process"]);

const SIGUSR1 = 10;
const SIG_DFL = 0n;
const SIG_IGN = 1n;
/** How often the disposition is set again until the runtime's handler has been replaced. */
const POLL_MS = 20;
/** After this, a runtime that never installed its handler is assumed not to have one. */
const GIVE_UP_MS = 10_000;

/** Where glibc lives on Debian (and the Docker image's distroless base), by architecture. */
export const LIBC_PATHS: Partial<Record<typeof Deno.build.arch, string>> = {
  x86_64: "/lib/x86_64-linux-gnu/libc.so.6",
  aarch64: "/lib/aarch64-linux-gnu/libc.so.6",
};

/**
 * Makes SIGUSR1 ignored for the rest of the process's life (see the module's comment), and
 * revokes the FFI permission. Call it first, before configuration and logging: it returns, rather
 * than logs, why it could not (no FFI permission, no glibc), and changes nothing else then; pass
 * that to {@link warnDebugSignalNotIgnored} once logging is set up.
 *
 * @example
 * ```ts
 * const debugSignalProblem = ignoreDebugSignal(); // first thing in an entry script
 * // ... configuration, logging ...
 * warnDebugSignalNotIgnored(debugSignalProblem);
 * ```
 */
export function ignoreDebugSignal(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const path = LIBC_PATHS[Deno.build.arch];
  let libc: Deno.DynamicLibrary<{ signal: { parameters: ["i32", "usize"]; result: "usize" } }>;
  try {
    if (!path) throw new Error(`no known glibc path for ${Deno.build.arch}`);
    libc = Deno.dlopen(path, { signal: { parameters: ["i32", "usize"], result: "usize" } });
  } catch (error) {
    return String(error);
  } finally {
    // FFI on libc can do anything the process's user can. The permission is for this one
    // handle, which keeps working once it is revoked; no other code (a dependency) may use FFI.
    Deno.permissions.revokeSync({ name: "ffi" });
  }
  const startedAt = performance.now();
  // True once the disposition replaced was the runtime's handler (not "default" or ours).
  const ignoreReplacedRuntimeHandler = (say = logReplaced) => {
    const previous = BigInt(libc.symbols.signal(SIGUSR1, SIG_IGN));
    if (previous === SIG_IGN || previous === SIG_DFL) return false;
    say(Math.round(performance.now() - startedAt));
    return true;
  };
  // A slow start can come after the runtime's installation: then the first call replaces it,
  // before logging is set up, so its line waits for warnDebugSignalNotIgnored.
  if (ignoreReplacedRuntimeHandler((waitedMs) => replacedAtStartAfterMs = waitedMs)) {
    libc.close();
    return undefined;
  }
  const timer = setInterval(() => {
    if (!ignoreReplacedRuntimeHandler()) {
      if (performance.now() - startedAt < GIVE_UP_MS) return;
      log.debug("SIGUSR1 ignored; the runtime installed no handler of its own within {ms} ms", {
        ms: GIVE_UP_MS,
      });
    }
    clearInterval(timer);
    libc.close();
  }, POLL_MS);
  // It must never be what keeps a finished program alive.
  Deno.unrefTimer(timer);
  return undefined;
}

/** Set when {@link ignoreDebugSignal}'s first call replaced the runtime's handler. */
let replacedAtStartAfterMs: number | undefined;

function logReplaced(waitedMs: number): void {
  log.debug("SIGUSR1 ignored: the runtime's inspector handler replaced after {waitedMs} ms", {
    waitedMs,
  });
}

/**
 * The one warning for what {@link ignoreDebugSignal} returned; nothing when it succeeded. Call it
 * once logging is set up: it also logs what `ignoreDebugSignal` did before that (the runtime's
 * handler replaced at its very first call, on a slow start), which would otherwise be lost.
 */
export function warnDebugSignalNotIgnored(problem: string | undefined): void {
  if (replacedAtStartAfterMs !== undefined) {
    logReplaced(replacedAtStartAfterMs);
    replacedAtStartAfterMs = undefined;
  }
  if (problem === undefined) return;
  log.warn("SIGUSR1 would open an inspector on 127.0.0.1:9229: cannot ignore it ({error})", {
    error: problem,
  });
}
