/**
 * What the monitor tests start from: the options of a monitor that watches a test ZooKeeper and
 * delivers to stand-in proxies (timeouts made for a loaded machine), and a connected writer
 * session.
 *
 * @module
 */
import { type MonitorOptions, monitorOptions } from "../mod.ts";
import { parseOptions } from "../src/shared/options.ts";
import { ZkSession } from "../src/zookeeper/mod.ts";

/** The monitor's options for `zkHost` and `proxyUrls`, with `overrides` on top. */
export function monitorTestOptions(
  zkHost: string,
  proxyUrls: readonly string[],
  overrides: Partial<MonitorOptions> = {},
): MonitorOptions {
  const parsed = parseOptions(
    monitorOptions,
    ["--zk-host", zkHost, ...proxyUrls.flatMap((url) => ["--asabru-url", url])],
    new Map(),
  );
  if (!parsed.ok || parsed.help) throw new Error(JSON.stringify(parsed));
  return {
    ...parsed.value,
    configTemplate: undefined, // a template is parsed by loadMonitorConfig; none here
    sessionTimeoutMs: 2000,
    // Generous: on a loaded machine a timed-out request is (rightly) followed by delete + add,
    // which would blur the exact request counts the tests check.
    proxyTimeout: 5000,
    retryMax: 200,
    ...overrides,
  };
}

/** A session to `connectionString`, connected. */
export async function connectWriter(connectionString: string): Promise<ZkSession> {
  const session = ZkSession.open({ connectionString, sessionTimeoutMs: 4000 });
  await session.waitUntilConnected({ timeoutMs: 10_000 });
  return session;
}
