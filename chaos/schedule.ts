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
 * Faults of the monitors themselves are in `monitor_faults.ts`, the driver's writes of znodes in
 * `znode_writes.ts`; this module draws the steps and runs the faults of the clients, the ensemble
 * and the proxy.
 *
 * @module
 */
import { ZkNoNodeError } from "../src/zookeeper/mod.ts";
import type { StandInAsabruMode } from "../testing/stand_in_asabru.ts";
import { between, pickIndex, pickWeighted, type Prng } from "./prng.ts";
import type { History } from "./history.ts";
import {
  BLACKHOLE_MAX_MS,
  BLACKHOLE_MIN_MS,
  type ChaosWorld,
  type ClientSlot,
  KNOWN_END_POINTS,
  ROOT,
} from "./world.ts";
import { MONITOR_FLEET_KINDS, MonitorFaults } from "./monitor_faults.ts";
import { ZnodeWrites } from "./znode_writes.ts";
import { SLOW_START_ATTEMPTS, startPatiently } from "./slow_start.ts";
import type { ExitStatus } from "./stop_program.ts";
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

const PROXY_FAULTS: readonly StandInAsabruMode[] = [
  "refuse",
  "error500",
  "slow",
  "apply-then-hang",
  "reject-all",
];

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
/** How long an overloaded proxy stays slow after its restart. */
const SLOW_AFTER_RESTART_MS = 1000;
/** How long a restart of the proxy "while busy" waits for an add to arrive. */
const MID_REQUEST_WAIT_MS = 8000;

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
  #proxyFaulted = false;
  #restartPending = false;
  /** Calls off a restart still waiting for an add (the heal). */
  #cancelRestartWait?: () => void;
  readonly #writes: ZnodeWrites;
  readonly #wholeState: boolean;

  constructor(world: ChaosWorld, history: History, options: { wholeState?: boolean } = {}) {
    this.#world = world;
    this.#history = history;
    this.#monitorFaults = new MonitorFaults(world, history, {
      own: (kind, keys, promise) => this.#own(kind, keys, promise),
      later: (ms, what, run) => this.#later(ms, what, run),
    });
    this.#writes = new ZnodeWrites(
      world.driver,
      history,
      (kind, keys, promise) => this.#own(kind, keys, promise),
    );
    this.#wholeState = options.wholeState ?? false;
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
    this.#cancelRestartWait?.();
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
    this.#proxyFaulted = false;
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
    const skip = (why: string) => {
      this.#history.record("skip", kind, why);
      return false;
    };
    const world = this.#world;
    const slots = world.slots;
    const idle = (predicate: (slot: ClientSlot) => boolean) =>
      slots.filter((slot) => !slot.busy && predicate(slot));
    // No client to stop: start one instead, so the fleet keeps moving.
    const stopsClient = kind === "client.sigterm" || kind === "client.kill9" ||
      kind === "client.restart";
    if (stopsClient && idle((slot) => slot.running).length === 0) kind = "client.start";
    switch (kind) {
      case "client.start": {
        const candidates = idle((slot) => !slot.running);
        if (candidates.length === 0) return skip("every client runs");
        const slot = candidates[pickIndex(target, candidates.length)];
        this.#onSlot(slot, kind, `client ${slot.index}`, async () => {
          const registered = await slot.start();
          if (!registered) {
            this.#note(kind, `client ${slot.index} not registered within 15 s`, slot);
          }
        });
        return true;
      }
      case "client.sigterm":
      case "client.kill9": {
        const candidates = idle((slot) => slot.running);
        if (candidates.length === 0) return skip("no client runs");
        const slot = candidates[pickIndex(target, candidates.length)];
        const signal = kind === "client.sigterm" ? "SIGTERM" : "SIGKILL";
        this.#onSlot(slot, kind, `client ${slot.index} pid ${slot.program?.pid}`, async () => {
          const status = await slot.stop(signal);
          this.#checkExit(slot, signal, status);
        });
        return true;
      }
      case "client.restart": {
        const candidates = idle((slot) => slot.running);
        if (candidates.length === 0) return skip("no client runs");
        const slot = candidates[pickIndex(target, candidates.length)];
        const signal = parameter < 0.5 ? "SIGKILL" : "SIGTERM";
        this.#onSlot(
          slot,
          kind,
          `client ${slot.index} by ${signal}, then start again`,
          async () => {
            this.#checkExit(slot, signal, await slot.stop(signal));
            const registered = await slot.start();
            if (!registered) {
              this.#note(
                kind,
                `client ${slot.index} not registered within 15 s`,
                slot,
              );
            }
          },
        );
        return true;
      }
      case "zk.kill":
      case "zk.kill-monitor-member": {
        if (!world.memberStates.every((state) => state === "up")) {
          return skip("a member is already down");
        }
        let index: number | undefined = pickIndex(target, world.members.length);
        if (kind === "zk.kill-monitor-member") {
          // A monitor's member (drawn by the same number the plain kill draws its member by).
          const monitor = this.#monitorFaults.pick(target);
          index = monitor?.connectedMember();
          if (index === undefined) return skip("the monitor holds no connection");
        }
        const downMs = between(parameter, 1000, 4000);
        this.#killMembers(kind, [index], downMs);
        return true;
      }
      case "zk.quorum-loss": {
        if (!world.memberStates.every((state) => state === "up")) {
          return skip("a member is already down");
        }
        const spared = pickIndex(target, world.members.length);
        const killed = world.members.map((_, index) => index).filter((i) => i !== spared);
        this.#killMembers(kind, killed, between(parameter, 2000, 4000));
        return true;
      }
      case "net.blackhole-monitor":
      case "monitor.kill9-leader":
      case "monitor.sigterm":
      case "net.blackhole-leader":
      case "net.blackhole-standby": {
        const skipped = this.#monitorFaults.step(kind, target, parameter);
        return skipped === undefined ? true : skip(skipped);
      }
      case "net.blackhole-client": {
        const candidates = slots.filter((slot) => slot.running && !slot.blackholed);
        if (candidates.length === 0) return skip("no running client to blackhole");
        const slot = candidates[pickIndex(target, candidates.length)];
        const ms = between(parameter, BLACKHOLE_MIN_MS, BLACKHOLE_MAX_MS);
        slot.blackholed = true;
        for (const proxy of slot.proxies) proxy.setMode("blackhole");
        this.#history.record(
          "fault",
          kind,
          `client ${slot.index} for ${Math.round(ms)} ms`,
          slot.keys,
        );
        this.#later(ms, "net.heal-client", () => {
          for (const proxy of slot.proxies) proxy.setMode("pass");
          for (const proxy of slot.proxies) proxy.dropAll();
          slot.blackholed = false;
          this.#history.record("heal", "net.heal-client", `client ${slot.index}`, slot.keys);
          return Promise.resolve();
        });
        return true;
      }
      case "proxy.fault": {
        const mode = PROXY_FAULTS[pickIndex(target, PROXY_FAULTS.length)];
        const slowMs = 100 + Math.floor(((parameter * 7) % 1) * 400);
        if (this.#proxyFaulted) {
          // Already faulty: the fault changes its nature until the pending heal.
          this.#history.record(
            "fault",
            kind,
            `now ${mode}${mode === "slow" ? ` (${slowMs} ms)` : ""}`,
          );
          this.#own(kind, [], world.standIn.setMode(mode, { slowMs }));
          return true;
        }
        const ms = between(parameter, 500, 3000);
        this.#proxyFaulted = true;
        const details = `${mode}${mode === "slow" ? ` (${slowMs} ms a request)` : ""} for ` +
          `${Math.round(ms)} ms`;
        this.#history.record("fault", kind, details);
        this.#own(kind, [], world.standIn.setMode(mode, { slowMs }));
        this.#later(ms, "proxy.heal", async () => {
          await world.standIn.setMode("ok");
          this.#proxyFaulted = false;
        });
        return true;
      }
      case "proxy.restart-empty": {
        // Half the time the proxy restarts while it is busy: right after it applied an add or,
        // whole state, a push (whose answer may still be on its way, in mode slow or held back
        // by apply-then-hang), as proxies restart under load.
        // Half of those, an overloaded proxy: slow to answer first, then restarted.
        const midRequest = parameter < 0.5;
        if (midRequest && this.#restartPending) return skip("a restart is already waiting");
        const slowFirst = parameter < 0.25 && !this.#proxyFaulted;
        if (slowFirst) {
          this.#proxyFaulted = true;
          this.#history.record("fault", "proxy.fault", "slow (300 ms a request) until its restart");
          this.#own(kind, [], world.standIn.setMode("slow", { slowMs: 300 }));
        }
        this.#own(kind, [], this.#restartEmpty(midRequest, slowFirst));
        return true;
      }
      case "proxy.expire-tokens":
        world.standIn.expireTokens();
        this.#history.record("fault", kind, "every token issued so far is expired");
        return true;
      case "zk.delete-end-point": {
        const endPoint = KNOWN_END_POINTS[pickIndex(target, KNOWN_END_POINTS.length)];
        const path = `${ROOT}/${endPoint}`;
        const keys = slots.flatMap((slot) => slot.services)
          .filter((service) => service.key.startsWith(`${endPoint}/`)).map((s) => s.key);
        this.#history.record("op", kind, `${path} with everything below it`, keys);
        this.#own(kind, keys, this.#world.driver.deleteRecursive(path));
        return true;
      }
      case "zk.set-client-data": {
        const services = slots.filter((slot) => slot.running).flatMap((slot) => slot.services);
        if (services.length === 0) return skip("no client runs");
        this.#writes.setClientData(services[pickIndex(target, services.length)]);
        return true;
      }
      case "zk.static":
        this.#writes.staticStep(target, parameter);
        return true;
      case "zk.hostile":
        this.#writes.hostileStep(target, parameter);
        return true;
    }
  }

  // ---- faults of the proxy ----

  /** The proxy restarts empty (now, or right after the next add it applies); then resync. */
  async #restartEmpty(midRequest: boolean, slowFirst: boolean): Promise<void> {
    const world = this.#world;
    const kind = "proxy.restart-empty";
    if (midRequest) {
      this.#restartPending = true;
      const stops: (() => void)[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const applied = await new Promise<string | undefined | "healed">((resolve) => {
        this.#cancelRestartWait = () => resolve("healed");
        stops.push(world.standIn.onRequest((request) => {
          // An add: the change whose loss the proxy's list shows.
          if (request.applied && request.op === "add") {
            resolve(`${request.op} ${request.endPoint}/${request.service}`);
          }
        }));
        if (this.#wholeState) {
          // Whole state sends no adds: the push it applied is the change lost.
          stops.push(world.standIn.onPush((record) => resolve(`push ${record.detail}`)));
        }
        timer = setTimeout(() => resolve(undefined), MID_REQUEST_WAIT_MS);
      });
      for (const stop of stops) stop();
      clearTimeout(timer);
      this.#cancelRestartWait = undefined;
      this.#restartPending = false;
      if (applied === "healed") {
        this.#history.record("heal", kind, "called off: everything heals now");
        return;
      }
      const keys = applied?.startsWith("add ") ? [applied.slice(applied.indexOf(" ") + 1)] : [];
      this.#history.record(
        "fault",
        kind,
        applied
          ? `right after applying ${applied} (mode ${world.standIn.mode}): the proxy forgot ` +
            "every service; POST /v1/resync"
          : "the proxy forgot every service; POST /v1/resync",
        keys,
      );
      world.standIn.restartEmpty();
    } else {
      world.standIn.restartEmpty();
      this.#history.record("fault", kind, "the proxy forgot every service; POST /v1/resync");
    }
    if (slowFirst) {
      this.#later(SLOW_AFTER_RESTART_MS, "proxy.heal", async () => {
        await world.standIn.setMode("ok");
        this.#proxyFaulted = false;
      });
    }
    await this.#monitorFaults.resyncAll(kind);
  }

  // ---- faults of the ensemble ----

  #killMembers(kind: string, indexes: number[], downMs: number): void {
    const world = this.#world;
    const names = indexes.map((i) => `member ${i + 1} (${world.members[i].connectionString})`);
    for (const index of indexes) world.memberStates[index] = "down";
    this.#history.record("fault", kind, `${names.join(", ")} kill -9 for ${Math.round(downMs)} ms`);
    this.#own(kind, [], Promise.all(indexes.map((i) => world.members[i].kill())).then(() => {}));
    this.#later(downMs, "zk.restart", async () => {
      for (const index of indexes) world.memberStates[index] = "restarting";
      await Promise.all(indexes.map((index) => world.members[index].restart()));
      for (const index of indexes) world.memberStates[index] = "up";
      this.#history.record("heal", "zk.restarted", names.join(", "));
    });
  }

  // ---- bookkeeping ----

  #onSlot(slot: ClientSlot, kind: string, details: string, action: () => Promise<void>): void {
    slot.busy = true;
    this.#history.record("op", kind, details, slot.keys);
    this.#own(kind, slot.keys, action().finally(() => slot.busy = false));
  }

  #checkExit(
    slot: ClientSlot,
    signal: "SIGTERM" | "SIGKILL",
    status: ExitStatus | undefined,
  ): void {
    if (!status) return;
    if (signal === "SIGTERM" && (status.killed || status.code !== 0)) {
      this.#note(
        "client.sigterm",
        `client ${slot.index} did not stop cleanly on SIGTERM: code ${status.code}, ` +
          `signal ${status.signal}${status.killed ? ", killed after 10 s" : ""}`,
        slot,
      );
    }
  }

  #note(kind: string, details: string, slot?: ClientSlot): void {
    this.#history.record("note", `${kind}.problem`, details, slot?.keys ?? []);
  }

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
