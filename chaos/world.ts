/**
 * Everything a chaos run puts together, on loopback only: a 3-member ZooKeeper ensemble, the
 * stand-in Asabru proxy, one to three monitors (see `monitor_slot.ts`) and several clients as real
 * child processes (each reaching every member through fault proxies of its own, so its connection
 * alone can be blackholed), and the driver's own ZooKeeper session for direct writes and for the
 * checker's reads.
 *
 * @module
 */
import { LocalEnsemble, type LocalZooKeeper } from "../src/dev/local_zookeeper.ts";
import { ZkSession } from "../src/zookeeper/mod.ts";
import { StandInAsabru, type StandInBehaviour } from "../testing/stand_in_asabru.ts";
import { FaultProxy } from "../testing/fault_proxy.ts";
import { Program } from "../testing/program.ts";
import { type ExitStatus, stopProgram } from "./stop_program.ts";
import type { History } from "./history.ts";
import { type MonitorLogin, MonitorSlot } from "./monitor_slot.ts";
import { chaosConfigXml } from "./whole_state.ts";
import { bounded } from "./bounded.ts";
import { SLOW_START_ATTEMPTS, startPatiently } from "./slow_start.ts";

/** The root every program works under. */
export const ROOT = "/cluster1";
/** End points the stand-in's configuration knows (XML metacharacters in one of them). */
export const KNOWN_END_POINTS = ["ep0", "ep1", "ep2", `ep<&>"'`] as const;
/** An end point the stand-in does not know: it refuses every service under it. */
export const UNKNOWN_END_POINT = "ep-unknown";

/** The session timeout of the monitor and the clients (ZK_SESSION_TIMEOUT). */
export const SESSION_TIMEOUT_MS = 2000;
/** The monitor's ASABRU_TIMEOUT. */
export const PROXY_TIMEOUT_MS = 300;
/** The monitor's RETRY_MAX: its longest back-off. */
export const RETRY_MAX_MS = 500;
/** A blackhole long enough for the server to expire the session (2 s), not much longer. */
export const BLACKHOLE_MIN_MS = SESSION_TIMEOUT_MS + 1500;
export const BLACKHOLE_MAX_MS = SESSION_TIMEOUT_MS + 3000;

const START_TIMEOUT_MS = 30_000;
/** How long one part (a slot's processes, the ensemble, a server) may take to close. */
const PART_CLOSE_BOUND_MS = 30_000;
const REGISTERED_TIMEOUT_MS = 15_000;

/** Where a member is. At most one is down at a time, except during a short quorum loss. */
export type MemberState = "up" | "down" | "restarting";

/** A service a client slot registers. */
export interface SlotService {
  path: string;
  /** `endPoint/service` */
  key: string;
  /** The service's name (the znode's). */
  name: string;
  data: string;
}

/** One client's place: fixed services and fault proxies, a process when running. */
export class ClientSlot {
  readonly index: number;
  readonly services: readonly SlotService[];
  readonly proxies: readonly FaultProxy[];
  program?: Program;
  /** An action on this slot is under way: other actions leave it alone. */
  busy = false;
  blackholed = false;
  /** Processes the harness stopped on purpose: their exits are expected. */
  readonly #stopping = new WeakSet<Program>();
  readonly #history: History;
  /** Every process this slot ran, to await at the end. */
  readonly #all: Program[] = [];

  constructor(index: number, proxies: FaultProxy[], history: History) {
    this.index = index;
    this.proxies = proxies;
    this.#history = history;
    const endPoint = KNOWN_END_POINTS[index % 3];
    this.services = [0, 1].map((k) => {
      const service = `c${index}-s${k}`;
      return {
        path: `${ROOT}/${endPoint}/${service}`,
        key: `${endPoint}/${service}`,
        name: service,
        data: `127.0.0.1:${21000 + index * 10 + k}`,
      };
    });
  }

  /** The slot's service keys. */
  get keys(): string[] {
    return this.services.map((service) => service.key);
  }

  /** Whether a process runs (or at least has not been stopped by the harness). */
  get running(): boolean {
    return this.program !== undefined;
  }

  /** Starts a client process; resolves once it has registered (or 15 s have passed). */
  async start(): Promise<boolean> {
    const program = await Program.start("client.ts", {
      task: "client",
      env: {
        ZK_HOST: this.proxies.map((proxy) => proxy.address).join(","),
        REGISTER: this.services.map((service) => `${service.path}=${service.data}`).join(","),
        ZK_SESSION_TIMEOUT: `${SESSION_TIMEOUT_MS}ms`,
        LOG_LEVEL: "info",
      },
    });
    this.program = program;
    this.#all.push(program);
    void program.status.then((status) => {
      if (this.#stopping.has(program)) return;
      if (this.program === program) this.program = undefined;
      this.#history.record(
        "note",
        "client.exited",
        `UNEXPECTED: client ${this.index} pid ${program.pid} exit code ${status.code} signal ` +
          `${status.signal}; last lines: ${program.lines.slice(-3).join(" | ")}`,
        this.keys,
      );
    });
    const registered = this.services.map((service) =>
      program.waitForLine(
        new RegExp(`${escapeRegExp(service.name)}.*(registered|took over)`),
        REGISTERED_TIMEOUT_MS,
      )
    );
    const results = await Promise.allSettled(registered);
    return results.every((result) => result.status === "fulfilled");
  }

  /**
   * Stops the process with `signal`; resolves with its exit status. A SIGTERM that does not end
   * it within 10 s is followed by SIGKILL (`killed: true`).
   */
  async stop(
    signal: "SIGTERM" | "SIGKILL",
  ): Promise<ExitStatus | undefined> {
    const program = this.program;
    if (!program) return undefined;
    this.#stopping.add(program);
    this.program = undefined;
    return await stopProgram(program, signal);
  }

  /** The stderr lines of every process this slot ran, each process under a header line. */
  logs(): string[] {
    return this.#all.flatMap((
      program,
    ) => [`=== client ${this.index} pid ${program.pid}`, ...program.lines]);
  }

  /** Kills whatever still runs and waits for every process this slot started. */
  async close(): Promise<void> {
    for (const program of this.#all) {
      this.#stopping.add(program);
      await program[Symbol.asyncDispose]();
    }
    this.program = undefined;
  }
}

/** The assembled system. Close it (or `await using` it) to stop and remove everything. */
export class ChaosWorld implements AsyncDisposable {
  readonly ensemble: LocalEnsemble;
  readonly members: readonly LocalZooKeeper[];
  readonly memberStates: MemberState[];
  readonly driver: ZkSession;
  readonly standIn: StandInAsabru;
  readonly monitors: readonly MonitorSlot[];
  readonly slots: readonly ClientSlot[];
  readonly #cleanup: AsyncDisposableStack;

  private constructor(parts: {
    ensemble: LocalEnsemble;
    driver: ZkSession;
    standIn: StandInAsabru;
    monitors: MonitorSlot[];
    slots: ClientSlot[];
    cleanup: AsyncDisposableStack;
  }) {
    this.ensemble = parts.ensemble;
    this.members = parts.ensemble.members;
    this.memberStates = this.members.map(() => "up");
    this.driver = parts.driver;
    this.standIn = parts.standIn;
    this.monitors = parts.monitors;
    this.slots = parts.slots;
    this.#cleanup = parts.cleanup;
  }

  /** Starts everything and waits until every monitor has synced and every client registered. */
  static async start(
    options: { clients: number; monitors: number; proxy?: StandInBehaviour; wholeState?: boolean },
    history: History,
  ): Promise<ChaosWorld> {
    await using cleanup = new AsyncDisposableStack();
    // Each part's close is bounded: one that hangs must not keep the others (ZooKeeper's JVMs,
    // child processes) running after the run.
    const closeLater = (what: string, close: () => Promise<unknown>) =>
      cleanup.defer(() => bounded(close(), PART_CLOSE_BOUND_MS, `closing ${what}`).then(() => {}));
    const ensemble = await startPatiently(
      () => LocalEnsemble.start(3),
      (attempt, error) =>
        history.record(
          "note",
          "zk.start.retry",
          `the ensemble, attempt ${attempt} of ${SLOW_START_ATTEMPTS}: ` +
            (error instanceof Error ? error.message : String(error)).split("\n")[0],
        ),
    );
    closeLater("the ZooKeeper ensemble", () => ensemble.close());
    history.record("note", "world.ensemble", ensemble.connectionString);

    const driver = ZkSession.open({
      connectionString: ensemble.connectionString,
      sessionTimeoutMs: 4000,
      requestTimeoutMs: 3000,
    });
    closeLater("the driver's session", () => driver.close());
    await driver.waitUntilConnected({ timeoutMs: START_TIMEOUT_MS });
    for (const endPoint of [...KNOWN_END_POINTS, UNKNOWN_END_POINT]) {
      await driver.ensurePath(`${ROOT}/${endPoint}`);
    }

    // Whole state: the proxy runs the template the monitors push, and wants a login (so tokens
    // can expire); the monitors get the template's path and, each process, a user of its own
    // (so the fencing check knows who pushed) instead of a token.
    const config = options.wholeState ? chaosConfigXml() : undefined;
    const standIn = await StandInAsabru.start({
      behaviour: options.proxy ?? "documented",
      endPoints: [...KNOWN_END_POINTS],
      slowMs: 200,
      ...(config ? { config, users: {} } : {}),
    });
    closeLater("the stand-in proxy", () => standIn.close());
    let wholeStateEnv = {};
    if (config) {
      const directory = await Deno.makeTempDir({ prefix: "zkcm-chaos-whole-state-" });
      closeLater("the template's directory", () => Deno.remove(directory, { recursive: true }));
      const template = `${directory}/asabru-config.xml`;
      await Deno.writeTextFile(template, config);
      wholeStateEnv = { ASABRU_CONFIG_TEMPLATE: template };
    }
    const login: MonitorLogin | undefined = config
      ? (sender) => {
        const password = `${sender}-secret`;
        standIn.addUser(sender, password);
        return { username: sender, password };
      }
      : undefined;

    const proxiesFor = async () => {
      const proxies: FaultProxy[] = [];
      for (const member of ensemble.members) {
        const proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: member.port });
        closeLater("a fault proxy", () => proxy.close().catch(() => {}));
        proxies.push(proxy);
      }
      return proxies;
    };

    const monitors: MonitorSlot[] = [];
    for (let index = 0; index < options.monitors; index++) {
      const slot = new MonitorSlot(
        index,
        await proxiesFor(),
        {
          ZK_ROOT_NODE: ROOT,
          ASABRU_API_URL: standIn.url,
          ZK_SESSION_TIMEOUT: `${SESSION_TIMEOUT_MS}ms`,
          ASABRU_TIMEOUT: `${PROXY_TIMEOUT_MS}ms`,
          RETRY_MAX: `${RETRY_MAX_MS}ms`,
          ...wholeStateEnv,
        },
        history,
        login,
      );
      closeLater(`monitor slot ${index}`, () => slot.close());
      monitors.push(slot);
    }
    // The first one leads; the others start together once it does, and stand by.
    await monitors[0].start();
    await waitForLeader(monitors[0]);
    await Promise.all(monitors.slice(1).map((slot) => slot.start()));
    for (const slot of monitors) {
      const process = slot.current!;
      history.record(
        "note",
        "world.monitor",
        `${process.sender} pid ${process.program.pid}, status port ${process.statusPort}`,
      );
    }

    const slots: ClientSlot[] = [];
    for (let index = 0; index < options.clients; index++) {
      const slot = new ClientSlot(index, await proxiesFor(), history);
      closeLater(`client slot ${index}`, () => slot.close());
      slots.push(slot);
    }
    const started = await Promise.all(slots.map((slot) => slot.start()));
    history.record(
      "note",
      "world.clients",
      `${slots.length} clients started, ${started.filter(Boolean).length} registered`,
    );

    return new ChaosWorld({
      ensemble,
      driver,
      standIn,
      monitors,
      slots,
      cleanup: cleanup.move(),
    });
  }

  /**
   * Stops every process and server this world started, in reverse order; a part that does not
   * close within its bound is left behind and the others are closed all the same.
   *
   * @throws {ChaosHangError} (or a `SuppressedError` holding several) naming what did not close
   */
  close(): Promise<void> {
    return this.#cleanup.disposeAsync();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Waits (bounded) until the slot's process logs that it leads. */
async function waitForLeader(slot: MonitorSlot): Promise<void> {
  await slot.current!.program.waitForLine(/"leading, epoch/, START_TIMEOUT_MS);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
