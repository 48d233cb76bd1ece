/**
 * The chroot of `ZK_HOST` (`zk:2181/cluster3`) must exist: ZooKeeper does not create it, and
 * without it every request of the programs fails with "no such znode" for paths that look fine
 * (`/cluster1`, `/cluster1-election`), which names the wrong culprit. This watch looks at the
 * chroot itself once per connection (`exists("/")` in a chrooted session is the chroot), says in
 * one line that it is missing and what to create, at most once a minute, and says when it
 * appears (a watch on it). It lives above the session layer, as one of its recipes.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { SessionStateChange, ZkSession } from "../zookeeper/mod.ts";

const log = getLogger(["zkcm", "chroot"]);

/** How often at most the missing chroot is logged again (reconnections may be many). */
export const CHROOT_LOG_INTERVAL_MS = 60_000;

/** Options of {@link ChrootWatch}. */
export interface ChrootWatchOptions {
  session: ZkSession;
  /** The chroot of the connection string, e.g. `/cluster3`. */
  chroot: string;
  /** Monotonic milliseconds. Default `performance.now`. */
  now?: () => number;
}

/**
 * Watches that the connection string's chroot exists.
 *
 * @example
 * ```ts
 * const watch = new ChrootWatch({ session, chroot: "/cluster3" });
 * watch.start();
 * if (watch.problem) reasons.push(watch.problem); // for /readyz
 * ```
 */
export class ChrootWatch {
  readonly #session: ZkSession;
  readonly #chroot: string;
  readonly #now: () => number;
  #missing = false;
  #loggedAt = -Infinity;
  #stopped = false;
  #unsubscribe?: () => void;

  constructor(options: ChrootWatchOptions) {
    this.#session = options.session;
    this.#chroot = options.chroot;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Looks now if connected, and again on every (re)connection. */
  start(): void {
    this.#unsubscribe = this.#session.onStateChange((change: SessionStateChange) => {
      if (change.state === "connected") this.#check();
    });
    if (this.#session.state === "connected") this.#check();
  }

  /** Stops looking. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
  }

  /** Why nothing can work while the chroot is missing, for `/readyz`; `undefined` when it exists. */
  get problem(): string | undefined {
    return this.#missing ? missingLine(this.#chroot) : undefined;
  }

  #check(): void {
    if (this.#stopped) return;
    this.#session.exists("/", () => this.#check()).then((stat) => {
      if (this.#stopped) return;
      if (stat !== null) {
        if (this.#missing) {
          log.info("ZooKeeper chroot {chroot} exists now", { chroot: this.#chroot });
        }
        this.#missing = false;
        return;
      }
      this.#missing = true;
      const now = this.#now();
      if (now - this.#loggedAt < CHROOT_LOG_INTERVAL_MS) return;
      this.#loggedAt = now;
      log.error("{line}", { line: missingLine(this.#chroot), chroot: this.#chroot });
    }, (error) => {
      // The session's own lines say what went wrong with the connection; the next one looks again.
      log.debug("could not look at chroot {chroot}: {error}", {
        chroot: this.#chroot,
        error: String(error),
      });
    });
  }
}

function missingLine(chroot: string): string {
  return `ZooKeeper chroot ${chroot} (the /path at the end of ZK_HOST) does not exist: create it ` +
    `(zkCli.sh: create ${chroot}) or correct ZK_HOST; waiting for it`;
}

/** Starts a {@link ChrootWatch} when `chroot` is set; `undefined` otherwise. */
export function watchChroot(
  session: ZkSession,
  chroot: string | undefined,
): ChrootWatch | undefined {
  if (chroot === undefined) return undefined;
  const watch = new ChrootWatch({ session, chroot });
  watch.start();
  return watch;
}
