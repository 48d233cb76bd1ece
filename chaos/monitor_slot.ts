/**
 * One monitor's place in the chaos run: three fault proxies of its own toward the ensemble members
 * (so its ZooKeeper connections alone can be blackholed) and, when running, a monitor process.
 * A slot whose process was killed or stopped is started again as a FRESH process: each process
 * has its own `MONITOR_ID` and `ASABRU_API_TOKEN` (`m0-1`, `m0-2`, ... for slot 0), so the
 * stand-in proxy records which process sent each request, and its own status port. In
 * whole-state mode each process logs in as a user of its own, named the same, instead: the
 * stand-in records the subject of the token each push carried.
 *
 * @module
 */
import type { FaultProxy } from "../testing/fault_proxy.ts";
import { Program } from "../testing/program.ts";
import { reserveFreePorts } from "../src/dev/_loopback.ts";
import { type ExitStatus, stopProgram } from "./stop_program.ts";
import type { History } from "./history.ts";
import { type LeadershipTerm, leadershipTerms } from "./fencing.ts";

/** What a monitor process gets in its environment besides its id, token and status port. */
export interface MonitorEnv {
  ZK_ROOT_NODE: string;
  ASABRU_API_URL: string;
  ZK_SESSION_TIMEOUT: string;
  ASABRU_TIMEOUT: string;
  RETRY_MAX: string;
  /** Whole-state mode (`whole_state.ts`): the template (a login replaces the token). */
  ASABRU_CONFIG_TEMPLATE?: string;
}

/**
 * Makes a user for a new process (`m0-2`) on the proxy and returns its login; without one, each
 * process gets a static token named after it.
 */
export type MonitorLogin = (sender: string) => { username: string; password: string };

const START_TIMEOUT_MS = 30_000;
/** The operator's secret the monitors get: `POST /v1/resync` needs it. */
const CHAOS_STATUS_TOKEN = "chaos-operator";

/** One monitor process a slot ran. */
export interface MonitorProcess {
  /** `m<slot>-<n>`: its MONITOR_ID and its bearer token. */
  readonly sender: string;
  readonly program: Program;
  readonly statusPort: number;
  /** `performance.now()` when it exited (as the harness saw it), once it has. */
  exitedAt?: number;
}

/** A monitor slot. See the module documentation. */
export class MonitorSlot {
  readonly index: number;
  readonly proxies: readonly FaultProxy[];
  /** Every process this slot ran, oldest first. */
  readonly processes: MonitorProcess[] = [];
  /** The process the harness has not stopped (it may have crashed: see the history). */
  current?: MonitorProcess;
  /** An action on this slot is under way (stopping, starting, blackholed): others leave it. */
  busy = false;
  blackholed = false;
  readonly #env: MonitorEnv;
  readonly #login: MonitorLogin | undefined;
  readonly #history: History;
  /** Processes the harness stopped on purpose: their exits are expected. */
  readonly #stopping = new WeakSet<Program>();

  constructor(
    index: number,
    proxies: FaultProxy[],
    env: MonitorEnv,
    history: History,
    login?: MonitorLogin,
  ) {
    this.index = index;
    this.proxies = proxies;
    this.#env = env;
    this.#login = login;
    this.#history = history;
  }

  /** `m<index>`. */
  get name(): string {
    return `m${this.index}`;
  }

  /** Whether a process runs (one the harness has not stopped). */
  get running(): boolean {
    return this.current !== undefined;
  }

  /**
   * Whether the running process leads, by its own log: its last leadership line says
   * `leading`, not `no longer leading`. Lags the truth by the time a line takes to arrive.
   */
  get leading(): boolean {
    const program = this.current?.program;
    if (!program) return false;
    for (let i = program.lines.length - 1; i >= 0; i--) {
      const line = program.lines[i];
      if (line.includes("no longer leading")) return false;
      if (line.includes('"leading, epoch')) return true;
    }
    return false;
  }

  /** Starts a fresh process; resolves once its mirror has synced (throws after 30 s). */
  async start(): Promise<MonitorProcess> {
    const sender = `${this.name}-${this.processes.length + 1}`;
    const statusPort = freePort();
    const login = this.#login?.(sender);
    const program = await Program.start("monitor.ts", {
      task: "monitor",
      env: {
        ...this.#env,
        ZK_HOST: this.proxies.map((proxy) => proxy.address).join(","),
        // Either way the proxy learns which process sent each request.
        ...(login
          ? { ASABRU_USERNAME: login.username, ASABRU_PASSWORD: login.password }
          : { ASABRU_API_TOKEN: sender }),
        MONITOR_ID: sender,
        STATUS_PORT: String(statusPort),
        STATUS_HOST: "127.0.0.1",
        STATUS_TOKEN: CHAOS_STATUS_TOKEN,
        LOG_LEVEL: "info",
      },
    });
    const process: MonitorProcess = { sender, program, statusPort };
    this.processes.push(process);
    this.current = process;
    void program.status.then((status) => {
      process.exitedAt = performance.now();
      if (this.#stopping.has(program)) return;
      if (this.current === process) this.current = undefined;
      this.#history.record(
        "note",
        "monitor.exited",
        `UNEXPECTED: monitor ${sender} pid ${program.pid} exit code ${status.code} signal ` +
          `${status.signal}; last lines: ${program.lines.slice(-3).join(" | ")}`,
      );
    });
    await program.waitForLine(/mirror of .* synced/, START_TIMEOUT_MS);
    return process;
  }

  /**
   * Stops the running process with `signal`; resolves with its exit status. A SIGTERM that does
   * not end it within 10 s is followed by SIGKILL (`killed: true`).
   */
  async stop(
    signal: "SIGTERM" | "SIGKILL",
  ): Promise<ExitStatus | undefined> {
    const process = this.current;
    if (!process) return undefined;
    const { program } = process;
    this.#stopping.add(program);
    this.current = undefined;
    return await stopProgram(program, signal);
  }

  /** The member the running process's connection goes to (a fault proxy holding one). */
  connectedMember(): number | undefined {
    const index = this.proxies.findIndex((proxy) => proxy.connectionCount > 0);
    return index === -1 ? undefined : index;
  }

  /** `POST /v1/resync` to the running process; resolves with the HTTP status. */
  async resync(): Promise<number> {
    const port = this.#port();
    const answer = await fetch(`http://127.0.0.1:${port}/v1/resync`, {
      method: "POST",
      headers: { Authorization: `Bearer ${CHAOS_STATUS_TOKEN}` },
      signal: AbortSignal.timeout(3000),
    });
    await answer.body?.cancel();
    return answer.status;
  }

  /** The running process's Prometheus metrics as `name{labels}` → value. */
  async metrics(): Promise<Map<string, number>> {
    const port = this.#port();
    const answer = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(3000),
    });
    const text = await answer.text();
    const values = new Map<string, number>();
    for (const line of text.split("\n")) {
      const match = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.eE+-]+|NaN)$/.exec(line);
      if (match) values.set(match[1], Number(match[2]));
    }
    return values;
  }

  /**
   * The leadership terms of every process this slot ran, from their logs; a term still open
   * when its process exited ends at the exit. Call once every process has exited.
   */
  terms(): LeadershipTerm[] {
    return this.processes.flatMap((process) =>
      leadershipTerms(
        process.sender,
        process.program.lines,
        process.exitedAt === undefined ? Infinity : wallClock(process.exitedAt),
      )
    );
  }

  /** The stderr lines of every process this slot ran, each under a header line. */
  logs(): string[] {
    return this.processes.flatMap(({ sender, program }) => [
      `=== monitor ${sender} pid ${program.pid}`,
      ...program.lines,
    ]);
  }

  /** Kills whatever still runs and waits for every process this slot started. */
  async close(): Promise<void> {
    for (const { program } of this.processes) {
      this.#stopping.add(program);
      await program[Symbol.asyncDispose]();
    }
    this.current = undefined;
  }

  #port(): number {
    const process = this.current;
    if (!process) throw new Error(`monitor ${this.name} runs no process`);
    return process.statusPort;
  }
}

/** A `performance.now()` reading of this process as wall-clock milliseconds (the logs' clock). */
export function wallClock(performanceNow: number): number {
  return performance.timeOrigin + performanceNow;
}

/** Below the kernel's ephemeral range: see {@link reserveFreePorts}. */
function freePort(): number {
  return reserveFreePorts(1)[0];
}
