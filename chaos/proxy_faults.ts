/**
 * The chaos run's faults of the proxy (the stand-in): a faulty mode for a drawn time (refusing,
 * answering 500, slow, applying then hanging, rejecting everything; a fault during another
 * changes its mode), a restart that forgets every service (now, or right after the next add it
 * applies, sometimes after being slow: as proxies restart under load) followed by a resync, and,
 * with whole-state delivery, every login token expired at once.
 *
 * @module
 */
import { between, pickIndex } from "./prng.ts";
import type { History } from "./history.ts";
import type { ChaosWorld } from "./world.ts";
import type { FaultContext } from "./monitor_faults.ts";
import type { StandInAsabruMode } from "../testing/stand_in_asabru.ts";

/** The kinds {@link ProxyFaults.step} runs. */
export type ProxyFaultKind = "proxy.fault" | "proxy.restart-empty" | "proxy.expire-tokens";

const PROXY_FAULTS: readonly StandInAsabruMode[] = [
  "refuse",
  "error500",
  "slow",
  "apply-then-hang",
  "reject-all",
];

/** How long an overloaded proxy stays slow after its restart. */
const SLOW_AFTER_RESTART_MS = 1000;
/** How long a restart of the proxy "while busy" waits for an applied add or push. */
const MID_REQUEST_WAIT_MS = 8000;

/** Runs the faults of the proxy; see the module. */
export class ProxyFaults {
  readonly #world: ChaosWorld;
  readonly #history: History;
  readonly #context: FaultContext;
  /** Every monitor resyncs (`POST /v1/resync`) after the proxy forgot everything. */
  readonly #resyncAll: (kind: string) => Promise<void>;
  /** Whole-state delivery: a restart "while busy" waits for an applied push, not an add. */
  readonly #wholeState: boolean;
  #faulted = false;
  #restartPending = false;
  /** Calls off a restart still waiting for an add (the heal). */
  #cancelRestartWait?: () => void;

  constructor(
    world: ChaosWorld,
    history: History,
    context: FaultContext & { resyncAll: (kind: string) => Promise<void>; wholeState: boolean },
  ) {
    this.#world = world;
    this.#history = history;
    this.#context = context;
    this.#resyncAll = context.resyncAll;
    this.#wholeState = context.wholeState;
  }

  /** Everything heals now: a restart still waiting for an add is called off. */
  callOff(): void {
    this.#cancelRestartWait?.();
  }

  /** The proxy was set back to mode `ok` by the final heal. */
  healed(): void {
    this.#faulted = false;
  }

  /** Runs one proxy fault; returns why it had no target, or `undefined` when it ran. */
  step(kind: ProxyFaultKind, target: number, parameter: number): string | undefined {
    const world = this.#world;
    switch (kind) {
      case "proxy.fault": {
        const mode = PROXY_FAULTS[pickIndex(target, PROXY_FAULTS.length)];
        const slowMs = 100 + Math.floor(((parameter * 7) % 1) * 400);
        if (this.#faulted) {
          // Already faulty: the fault changes its nature until the pending heal.
          this.#history.record(
            "fault",
            kind,
            `now ${mode}${mode === "slow" ? ` (${slowMs} ms)` : ""}`,
          );
          this.#context.own(kind, [], world.standIn.setMode(mode, { slowMs }));
          return undefined;
        }
        const ms = between(parameter, 500, 3000);
        this.#faulted = true;
        const details = `${mode}${mode === "slow" ? ` (${slowMs} ms a request)` : ""} for ` +
          `${Math.round(ms)} ms`;
        this.#history.record("fault", kind, details);
        this.#context.own(kind, [], world.standIn.setMode(mode, { slowMs }));
        this.#context.later(ms, "proxy.heal", async () => {
          await world.standIn.setMode("ok");
          this.#faulted = false;
        });
        return undefined;
      }
      case "proxy.restart-empty": {
        // Half the time the proxy restarts while it is busy: right after it applied an add or,
        // whole state, a push (whose answer may still be on its way, in mode slow or held back
        // by apply-then-hang), as proxies restart under load.
        // Half of those, an overloaded proxy: slow to answer first, then restarted.
        const midRequest = parameter < 0.5;
        if (midRequest && this.#restartPending) return "a restart is already waiting";
        const slowFirst = parameter < 0.25 && !this.#faulted;
        if (slowFirst) {
          this.#faulted = true;
          this.#history.record("fault", "proxy.fault", "slow (300 ms a request) until its restart");
          this.#context.own(kind, [], world.standIn.setMode("slow", { slowMs: 300 }));
        }
        this.#context.own(kind, [], this.#restartEmpty(midRequest, slowFirst));
        return undefined;
      }
      case "proxy.expire-tokens":
        world.standIn.expireTokens();
        this.#history.record("fault", kind, "every token issued so far is expired");
        return undefined;
    }
  }

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
      this.#context.later(SLOW_AFTER_RESTART_MS, "proxy.heal", async () => {
        await world.standIn.setMode("ok");
        this.#faulted = false;
      });
    }
    await this.#resyncAll(kind);
  }
}
