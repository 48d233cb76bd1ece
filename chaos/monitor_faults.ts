/**
 * Faults of the monitors themselves: their processes killed or stopped (and started again, fresh,
 * after a drawn delay), their ZooKeeper connections blackholed (the leader's long enough for its
 * session to expire, so a standby takes over). The schedule (`schedule.ts`) draws the step and
 * hands monitor faults to {@link MonitorFaults}.
 *
 * Rules that keep the fleet meaningful:
 * - At least one monitor process runs at all times: a kill or stop needs another running one.
 * - A blackhole of a monitor overlaps with no other monitor fault (no kill, stop, restart or
 *   other blackhole under way), so a blackholed leader's standby is there to take over.
 * - One action per monitor at a time (its slot is busy meanwhile).
 * - A fault aimed at the leader that finds none idle (a takeover still under way, another
 *   monitor fault, a slow start on a loaded machine) waits for one, bounded, instead of being
 *   skipped: whether a drawn leader fault runs must not depend on how fast the machine is. One
 *   such wait at a time; the heal calls it off.
 *
 * @module
 */
import { between, pickIndex } from "./prng.ts";
import type { History } from "./history.ts";
import type { MonitorSlot } from "./monitor_slot.ts";
import { BLACKHOLE_MAX_MS, BLACKHOLE_MIN_MS, type ChaosWorld } from "./world.ts";

/** The monitor faults a run with two or more monitors adds to the schedule's kinds. */
export const MONITOR_FLEET_KINDS = [
  { value: "monitor.kill9-leader", weight: 2 },
  { value: "monitor.sigterm", weight: 2 },
  { value: "net.blackhole-leader", weight: 2 },
  { value: "net.blackhole-standby", weight: 1 },
] as const;

/** A kind {@link MonitorFaults.step} runs. */
export type MonitorFaultKind =
  | (typeof MONITOR_FLEET_KINDS)[number]["value"]
  | "net.blackhole-monitor";

/** How long a killed or stopped monitor stays down before a fresh process starts in its slot. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 5000;

/**
 * How long a fault aimed at the leader waits for an idle one: a blackholed leader's session
 * expiring (2 s), the standby's election and full resync, and a killed leader's fresh process
 * starting, with a margin for a loaded 2-core machine.
 */
export const LEADER_WAIT_MS = 12_000;
/** How often a waiting leader fault looks again (leadership is read from the monitors' logs). */
const LEADER_POLL_MS = 100;
const AIMED_AT_LEADER: ReadonlySet<MonitorFaultKind> = new Set([
  "monitor.kill9-leader",
  "net.blackhole-leader",
]);

/** What the schedule lends: its task ownership and its pending heals. */
export interface FaultContext {
  /** Owns a task: awaited at the end; its failure is recorded as `<kind>.failed`. */
  own(kind: string, keys: readonly string[], promise: Promise<unknown>): void;
  /** Runs `run` as a heal after `ms` (at once when everything heals). */
  later(ms: number, what: string, run: () => Promise<void>): void;
}

/** The monitor faults of one run. */
export class MonitorFaults {
  readonly #slots: readonly MonitorSlot[];
  readonly #history: History;
  readonly #context: FaultContext;
  /** Aborted by {@link callOff}: the faults still waiting for a leader give up. */
  readonly #heal = new AbortController();
  #leaderFaultWaiting = false;

  constructor(world: ChaosWorld, history: History, context: FaultContext) {
    this.#slots = world.monitors;
    this.#history = history;
    this.#context = context;
  }

  /** A running monitor, by `target` (for a fault that needs one, e.g. killing its member). */
  pick(target: number): MonitorSlot | undefined {
    const running = this.#slots.filter((slot) => slot.running);
    return running.length === 0 ? undefined : running[pickIndex(target, running.length)];
  }

  /**
   * Runs one monitor fault; returns why it had no target, or `undefined` when it ran or, aimed
   * at the leader, waits for one (its `fault` entry, or a `skip` when the wait ends without one,
   * is recorded then).
   */
  step(kind: MonitorFaultKind, target: number, parameter: number): string | undefined {
    const skipped = this.#runNow(kind, target, parameter);
    if (skipped === undefined || !AIMED_AT_LEADER.has(kind)) return skipped;
    if (this.#leaderFaultWaiting) return `${skipped}; another fault already waits for a leader`;
    this.#waitForLeader(kind, target, parameter, skipped);
    return undefined;
  }

  /** Calls off the faults still waiting for a leader (everything heals now). */
  callOff(): void {
    this.#heal.abort();
  }

  /** Runs one monitor fault if it has a target now; returns why not, or `undefined`. */
  #runNow(
    kind: MonitorFaultKind,
    target: number,
    parameter: number,
    waitedMs?: number,
  ): string | undefined {
    const idle = this.#slots.filter((slot) => slot.running && !slot.busy && !slot.blackholed);
    switch (kind) {
      case "net.blackhole-monitor":
      case "net.blackhole-leader":
      case "net.blackhole-standby": {
        if (this.#slots.some((slot) => slot.busy || slot.blackholed)) {
          return "another monitor fault is under way";
        }
        const candidates = kind === "net.blackhole-leader"
          ? idle.filter((slot) => slot.leading)
          : kind === "net.blackhole-standby"
          ? idle.filter((slot) => !slot.leading)
          : idle;
        if (candidates.length === 0) return `no ${kindTarget(kind)} to blackhole`;
        const slot = candidates[pickIndex(target, candidates.length)];
        this.#blackhole(
          kind,
          slot,
          between(parameter, BLACKHOLE_MIN_MS, BLACKHOLE_MAX_MS),
          waited(waitedMs),
        );
        return undefined;
      }
      case "monitor.kill9-leader":
      case "monitor.sigterm": {
        if (this.#slots.some((slot) => slot.blackholed)) return "a monitor is blackholed";
        const candidates = kind === "monitor.kill9-leader"
          ? idle.filter((slot) => slot.leading)
          : idle;
        if (candidates.length === 0) return `no ${kindTarget(kind)} to stop`;
        const slot = candidates[pickIndex(target, candidates.length)];
        const othersRunning = this.#slots.filter((other) => other !== slot && other.running);
        if (othersRunning.length === 0) return "it is the only monitor running";
        const signal = kind === "monitor.kill9-leader" ? "SIGKILL" : "SIGTERM";
        this.#stopAndRestart(
          kind,
          slot,
          signal,
          between(parameter, RESTART_MIN_MS, RESTART_MAX_MS),
          waited(waitedMs),
        );
        return undefined;
      }
    }
  }

  /**
   * `POST /v1/resync` to every running monitor, as an operator would after the proxy restarted:
   * the leader resyncs now; a standby has nothing to send, and resyncs anyway when it takes over.
   */
  async resyncAll(kind: string): Promise<void> {
    await Promise.all(
      this.#slots.filter((slot) => slot.running).map(async (slot) => {
        const sender = slot.current?.sender;
        try {
          const status = await slot.resync();
          if (status !== 202) this.#note(kind, `${sender}: POST /v1/resync answered ${status}`);
        } catch (error) {
          // A monitor being stopped or still starting: the takeover resync covers it.
          this.#note(kind, `${sender}: POST /v1/resync failed: ${error}`);
        }
      }),
    );
  }

  /** Ends every blackhole now (the pending heals of restarts run with the schedule's). */
  healNetwork(): void {
    for (const slot of this.#slots) {
      for (const proxy of slot.proxies) {
        if (proxy.mode !== "pass") {
          proxy.setMode("pass");
          proxy.dropAll();
        }
      }
      slot.blackholed = false;
    }
  }

  /**
   * Looks again every {@link LEADER_POLL_MS} until the fault finds its target, for at most
   * {@link LEADER_WAIT_MS}, unless the heal calls it off; records what became of it.
   */
  #waitForLeader(kind: MonitorFaultKind, target: number, parameter: number, why: string): void {
    this.#leaderFaultWaiting = true;
    this.#history.record(
      "note",
      "monitor.leader-wait",
      `${kind}: ${why}; waiting up to ${LEADER_WAIT_MS} ms for an idle leader`,
    );
    const signal = this.#heal.signal;
    const waiting = (async () => {
      const since = performance.now();
      let reason = why;
      while (performance.now() - since < LEADER_WAIT_MS) {
        // A short timer, not cut short by the heal: the heal awaits this task anyway.
        await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
        if (signal.aborted) {
          this.#history.record("skip", kind, `called off while waiting: everything heals`);
          return;
        }
        const skipped = this.#runNow(kind, target, parameter, performance.now() - since);
        if (skipped === undefined) return;
        reason = skipped;
      }
      this.#history.record("skip", kind, `${reason}, still after waiting ${LEADER_WAIT_MS} ms`);
    })().finally(() => this.#leaderFaultWaiting = false);
    this.#context.own(kind, [], waiting);
  }

  #blackhole(kind: MonitorFaultKind, slot: MonitorSlot, ms: number, after: string): void {
    slot.blackholed = true;
    for (const proxy of slot.proxies) proxy.setMode("blackhole");
    const role = slot.leading ? "the leader" : "a standby";
    this.#history.record(
      "fault",
      kind,
      `${slot.current?.sender} (${role}) cut off from ZooKeeper for ${Math.round(ms)} ms${after}`,
    );
    this.#context.later(ms, "net.heal-monitor", () => {
      for (const proxy of slot.proxies) proxy.setMode("pass");
      for (const proxy of slot.proxies) proxy.dropAll();
      slot.blackholed = false;
      return Promise.resolve();
    });
  }

  #stopAndRestart(
    kind: MonitorFaultKind,
    slot: MonitorSlot,
    signal: "SIGTERM" | "SIGKILL",
    downMs: number,
    after: string,
  ): void {
    slot.busy = true;
    const process = slot.current!;
    const role = slot.leading ? "the leader" : "a standby";
    this.#history.record(
      "fault",
      kind,
      `${process.sender} (${role}) pid ${process.program.pid} by ${signal}; a fresh process ` +
        `in ${Math.round(downMs)} ms${after}`,
    );
    const stopped = (async () => {
      const status = await slot.stop(signal);
      if (signal === "SIGTERM" && status && (status.killed || status.code !== 0)) {
        this.#history.record(
          "note",
          "monitor.unclean-exit",
          `${process.sender} did not stop cleanly on SIGTERM: code ${status.code}, signal ` +
            `${status.signal}${status.killed ? ", killed after 10 s" : ""}`,
        );
      }
    })();
    this.#context.own(kind, [], stopped);
    // Pending from now on, so that a heal of everything starts it too (once stopped).
    this.#context.later(downMs, "monitor.restart", async () => {
      try {
        await stopped.catch(() => {});
        const started = await slot.start();
        this.#history.record("heal", "monitor.restarted", `${started.sender} in ${slot.name}`);
      } finally {
        slot.busy = false;
      }
    });
  }

  #note(kind: string, details: string): void {
    this.#history.record("note", `${kind}.problem`, details);
  }
}

/** The history's words for a fault that had to wait for its target. */
function waited(waitedMs: number | undefined): string {
  return waitedMs === undefined ? "" : ` (after waiting ${Math.round(waitedMs)} ms for a leader)`;
}

function kindTarget(kind: MonitorFaultKind): string {
  return kind.endsWith("leader")
    ? "idle leader"
    : kind.endsWith("standby")
    ? "idle standby"
    : "idle monitor";
}
