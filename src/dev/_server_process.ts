/**
 * A throwaway server process (a local ZooKeeper's JVM, a test's ClickHouse) whose output goes to a
 * log file, and its stop: a signal, a grace period, SIGKILL after it.
 *
 * @module
 */

/** A server process spawned by {@link spawnServerProcess}; `status` is set once it exited. */
export interface ServerProcess {
  /** The server itself (not a shell around it), so signals reach it. */
  readonly child: Deno.ChildProcess;
  /** Settles when the server has exited; every spawned server's status is awaited through it. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** How it exited, once it has. */
  status?: Deno.CommandStatus;
}

/** How {@link spawnServerProcess} ties the server to this process. */
export interface SpawnServerOptions {
  /**
   * Outside this process's group, in a session of its own, so that what a terminal's Ctrl-C (or
   * `timeout`, or systemd) sends to our whole group reaches us alone and our orderly stop still
   * finds the server up; and killed by the kernel (SIGKILL) the moment this process dies,
   * however it dies, so that it never outlives us. The latter is Linux's parent-death signal,
   * set by util-linux's `setpriv --pdeathsig`: where `setpriv` is missing the server stays in
   * our group, as without this option, rather than risk outliving us.
   */
  ownProcessGroup?: boolean;
}

const SETPRIV_PATHS = ["/usr/bin/setpriv", "/bin/setpriv"];

let setprivFound: string | undefined | null = null;

/**
 * The path of a `setpriv` that knows `--pdeathsig` (util-linux 2.33 and later), tried once per
 * process; `undefined` when there is none. An older one would refuse the option and the server
 * would not start at all, with an empty log.
 */
function setprivWithParentDeathSignal(): string | undefined {
  if (setprivFound !== null) return setprivFound;
  setprivFound = SETPRIV_PATHS.filter(isFile).find((path) => {
    try {
      const probe = new Deno.Command(path, {
        args: ["--pdeathsig", "KILL", "--", "true"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).outputSync();
      return probe.success;
    } catch {
      return false;
    }
  });
  return setprivFound;
}

/**
 * Starts `command` with `args`, appending its stdout and stderr to `logFile`.
 *
 * Output goes to a file rather than a pipe: nobody has to drain it, so it can never fill up and
 * block the server, and it stays readable after the server died.
 */
export function spawnServerProcess(
  command: string,
  args: readonly string[],
  logFile: string,
  options: SpawnServerOptions = {},
): ServerProcess {
  // `exec` replaces the shell by the server (and setpriv by the shell): the child's pid is the
  // server's.
  const shell = ["/bin/sh", "-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "sh", logFile];
  const setpriv = options.ownProcessGroup ? setprivWithParentDeathSignal() : undefined;
  const [program, ...programArgs] = setpriv
    ? [setpriv, "--pdeathsig", "KILL", "--", ...shell, command, ...args]
    : [...shell, command, ...args];
  const child = new Deno.Command(program, {
    args: programArgs,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    // setsid(): a session and process group of its own.
    detached: setpriv !== undefined,
  }).spawn();
  const server: ServerProcess = {
    child,
    exited: child.status.then((status) => (server.status = status)),
  };
  return server;
}

/**
 * Sends `signal` and waits until the server has exited. A SIGTERM that has not ended it after
 * `graceMs` is followed by SIGKILL, so a hung shutdown cannot hang the caller. Resolves with
 * `"killed"` when SIGKILL ended it (asked for, or after the grace period), else `"stopped"`.
 */
export async function stopServerProcess(
  server: ServerProcess,
  signal: "SIGTERM" | "SIGKILL",
  graceMs: number,
): Promise<"stopped" | "killed"> {
  if (server.status !== undefined) return "stopped";
  sendSignal(server, signal);
  let outcome: "stopped" | "killed" = signal === "SIGKILL" ? "killed" : "stopped";
  if (signal === "SIGTERM") {
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"grace over">((resolve) => {
      graceTimer = setTimeout(() => resolve("grace over"), graceMs);
    });
    if (await Promise.race([server.exited, graceOver]) === "grace over") {
      sendSignal(server, "SIGKILL");
      outcome = "killed";
    }
    clearTimeout(graceTimer);
  }
  await server.exited;
  return outcome;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function sendSignal(server: ServerProcess, signal: Deno.Signal): void {
  try {
    server.child.kill(signal);
  } catch {
    // Deno throws when the process has already exited: what the caller wanted anyway.
  }
}

/** The last `count` lines of `logFile`, for error messages; never throws. */
export async function readLogTail(logFile: string, count: number): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(logFile)).trimEnd().split("\n");
    return lines.slice(-count).join("\n");
  } catch {
    return "(no log)";
  }
}
