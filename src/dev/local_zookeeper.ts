/**
 * Throwaway real ZooKeeper servers (standalone or ensemble) on 127.0.0.1, for tests, demos and the
 * monitor's `--local-zookeeper` flag. Each server lives in its own temporary directory and is removed
 * with it.
 *
 * @example
 * ```ts
 * await using zookeeper = await LocalZooKeeper.start();
 * console.log(zookeeper.connectionString); // "127.0.0.1:41234"
 * ```
 *
 * @module
 */

import { renderZooCfg, resolveTiming } from "./_zoo_cfg.ts";
import { pause, reserveFreePorts, sendFourLetterWord } from "./_loopback.ts";
import {
  readLogTail,
  spawnZooKeeperJvm,
  terminateJvm,
  type ZooKeeperJvm,
} from "./_zookeeper_jvm.ts";

/** Thrown when Java or the ZooKeeper jars needed to start a local server cannot be found. */
export class ZooKeeperNotInstalledError extends Error {
  /** What exactly was not found, e.g. `/usr/share/java/zookeeper.jar does not exist`. */
  readonly missing: string;

  /**
   * Builds the one-line message from what is missing.
   *
   * @param missing what exactly was not found, e.g. `no \`java\` on PATH`
   */
  constructor(missing: string) {
    super(
      `Cannot start a local ZooKeeper: ${missing}. Install it with \`apt-get install -y zookeeper\` ` +
        `(Debian) and a default Java, or set ZOOKEEPER_HOME to an Apache ZooKeeper distribution.`,
    );
    this.name = "ZooKeeperNotInstalledError";
    this.missing = missing;
  }
}

/** How to run ZooKeeper's server class: the Java binary and the class path. */
export interface ZooKeeperInstall {
  /** Path of the `java` executable. */
  java: string;
  /** Class path (`:`-separated): configuration directory first, then the jars. */
  classpath: string;
}

const DEBIAN_CONF_DIR = "/etc/zookeeper/conf";
/** Its manifest's Class-Path brings every dependency along. */
const DEBIAN_ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar";
/**
 * Debian's jar has no SLF4J binding, so the server would log nothing at all and a failed start
 * would leave an empty log. This binding (Debian package libslf4j-java) logs to stderr, which ends
 * up in the server's log file. Used only when present.
 */
const DEBIAN_SLF4J_BINDING = "/usr/share/java/slf4j-simple.jar";
const DEBIAN_NETTY_CODEC = "/usr/share/java/netty-codec.jar";

/**
 * Finds Java and ZooKeeper: `ZOOKEEPER_HOME` (an Apache distribution: `conf/`, `lib/*.jar` and the
 * jars at its top) when set, otherwise Debian's `zookeeper` package. Java is `$JAVA_HOME/bin/java`
 * when `JAVA_HOME` is set, otherwise `java` on `PATH`.
 *
 * @param env where the variables are read from (default: the process environment)
 * @throws {ZooKeeperNotInstalledError} when the ZooKeeper jar or Java is missing
 */
export function findZooKeeperInstall(
  env: { get(name: string): string | undefined } = Deno.env,
): ZooKeeperInstall {
  const classpath = findClasspath(env.get("ZOOKEEPER_HOME"));
  const java = findJava(env.get("JAVA_HOME"), env.get("PATH"));
  return { java, classpath };
}

function findClasspath(zookeeperHome: string | undefined): string {
  if (zookeeperHome === undefined || zookeeperHome === "") {
    if (!isFile(DEBIAN_ZOOKEEPER_JAR)) {
      throw new ZooKeeperNotInstalledError(`${DEBIAN_ZOOKEEPER_JAR} does not exist`);
    }
    const entries = [DEBIAN_CONF_DIR, DEBIAN_ZOOKEEPER_JAR];
    if (isFile(DEBIAN_SLF4J_BINDING)) entries.push(DEBIAN_SLF4J_BINDING);
    // The jar's manifest lists Netty's transport and handler but not its codec, without which the
    // Netty connection factory (the one with TLS) fails on the first connection.
    if (isFile(DEBIAN_NETTY_CODEC)) entries.push(DEBIAN_NETTY_CODEC);
    return entries.join(":");
  }
  const jars = [...jarsIn(`${zookeeperHome}/lib`), ...jarsIn(zookeeperHome)];
  const hasServerJar = jars.some((jar) => /\/zookeeper(-[0-9][^/]*)?\.jar$/.test(jar));
  if (!hasServerJar) {
    throw new ZooKeeperNotInstalledError(
      `no zookeeper-<version>.jar in $ZOOKEEPER_HOME/lib or $ZOOKEEPER_HOME (${zookeeperHome})`,
    );
  }
  return [`${zookeeperHome}/conf`, ...jars].join(":");
}

function findJava(javaHome: string | undefined, path: string | undefined): string {
  if (javaHome !== undefined && javaHome !== "") {
    const java = `${javaHome}/bin/java`;
    if (!isExecutable(java)) {
      throw new ZooKeeperNotInstalledError(`$JAVA_HOME/bin/java (${java}) does not exist`);
    }
    return java;
  }
  const directories = (path ?? "").split(":").filter((directory) => directory !== "");
  const java = [...directories, "/usr/bin"].map((directory) => `${directory}/java`)
    .find(isExecutable);
  if (java === undefined) throw new ZooKeeperNotInstalledError("no `java` on PATH");
  return java;
}

/** Sorted so the class path, and with it which duplicate class wins, is the same on every run. */
function jarsIn(directory: string): string[] {
  try {
    return [...Deno.readDirSync(directory)]
      .filter((entry) => !entry.isDirectory && entry.name.endsWith(".jar"))
      .map((entry) => `${directory}/${entry.name}`)
      .sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Timing settings of a local server; the defaults make session-expiry tests take about a second. */
export interface LocalZooKeeperOptions {
  /** ZooKeeper's basic time unit (default 200 ms; ZooKeeper's own default is 2000). */
  tickTimeMs?: number;
  /** Smallest session timeout the server grants (default 400 ms). */
  minSessionTimeoutMs?: number;
  /** Largest session timeout the server grants (default 20 ticks: 4000 ms with the default tick). */
  maxSessionTimeoutMs?: number;
  /**
   * Standalone servers only: also serve TLS on {@link LocalZooKeeper.securePort}, with these PEM
   * files (`keyStorePem`: the server's key and certificate; `trustStorePem`: the CAs of accepted
   * client certificates). `clientAuth` defaults to `need`.
   */
  tls?: { keyStorePem: string; trustStorePem: string; clientAuth?: "need" | "want" | "none" };
}

const READY_DEADLINE_MS = 30_000;
const READY_POLL_INTERVAL_MS = 50;
const SRVR_TIMEOUT_MS = 1_000;
/** A graceful stop that takes longer than this is finished with SIGKILL. */
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 20;
/** A fresh server whose port was taken between picking and binding it gets a new port. */
const START_ATTEMPTS = 3;

/** Where a server lives and what `srvr` must say before it counts as serving. */
interface ServerLayout {
  install: ZooKeeperInstall;
  /** Temporary directory holding `zoo.cfg`, `data/` and `zookeeper.log`. */
  directory: string;
  port: number;
  securePort?: number;
  servingModes: readonly string[];
}

/** Lets {@link LocalEnsemble} build and launch members without making the constructor public. */
let memberFactory: {
  create(layout: ServerLayout): LocalZooKeeper;
  launch(server: LocalZooKeeper): Promise<void>;
};

/**
 * One real ZooKeeper server process on 127.0.0.1: standalone (from {@link LocalZooKeeper.start})
 * or a member of a {@link LocalEnsemble}. It can be stopped, killed and restarted on the same port
 * and data directory, and must be closed (or disposed) so the JVM and the temporary directory go.
 *
 * @example
 * ```ts
 * await using zookeeper = await LocalZooKeeper.start({ tickTimeMs: 200 });
 * await zookeeper.kill(); // the clients see the connection drop
 * await zookeeper.restart(); // same port, same data: sessions may survive
 * ```
 */
export class LocalZooKeeper {
  /** The client port on 127.0.0.1. */
  readonly port: number;
  /** The connection string clients use: `127.0.0.1:PORT`. */
  readonly connectionString: string;
  /** The TLS client port, when started with `tls`. */
  readonly securePort?: number;
  /** ZooKeeper's data directory (snapshots, transaction logs, `myid`); kept across restarts. */
  readonly dataDir: string;
  /** The server's stdout and stderr, appended across restarts. */
  readonly logFile: string;

  readonly #layout: ServerLayout;
  #jvm?: ZooKeeperJvm;
  #closing?: Promise<void>;

  static {
    memberFactory = {
      create: (layout) => new LocalZooKeeper(layout),
      launch: (server) => server.#launch(),
    };
  }

  private constructor(layout: ServerLayout) {
    this.#layout = layout;
    this.port = layout.port;
    this.connectionString = `127.0.0.1:${layout.port}`;
    this.securePort = layout.securePort;
    this.dataDir = `${layout.directory}/data`;
    this.logFile = `${layout.directory}/zookeeper.log`;
  }

  /**
   * Starts a standalone server on a free port in a new temporary directory (prefix `zkcm-zk-`) and
   * resolves once it serves (`srvr` answers `Mode: standalone`).
   *
   * @throws {ZooKeeperNotInstalledError} when Java or ZooKeeper is missing
   * @throws {Error} with the end of the server's log when it exits or does not serve within 30 s
   */
  static async start(options?: LocalZooKeeperOptions): Promise<LocalZooKeeper> {
    const timing = resolveTiming(options ?? {});
    const install = findZooKeeperInstall();
    for (let attempt = 1;; attempt++) {
      const [port, securePort] = reserveFreePorts(options?.tls ? 2 : 1);
      const directory = await Deno.makeTempDir({ prefix: "zkcm-zk-" });
      const server = new LocalZooKeeper({
        install,
        directory,
        port,
        securePort,
        servingModes: ["standalone"],
      });
      const tls = options?.tls && {
        securePort,
        keyStorePem: options.tls.keyStorePem,
        trustStorePem: options.tls.trustStorePem,
        clientAuth: options.tls.clientAuth ?? "need",
      };
      try {
        await Deno.mkdir(server.dataDir);
        await Deno.writeTextFile(
          `${directory}/zoo.cfg`,
          renderZooCfg({ ...timing, dataDir: server.dataDir, clientPort: port, tls }),
        );
        await server.#launch();
        return server;
      } catch (error) {
        const portTaken = (await server.#logTail()).includes("Address already in use");
        await server.close();
        if (!portTaken || attempt === START_ATTEMPTS) throw error;
      }
    }
  }

  /** The server's (the JVM's) process id while it runs: for measurements of its own CPU. */
  get pid(): number | undefined {
    return this.running ? this.#jvm?.child.pid : undefined;
  }

  /** Whether the server process is alive (it may still be electing or starting up). */
  get running(): boolean {
    return this.#jvm !== undefined && this.#jvm.status === undefined;
  }

  /**
   * The server's `Mode` as `srvr` reports it (`standalone`, `leader`, `follower`), or `undefined`
   * when it does not serve: not running, not answering, or an ensemble member without quorum.
   */
  async mode(): Promise<string | undefined> {
    try {
      const answer = await this.fourLetterWord("srvr");
      return /^Mode: (\S+)/m.exec(answer)?.[1];
    } catch {
      return undefined;
    }
  }

  /**
   * Sends a four-letter word (`ruok`, `srvr`, `mntr`, `cons`, `wchs`, ...) and returns the answer.
   *
   * @throws {Error} when the server refuses the connection or does not answer within `timeoutMs`
   */
  fourLetterWord(command: string, timeoutMs = SRVR_TIMEOUT_MS): Promise<string> {
    return sendFourLetterWord(this.port, command, timeoutMs);
  }

  /** Stops the server gracefully (SIGTERM; SIGKILL after 10 s) and waits until it has exited. */
  async stop(): Promise<void> {
    await this.#terminate("SIGTERM");
  }

  /** Kills the server at once (SIGKILL), like a crash, and waits until it has exited. */
  async kill(): Promise<void> {
    await this.#terminate("SIGKILL");
  }

  /**
   * Starts the server again on the same port and data directory (stopping it first if it still
   * runs) and resolves once it serves again.
   */
  async restart(): Promise<void> {
    if (this.#closing) throw new Error(`ZooKeeper ${this.connectionString} is closed`);
    await this.stop();
    await this.#launch();
  }

  /** Kills the server if it runs and removes its temporary directory. Safe to call again. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.kill();
      await Deno.remove(this.#layout.directory, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    })();
    return this.#closing;
  }

  /** Same as {@link LocalZooKeeper.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #launch(): Promise<void> {
    const jvm = spawnZooKeeperJvm(this.#layout.install, this.#layout.directory, this.logFile);
    this.#jvm = jvm;
    try {
      await this.#waitUntilServing(jvm);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  async #waitUntilServing(jvm: ZooKeeperJvm): Promise<void> {
    const deadline = Date.now() + READY_DEADLINE_MS;
    for (;;) {
      const mode = await this.mode();
      if (mode !== undefined && this.#layout.servingModes.includes(mode)) return;
      if (jvm.status !== undefined) {
        throw new Error(
          `ZooKeeper ${this.connectionString} exited with code ${jvm.status.code} before ` +
            `serving; last lines of its log:\n${await this.#logTail()}`,
        );
      }
      if (Date.now() >= deadline) {
        const expected = this.#layout.servingModes.join(" or ");
        throw new Error(
          `ZooKeeper ${this.connectionString} was not serving as ${expected} after ` +
            `${READY_DEADLINE_MS} ms; last lines of its log:\n${await this.#logTail()}`,
        );
      }
      await pause(READY_POLL_INTERVAL_MS);
    }
  }

  async #terminate(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    if (this.#jvm !== undefined) await terminateJvm(this.#jvm, signal, STOP_GRACE_MS);
  }

  #logTail(): Promise<string> {
    return readLogTail(this.logFile, LOG_TAIL_LINES);
  }
}

/**
 * A real ZooKeeper ensemble on 127.0.0.1: `size` member processes with quorum and election ports,
 * each in its own temporary directory. Members can be stopped, killed and restarted one by one to
 * test leader loss and quorum loss.
 *
 * @example
 * ```ts
 * await using ensemble = await LocalEnsemble.start(3);
 * const leader = ensemble.members[await ensemble.leaderIndex()];
 * await leader.kill(); // the other two elect a new leader
 * await leader.restart(); // rejoins as a follower
 * ```
 */
export class LocalEnsemble {
  /** The members, in server id order (`members[i]` is `server.${i + 1}`). */
  readonly members: readonly LocalZooKeeper[];
  /** The connection string listing every member: `127.0.0.1:p1,127.0.0.1:p2,...`. */
  readonly connectionString: string;

  private constructor(members: LocalZooKeeper[]) {
    this.members = members;
    this.connectionString = members.map((member) => member.connectionString).join(",");
  }

  /**
   * Starts `size` members concurrently and resolves once every one of them serves as leader or
   * follower.
   *
   * @throws {ZooKeeperNotInstalledError} when Java or ZooKeeper is missing
   * @throws {Error} with the end of a member's log when it exits or does not serve within 30 s
   */
  static async start(size = 3, options?: LocalZooKeeperOptions): Promise<LocalEnsemble> {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`ensemble size must be a positive integer, got ${size}`);
    }
    const timing = resolveTiming(options ?? {});
    const install = findZooKeeperInstall();
    const ports = reserveFreePorts(3 * size);
    const peers = Array.from({ length: size }, (_, index) => ({
      clientPort: ports[3 * index],
      quorumPort: ports[3 * index + 1],
      electionPort: ports[3 * index + 2],
    }));
    const members: LocalZooKeeper[] = [];
    try {
      for (const [index, { clientPort }] of peers.entries()) {
        const directory = await Deno.makeTempDir({ prefix: "zkcm-zk-" });
        const member = memberFactory.create({
          install,
          directory,
          port: clientPort,
          servingModes: ["leader", "follower"],
        });
        members.push(member);
        await Deno.mkdir(member.dataDir);
        await Deno.writeTextFile(`${member.dataDir}/myid`, `${index + 1}\n`);
        await Deno.writeTextFile(
          `${directory}/zoo.cfg`,
          renderZooCfg({ ...timing, dataDir: member.dataDir, clientPort, ensemble: peers }),
        );
      }
      const launches = await Promise.allSettled(members.map(memberFactory.launch));
      const failure = launches.find((launch) => launch.status === "rejected");
      if (failure) throw failure.reason;
      return new LocalEnsemble(members);
    } catch (error) {
      await Promise.all(members.map((member) => member.close()));
      throw error;
    }
  }

  /**
   * The index in {@link LocalEnsemble.members} of the current leader. Waits (polling `srvr`) while
   * there is none, e.g. during an election, up to `timeoutMs`.
   *
   * @throws {Error} when no member reports `Mode: leader` within `timeoutMs`
   */
  async leaderIndex(timeoutMs = READY_DEADLINE_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const modes = await Promise.all(this.members.map((member) => member.mode()));
      const index = modes.indexOf("leader");
      if (index !== -1) return index;
      if (Date.now() >= deadline) {
        throw new Error(
          `no leader in ensemble ${this.connectionString} after ${timeoutMs} ms ` +
            `(modes: ${modes.map((mode) => mode ?? "not serving").join(", ")})`,
        );
      }
      await pause(READY_POLL_INTERVAL_MS);
    }
  }

  /** Kills every member and removes their temporary directories. Safe to call again. */
  async close(): Promise<void> {
    await Promise.all(this.members.map((member) => member.close()));
  }

  /** Same as {@link LocalEnsemble.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
