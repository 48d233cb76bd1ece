/**
 * The monitor process both deployed-stand-in benches start: `monitor.ts` as `deno task monitor`
 * runs it, at warning level, with its status page on a free loopback port.
 *
 * @module
 */
import type { LocalZooKeeper } from "../mod.ts";
import type { Cleanup } from "./context.ts";
import { BenchProcess, freePort } from "./processes.ts";

/**
 * Starts the monitor of `root` against the proxy at `proxyUrl`, `env` added to (or overriding)
 * the common environment, and stops it on `cleanup`.
 */
export async function startDeployedMonitor(
  cleanup: Cleanup,
  zk: LocalZooKeeper,
  proxyUrl: string,
  root: string,
  label: string,
  env: Record<string, string>,
): Promise<{ monitor: BenchProcess; statusPort: number }> {
  const statusPort = freePort();
  const monitor = await BenchProcess.start(`monitor (${label})`, {
    script: "monitor.ts",
    task: "monitor",
    env: {
      ZK_HOST: zk.connectionString,
      ZK_ROOT_NODE: root,
      ASABRU_API_URL: proxyUrl,
      LOG_LEVEL: "warning",
      STATUS_PORT: String(statusPort),
      STATUS_HOST: "127.0.0.1",
      ...env,
    },
  });
  cleanup.add(`monitor (${label})`, () => monitor.stop());
  return { monitor, statusPort };
}
