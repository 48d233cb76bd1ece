/**
 * The seeded schedule: every step draws the same four numbers from the PRNG (kind, target,
 * parameter, pause), whatever it then decides, so a seed replays the same decisions (what the
 * system does in between depends on timing, so a replay is close, not identical). A kind with no
 * target at that moment is recorded as skipped, except that stopping a client when none runs
 * starts one instead, a proxy fault during another changes the fault's mode, and a fault aimed
 * at the leader waits (bounded) for an idle leader (`monitor_faults.ts`). Faults heal
 * themselves after a drawn duration; {@link Schedule.healAll} ends every fault at once when the
 * schedule is over.
 *
 * Long actions (a member restarting, a client starting) run as tasks the schedule owns and awaits;
 * the target is busy meanwhile, so actions never overlap on one target.
 *
 * The faults themselves are in `client_faults.ts`, `ensemble_faults.ts`, `monitor_faults.ts` and
 * `proxy_faults.ts`, the driver's writes of znodes in `znode_writes.ts`; this module draws the
 * steps, hands each to its kind's module, and owns the tasks and heals they leave.
 *
 * @module
 */
import { ZkNoNodeError } from "../src/zookeeper/mod.ts";
import { between, pickIndex, pickWeighted, type Prng } from "./prng.ts";
import type { History } from "./history.ts";
import { type ChaosWorld, KNOWN_END_POINTS, ROOT } from "./world.ts";
import { MONITOR_FLEET_KINDS, MonitorFaults } from "./monitor_faults.ts";
import { ZnodeWrites } from "./znode_writes.ts";
import { SLOW_START_ATTEMPTS, startPatiently } from "./slow_start.ts";
import { ClientFaults } from "./client_faults.ts";
import { EnsembleFaults } from "./ensemble_faults.ts";
import { ProxyFaults } from "./proxy_faults.ts";
import { bounded, ChaosHangError } from "./bounded.ts";

/**
 * What a step may do, and how often relative to the others, with one monitor. With more, the
 * kinds of {@link MONITOR_FLEET_KINDS} follow (so a seed of a one-monitor run draws as before).
 */
export const STEP_KINDS = [
  { value: "client.start", weight: 8 },
  { value: "client.sigterm", weight: 5 },
  { value: "client.kill9", weight: 5 },
  { value: "client.restart", weight: 4 },
  { value: "zk.kill", weight: 3 },
  { value: "zk.kill-monitor-member", weight: 3 },
  { value: "zk.quorum-loss", weight: 1 },
  { value: "net.blackhole-monitor", weight: 2 },
  { value: "net.blackhole-client", weight: 3 },
  { value: "proxy.fault", weight: 6 },
  { value: "proxy.restart-empty", weight: 3 },
  { value: "zk.set-client-data", weight: 4 },
  { value: "zk.static", weight: 8 },
  { value: "zk.hostile", weight: 4 },
  { value: "zk.delete-end-point", weight: 1 },
] as const;

/**
 * Whole-state delivery's extra kinds (`--whole-state`): they follow all others, so a seed draws
 * as before in the other modes. The proxy's login tokens expire: every push gets 401 until the
 * monitor logs in again.
 */
export const WHOLE_STATE_KINDS = [
  { value: "proxy.expire-tokens", weight: 4 },
] as const;

type StepKind =
  | (typeof STEP_KINDS)[number]["value"]
  | (typeof MONITOR_FLEET_KINDS)[number]["value"]
  | (typeof WHOLE_STATE_KINDS)[number]["value"];

/** Pause between steps. */
const STEP_MIN_MS = 250;
const STEP_MAX_MS = 1250;
/** The bound of waiting for every task at the end. */
const TASKS_BOUND_MS = 45_000;
/** The bound of the stand-in's return to mode `ok` (a restart takes 50 ms). */
const PROXY_HEAL_BOUND_MS = 10_000;
/**
 * The bound of restarting members still down at the end: a member starts in about 1 s, but on a
 * loaded machine a start can miss its 30 s and is tried again (`slow_start.ts`); each attempt
 * may take 10 s to stop what is left and 30 s to serve.
 */
const MEMBERS_HEAL_BOUND_MS = SLOW_START_ATTEMPTS * 40_000;

interface PendingHeal {
  at: number;
  what: string;
  run: () => Promise<void>;
}

/** The schedule of one run. */
export class Schedule {
  readonly #world: ChaosWorld;
  readonly #history: History;
  readonly #monitorFaults: MonitorFaults;
  readonly #kinds: readonly { value: StepKind; weight: number }[];
  /** Every task the schedule owns and has not seen end, with its kind. */
  readonly #tasks = new Map<Promise<void>, string>();
  #heals: PendingHeal[] = [];
  readonly #clientFaults: ClientFaults;
  readonly #ensembleFaults: EnsembleFaults;
  readonly #proxyFaults: ProxyFaults;
  readonly #writes: ZnodeWrites;

  constructor(world: ChaosWorld, history: History, options: { wholeState?: boolean } = {}) {
    this.#world = world;
    this.#history = history;
    this.#monitorFaults = new MonitorFaults(world, history, {
      own: (kind, keys, promise) => this.#own(kind, keys, promise),
      later: (ms, what, run) => this.#later(ms, what, run),
    });
    const context = {
      own: (kind: string, keys: readonly string[], promise: Promise<unknown>) =>
        this.#own(kind, keys, promise),
      later: (ms: number, what: string, run: () => Promise<void>) => this.#later(ms, what, run),
    };
    this.#clientFaults = new ClientFaults(world, history, context);
    this.#ensembleFaults = new EnsembleFaults(world, history, {
      ...context,
      monitorMember: (target) => this.#monitorFaults.pick(target)?.connectedMember(),
    });
    this.#proxyFaults = new ProxyFaults(world, history, {
      ...context,
      resyncAll: (kind) => this.#monitorFaults.resyncAll(kind),
      wholeState: options.wholeState ?? false,
    });
    this.#writes = new ZnodeWrites(
      world.driver,
      history,
      (kind, keys, promise) => this.#own(kind, keys, promise),
    );
    this.#kinds = [
      ...STEP_KINDS,
      ...(world.monitors.length > 1 ? MONITOR_FLEET_KINDS : []),
      ...(options.wholeState ? WHOLE_STATE_KINDS : []),
    ];
  }

  /** Runs steps for `durationMs`; resolves with how many steps ran and how many were skipped. */
  async run(durationMs: number, random: Prng): Promise<{ steps: number; skipped: number }> {
    const started = performance.now();
    const end = started + durationMs;
    let nextStep = started;
    let steps = 0;
    let skipped = 0;
    const maxIterations = Math.ceil(durationMs / 10) + 100;
    for (let iteration = 0; iteration < maxIterations; iteration++) {
      const now = performance.now();
      if (now >= end) break;
      this.#runDueHeals(now);
      if (now >= nextStep) {
        const draws = random.draw(4);
        if (!this.#step(draws)) skipped++;
        steps++;
        nextStep = now + between(draws[3], STEP_MIN_MS, STEP_MAX_MS);
      }
      const nextHeal = Math.min(...this.#heals.map((heal) => heal.at));
      await sleep(Math.max(10, Math.min(nextStep, nextHeal, end) - performance.now()));
    }
    return { steps, skipped };
  }

  /**
   * Ends every fault now: every member up, every fault proxy passing, the proxy in mode `ok`;
   * then waits for every task of the schedule. Every wait is bounded: resolves with the waits
   * that did not end within their bound (a hang, named; empty when the heal went through), having
   * gone on with the rest of the heal regardless.
   */
  async healAll(): Promise<ChaosHangError[]> {
    const hangs: ChaosHangError[] = [];
    const within = async (promise: Promise<unknown>, boundMs: number, step: string) => {
      try {
        await bounded(promise, boundMs, step);
      } catch (error) {
        if (!(error instanceof ChaosHangError)) throw error;
        hangs.push(error);
      }
    };
    this.#proxyFaults.callOff();
    this.#monitorFaults.callOff();
    const heals = this.#heals;
    this.#heals = [];
    for (const heal of heals) this.#own(heal.what, [], this.#runHeal(heal));
    const world = this.#world;
    this.#monitorFaults.healNetwork();
    for (const proxy of world.slots.flatMap((s) => s.proxies)) {
      if (proxy.mode !== "pass") {
        proxy.setMode("pass");
        proxy.dropAll();
      }
    }
    for (const slot of world.slots) slot.blackholed = false;
    if (world.standIn.mode !== "ok") {
      await within(
        world.standIn.setMode("ok"),
        PROXY_HEAL_BOUND_MS,
        "the heal: the stand-in proxy's return to mode ok",
      );
    }
    this.#proxyFaults.healed();
    const hangsBefore = hangs.length;
    await within(Promise.all(this.#tasks.keys()), TASKS_BOUND_MS, "the heal: the schedule's tasks");
    if (hangs.length > hangsBefore) {
      const running = [...this.#tasks.values()].join(", ");
      hangs[hangsBefore] = new ChaosHangError(
        `the heal: the schedule's tasks (still running: ${running})`,
        TASKS_BOUND_MS,
      );
    }
    const down = world.members.filter((member) => !member.running);
    if (down.length > 0) {
      this.#history.record("heal", "zk.restart", `members still down at the end: ${down.length}`);
      await within(
        Promise.all(
          down.map((member) =>
            startPatiently(() => member.restart(), (attempt, error) =>
              this.#history.record(
                "note",
                "zk.restart.retry",
                `${member.connectionString}, attempt ${attempt} of ${SLOW_START_ATTEMPTS}: ` +
                  errorText(error).split("\n")[0],
              ))
          ),
        ),
        MEMBERS_HEAL_BOUND_MS,
        `the heal: restarting ${down.length} ZooKeeper members still down`,
      );
      for (const [index, member] of world.members.entries()) {
        if (member.running) world.memberStates[index] = "up";
      }
    }
    for (const hang of hangs) this.#history.record("note", "harness.hang", hang.message);
    this.#history.record("heal", "heal.all", "every member up, network passing, proxy ok");
    return hangs;
  }

  // ---- the step ----

  /** Runs one step; false when its kind had no target. */
  #step([kindDraw, target, parameter]: number[]): boolean {
    let kind: StepKind = pickWeighted(kindDraw, this.#kinds);
    // No client to stop: start one instead, so the fleet keeps moving.
    const stopsClient = kind === "client.sigterm" || kind === "client.kill9" ||
      kind === "client.restart";
    if (stopsClient && this.#clientFaults.noneToStop()) kind = "client.start";
    const skipped = this.#run(kind, target, parameter);
    if (skipped === undefined) return true;
    this.#history.record("skip", kind, skipped);
    return false;
  }

  /** Runs a step of `kind`; returns why it had no target, or `undefined` when it ran. */
  #run(kind: StepKind, target: number, parameter: number): string | undefined {
    const slots = this.#world.slots;
    switch (kind) {
      case "client.start":
      case "client.sigterm":
      case "client.kill9":
      case "client.restart":
      case "net.blackhole-client":
        return this.#clientFaults.step(kind, target, parameter);
      case "zk.kill":
      case "zk.kill-monitor-member":
      case "zk.quorum-loss":
        return this.#ensembleFaults.step(kind, target, parameter);
      case "net.blackhole-monitor":
      case "monitor.kill9-leader":
      case "monitor.sigterm":
      case "net.blackhole-leader":
      case "net.blackhole-standby":
        return this.#monitorFaults.step(kind, target, parameter);
      case "proxy.fault":
      case "proxy.restart-empty":
      case "proxy.expire-tokens":
        return this.#proxyFaults.step(kind, target, parameter);
      case "zk.delete-end-point": {
        const endPoint = KNOWN_END_POINTS[pickIndex(target, KNOWN_END_POINTS.length)];
        const path = `${ROOT}/${endPoint}`;
        const keys = slots.flatMap((slot) => slot.services)
          .filter((service) => service.key.startsWith(`${endPoint}/`)).map((s) => s.key);
        this.#history.record("op", kind, `${path} with everything below it`, keys);
        this.#own(kind, keys, this.#world.driver.deleteRecursive(path));
        return undefined;
      }
      case "zk.set-client-data": {
        const services = slots.filter((slot) => slot.running).flatMap((slot) => slot.services);
        if (services.length === 0) return "no client runs";
        this.#writes.setClientData(services[pickIndex(target, services.length)]);
        return undefined;
      }
      case "zk.static":
        this.#writes.staticStep(target, parameter);
        return undefined;
      case "zk.hostile":
        this.#writes.hostileStep(target, parameter);
        return undefined;
    }
  }

  // ---- bookkeeping ----

  /** Owns a task: awaited at the end; its failure is recorded, never thrown. */
  #own(kind: string, keys: readonly string[], promise: Promise<unknown>): void {
    const task = promise.then(
      () => {},
      (error) => {
        const expected = error instanceof ZkNoNodeError ? " (no such node)" : "";
        this.#history.record("note", `${kind}.failed`, `${errorText(error)}${expected}`, keys);
      },
    );
    this.#tasks.set(task, kind);
    task.finally(() => this.#tasks.delete(task));
  }

  #later(ms: number, what: string, run: () => Promise<void>): void {
    this.#heals.push({ at: performance.now() + ms, what, run });
  }

  #runDueHeals(now: number): void {
    const due = this.#heals.filter((heal) => heal.at <= now);
    if (due.length === 0) return;
    this.#heals = this.#heals.filter((heal) => heal.at > now);
    for (const heal of due) this.#own(heal.what, [], this.#runHeal(heal));
  }

  async #runHeal(heal: PendingHeal): Promise<void> {
    if (!["zk.restart", "net.heal-client", "monitor.restart"].includes(heal.what)) {
      this.#history.record("heal", heal.what, "");
    }
    await heal.run();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
