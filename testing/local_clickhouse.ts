/**
 * Throwaway real ClickHouse servers (Debian's `clickhouse-server`, 18.16) on 127.0.0.1, for tests,
 * bench and chaos. Each server has its own config file, ports and temporary directory (data and
 * logs), removed with it; nothing system-wide is read or written.
 *
 * @example
 * ```ts
 * await using clickhouse = await LocalClickHouse.start();
 * await clickhouse.query("SELECT 1"); // "1\n"
 * await clickhouse.stop(); // its ports refuse connections
 * await clickhouse.restart(); // same ports, same data
 * ```
 *
 * @module
 */

import { pause, reserveFreePorts } from "../src/dev/_loopback.ts";
import {
  readLogTail,
  type ServerProcess,
  spawnServerProcess,
  stopServerProcess,
} from "../src/dev/_server_process.ts";
import { renderConfigXml, renderUsersXml } from "./_clickhouse_config.ts";

/** Thrown when the `clickhouse-server` executable cannot be found. */
export class ClickHouseNotInstalledError extends Error {
  /** Where it was looked for. */
  readonly searched: readonly string[];

  /** @param searched every path that was tried */
  constructor(searched: readonly string[]) {
    super(
      `Cannot start a local ClickHouse: no clickhouse-server in ${searched.join(", ")}. ` +
        "Install it with `apt-get install -y clickhouse-server` (Debian).",
    );
    this.name = "ClickHouseNotInstalledError";
    this.searched = searched;
  }
}

/** Thrown by {@link LocalClickHouse.query} when the server answers a query with an error. */
export class ClickHouseQueryError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The query that failed. */
  readonly sql: string;

  /**
   * @param sql the query
   * @param status the HTTP status
   * @param body ClickHouse's error text (`Code: 62, e.displayText() = ...`)
   */
  constructor(sql: string, status: number, body: string) {
    super(`ClickHouse answered HTTP ${status} to ${JSON.stringify(sql)}: ${body.trim()}`);
    this.name = "ClickHouseQueryError";
    this.status = status;
    this.sql = sql;
  }
}

/**
 * The `clickhouse-server` executable: on `PATH`, else in `/usr/sbin` (where Debian puts it, and
 * which is not on a normal user's `PATH`).
 *
 * @throws {ClickHouseNotInstalledError} when there is none
 */
export function findClickHouseServer(
  env: { get(name: string): string | undefined } = Deno.env,
): string {
  const directories = (env.get("PATH") ?? "").split(":").filter((directory) => directory !== "");
  const candidates = [...new Set([...directories, "/usr/sbin", "/usr/bin"])]
    .map((directory) => `${directory}/clickhouse-server`);
  const found = candidates.find(isExecutable);
  if (found === undefined) throw new ClickHouseNotInstalledError(candidates);
  return found;
}

/** What a local server is set up with. */
export interface LocalClickHouseOptions {
  /**
   * A ZooKeeper connection string (`127.0.0.1:2181,...`): lets the server hold
   * `ReplicatedMergeTree` tables, and opens an interserver port for replicas to fetch parts.
   */
  zookeeper?: string;
  /**
   * `<merge_tree>` settings. `{ min_absolute_delay_to_close: 1 }` makes `/replicas_status` report
   * a replica one second behind; 18.16 has no threshold by default.
   */
  mergeTree?: Readonly<Record<string, string | number>>;
}

const READY_DEADLINE_MS = 30_000;
const READY_POLL_INTERVAL_MS = 20;
const PING_TIMEOUT_MS = 1_000;
const QUERY_TIMEOUT_MS = 10_000;
/** A graceful stop that takes longer than this is finished with SIGKILL. */
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_LINES = 20;
/**
 * Asked on every request of the harness: ClickHouse 18.16 does not finish a graceful stop while a
 * kept-alive connection to it stays busy, so a pooled connection would make every stop take the
 * whole grace period.
 */
const CLOSE_AFTER_ANSWER = { connection: "close" };
/** A fresh server whose port was taken between picking and binding it gets new ports. */
const START_ATTEMPTS = 3;

/**
 * One real `clickhouse-server` process on 127.0.0.1. It can be stopped, killed and restarted on the
 * same ports and data, and must be closed (or disposed) so the process and its directory go.
 */
export class LocalClickHouse implements AsyncDisposable {
  /** The HTTP port. */
  readonly port: number;
  /** `127.0.0.1:PORT` of the HTTP interface. */
  readonly hostPort: string;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The temporary directory: `config.xml`, `users.xml`, `data/`, the logs. */
  readonly directory: string;

  readonly #executable: string;
  #process?: ServerProcess;
  #closing?: Promise<void>;

  private constructor(executable: string, directory: string, port: number) {
    this.#executable = executable;
    this.directory = directory;
    this.port = port;
    this.hostPort = `127.0.0.1:${port}`;
    this.url = `http://${this.hostPort}`;
  }

  /**
   * Starts a server on free ports in a new temporary directory (prefix `zkcm-ch-`) and resolves
   * once `GET /ping` answers `Ok.`.
   *
   * @throws {ClickHouseNotInstalledError} when `clickhouse-server` is missing
   * @throws {Error} with the end of the server's logs when it exits or does not answer within 30 s
   */
  static async start(options: LocalClickHouseOptions = {}): Promise<LocalClickHouse> {
    const executable = findClickHouseServer();
    for (let attempt = 1;; attempt++) {
      const [httpPort, tcpPort, interserverPort] = reserveFreePorts(3);
      const directory = await Deno.makeTempDir({ prefix: "zkcm-ch-" });
      const server = new LocalClickHouse(executable, directory, httpPort);
      try {
        await Deno.writeTextFile(`${directory}/users.xml`, renderUsersXml());
        await Deno.writeTextFile(
          `${directory}/config.xml`,
          renderConfigXml({
            directory,
            httpPort,
            tcpPort,
            replication: options.zookeeper === undefined
              ? undefined
              : { zookeeper: options.zookeeper, interserverPort },
            mergeTree: options.mergeTree,
          }),
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

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.running ? this.#process?.child.pid : undefined;
  }

  /** Whether the server process is alive (it may still be starting). */
  get running(): boolean {
    return this.#process !== undefined && this.#process.status === undefined;
  }

  /**
   * Runs one statement through the HTTP interface and returns ClickHouse's answer (`"1\n"` for
   * `SELECT 1`, `""` for DDL and inserts).
   *
   * @throws {ClickHouseQueryError} when ClickHouse answers with an error
   */
  async query(sql: string): Promise<string> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), QUERY_TIMEOUT_MS);
    try {
      const response = await fetch(this.url, {
        method: "POST",
        body: sql,
        headers: CLOSE_AFTER_ANSWER,
        signal: controller.signal,
      });
      const body = await response.text();
      if (response.status !== 200) throw new ClickHouseQueryError(sql, response.status, body);
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops the server gracefully (SIGTERM; SIGKILL after 10 s) and waits until it has exited.
   * Resolves with `"killed"` when it had to be killed: ClickHouse 18.16 does not finish a graceful
   * stop while a client keeps a kept-alive connection to it busy.
   */
  stop(): Promise<"stopped" | "killed"> {
    return this.#terminate("SIGTERM");
  }

  /** Kills the server at once (SIGKILL), like a crash, and waits until it has exited. */
  async kill(): Promise<void> {
    await this.#terminate("SIGKILL");
  }

  /**
   * Starts the server again on the same ports and data (stopping it first if it still runs) and
   * resolves once `/ping` answers `Ok.` again.
   */
  async restart(): Promise<void> {
    if (this.#closing) throw new Error(`ClickHouse ${this.hostPort} is closed`);
    await this.#terminate("SIGTERM");
    await this.#launch();
  }

  /** Kills the server if it runs and removes its directory. Safe to call again. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.kill();
      await Deno.remove(this.directory, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    })();
    return this.#closing;
  }

  /** Same as {@link LocalClickHouse.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #launch(): Promise<void> {
    // What it prints before its logger is set up (a config it cannot read, say) goes to this file.
    this.#process = spawnServerProcess(
      this.#executable,
      [`--config-file=${this.directory}/config.xml`],
      `${this.directory}/stderr.log`,
    );
    try {
      await this.#waitUntilReady(this.#process);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  async #waitUntilReady(server: ServerProcess): Promise<void> {
    const deadline = Date.now() + READY_DEADLINE_MS;
    for (;;) {
      if (await this.#pings()) return;
      if (server.status !== undefined) {
        throw new Error(
          `ClickHouse ${this.hostPort} exited with code ${server.status.code} before answering ` +
            `/ping; last lines of its logs:\n${await this.#logTail()}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `ClickHouse ${this.hostPort} did not answer /ping within ${READY_DEADLINE_MS} ms; ` +
            `last lines of its logs:\n${await this.#logTail()}`,
        );
      }
      await pause(READY_POLL_INTERVAL_MS);
    }
  }

  /** Whether `GET /ping` answers `Ok.` now; never throws. */
  async #pings(): Promise<boolean> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), PING_TIMEOUT_MS);
    try {
      const response = await fetch(`${this.url}/ping`, {
        headers: CLOSE_AFTER_ANSWER,
        signal: controller.signal,
      });
      return response.status === 200 && await response.text() === "Ok.\n";
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async #terminate(signal: "SIGTERM" | "SIGKILL"): Promise<"stopped" | "killed"> {
    if (this.#process === undefined) return "stopped";
    return await stopServerProcess(this.#process, signal, STOP_GRACE_MS);
  }

  /** The ends of the error log and of what was printed before logging began; never throws. */
  async #logTail(): Promise<string> {
    const tails = await Promise.all(
      ["stderr.log", "server.err.log"].map(async (name) =>
        `${name}:\n${await readLogTail(`${this.directory}/${name}`, LOG_TAIL_LINES)}`
      ),
    );
    return tails.join("\n");
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
