/**
 * Sessions for tests: opened with short timeouts and awaited until connected.
 *
 * @module
 */
import { ZkSession, type ZkSessionOptions } from "../src/zookeeper/mod.ts";

/** Opens a session (4 s session timeout, 5 s request timeout unless given) and waits for it. */
export async function connected(options: ZkSessionOptions): Promise<ZkSession> {
  const session = ZkSession.open({ sessionTimeoutMs: 4000, requestTimeoutMs: 5000, ...options });
  await session.waitUntilConnected({ timeoutMs: 10_000 });
  return session;
}
