/**
 * The ZooKeeper session as the status page shows it: its state, the server, and since when the
 * state holds (the session itself only knows its state, not when it changed).
 *
 * @module
 */
import { formatSessionId, type SessionState, type ZkSession } from "../zookeeper/mod.ts";
import type { ZooKeeperReachability } from "./reachability.ts";

/** The session, for the status document. */
export interface SessionStatus {
  state: SessionState;
  /** `host:port` of the server, while connected. */
  server?: string;
  /** The session id in hex, once there is one. */
  sessionId?: string;
  /** Since when `state` holds (ISO 8601). */
  since: string;
  /** Why there is no live session, while there is none. */
  problem?: string;
}

/** Remembers when the session's state last changed. */
export class SessionStatusTracker {
  readonly #session: ZkSession;
  readonly #reachability: ZooKeeperReachability;
  readonly #stop: () => void;
  #sinceMs = Date.now();

  constructor(session: ZkSession, reachability: ZooKeeperReachability) {
    this.#session = session;
    this.#reachability = reachability;
    this.#stop = session.onStateChange(() => this.#sinceMs = Date.now());
  }

  /** The session now. */
  report(): SessionStatus {
    const sessionId = this.#session.sessionId;
    const connected = this.#session.state === "connected";
    return {
      state: this.#session.state,
      server: connected ? this.#session.server : undefined,
      sessionId: sessionId === 0n ? undefined : formatSessionId(sessionId),
      since: new Date(this.#sinceMs).toISOString(),
      problem: this.#reachability.readinessReason(),
    };
  }

  /** Stops listening to the session. */
  stop(): void {
    this.#stop();
  }
}
