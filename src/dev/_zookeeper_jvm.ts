import { type ServerProcess, spawnServerProcess } from "./_server_process.ts";

export { readLogTail, stopServerProcess as terminateJvm } from "./_server_process.ts";

/** A ZooKeeper server JVM spawned by {@link spawnZooKeeperJvm}; `status` is set once it exited. */
export type ZooKeeperJvm = ServerProcess;

/**
 * Starts `QuorumPeerMain` on `<directory>/zoo.cfg`, appending its stdout and stderr to `logFile`
 * (see {@link spawnServerProcess}). In a process group of its own, killed when this process
 * dies: a Ctrl-C to `deno task monitor:local` reaches the monitor alone, which closes its session
 * before it stops this throwaway server, so its stop logs no lost connection.
 */
export function spawnZooKeeperJvm(
  install: { java: string; classpath: string },
  directory: string,
  logFile: string,
): ZooKeeperJvm {
  return spawnServerProcess(
    install.java,
    [
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
    logFile,
    { ownProcessGroup: true },
  );
}
