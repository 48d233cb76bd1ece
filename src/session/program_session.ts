/**
 * The ZooKeeper session of either program, with what both keep beside it: the reachability
 * lines, the watch on a missing chroot and the session's status for `/readyz` and the page.
 *
 * @module
 */
import { ZkSession } from "../zookeeper/mod.ts";
import { type ChrootWatch, watchChroot } from "./chroot_watch.ts";
import { connectionChroot } from "./connection_string.ts";
import { ZooKeeperReachability } from "./reachability.ts";
import { SessionStatusTracker } from "./status.ts";
import { zkTlsOf, type ZkTlsSettings } from "./tls.ts";

/** The options both programs take for their session (`ZK_HOST`, `ZK_AUTH`, `ZK_TLS*`, ...). */
export interface ProgramSessionOptions extends ZkTlsSettings {
  zkHost: string;
  sessionTimeoutMs: number;
  zkAuth?: string;
}

/** A program's session and its companions; each is stopped by the program, in its own order. */
export interface ProgramSession {
  session: ZkSession;
  reachability: ZooKeeperReachability;
  /** Only when `ZK_HOST` names a chroot. */
  chrootWatch: ChrootWatch | undefined;
  sessionStatus: SessionStatusTracker;
}

/** Opens the session (it connects in the background) and starts its companions. */
export function openProgramSession(options: ProgramSessionOptions): ProgramSession {
  const session = ZkSession.open({
    connectionString: options.zkHost,
    sessionTimeoutMs: options.sessionTimeoutMs,
    digestAuth: options.zkAuth,
    tls: zkTlsOf(options),
  });
  const reachability = new ZooKeeperReachability(session);
  const chrootWatch = watchChroot(session, connectionChroot(options.zkHost));
  const sessionStatus = new SessionStatusTracker(session, reachability);
  return { session, reachability, chrootWatch, sessionStatus };
}
