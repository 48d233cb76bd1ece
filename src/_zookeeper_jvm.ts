/** A ZooKeeper server JVM spawned by {@link spawnZooKeeperJvm}; `status` is set once it exited. */
export interface ZooKeeperJvm {
  /** The JVM itself (not a shell around it), so signals reach it. */
  readonly child: Deno.ChildProcess;
  /** Settles when the JVM has exited; every spawned JVM's status is awaited through it. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** How it exited, once it has. */
  status?: Deno.CommandStatus;
}

/**
 * Starts `QuorumPeerMain` on `<directory>/zoo.cfg`, appending its stdout and stderr to `logFile`.
 *
 * Output goes to a file rather than a pipe: nobody has to drain it, so it can never fill up and
 * block the server, and it stays readable after the JVM died.
 */
export function spawnZooKeeperJvm(
  install: { java: string; classpath: string },
  directory: string,
  logFile: string,
): ZooKeeperJvm {
  const child = new Deno.Command("/bin/sh", {
    // `exec` replaces the shell by the JVM: the child's pid is the JVM's.
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logFile,
      install.java,
      "-Xms32m",
      "-Xmx512m",
      `-Dzookeeper.log.dir=${directory}`,
      "-Dorg.slf4j.simpleLogger.showDateTime=true",
      "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
      "-cp",
      install.classpath,
      "org.apache.zookeeper.server.quorum.QuorumPeerMain",
      `${directory}/zoo.cfg`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const jvm: ZooKeeperJvm = {
    child,
    exited: child.status.then((status) => (jvm.status = status)),
  };
  return jvm;
}

/**
 * Sends `signal` and waits until the JVM has exited. A SIGTERM that has not ended it after
 * `graceMs` is followed by SIGKILL, so a hung shutdown cannot hang the caller.
 */
export async function terminateJvm(
  jvm: ZooKeeperJvm,
  signal: "SIGTERM" | "SIGKILL",
  graceMs: number,
): Promise<void> {
  if (jvm.status === undefined) {
    sendSignal(jvm, signal);
    if (signal === "SIGTERM") {
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<"grace over">((resolve) => {
        graceTimer = setTimeout(() => resolve("grace over"), graceMs);
      });
      const outcome = await Promise.race([jvm.exited, graceOver]);
      clearTimeout(graceTimer);
      if (outcome === "grace over") sendSignal(jvm, "SIGKILL");
    }
  }
  await jvm.exited;
}

function sendSignal(jvm: ZooKeeperJvm, signal: Deno.Signal): void {
  try {
    jvm.child.kill(signal);
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
