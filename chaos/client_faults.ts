/**
 * The chaos run's faults of the clients: start one, stop one (SIGTERM or kill -9), restart one,
 * cut one off the network (its fault proxies blackhole) for a drawn time. A client busy with a
 * long action (starting, stopping) is no target until it is done, so actions never overlap on
 * one client. A client that does not register within 15 s, or does not stop cleanly on SIGTERM,
 * is a note in the history.
 *
 * @module
 */
import { between, pickIndex } from "./prng.ts";
import type { History } from "./history.ts";
import { BLACKHOLE_MAX_MS, BLACKHOLE_MIN_MS, type ChaosWorld, type ClientSlot } from "./world.ts";
import type { FaultContext } from "./monitor_faults.ts";
import type { ExitStatus } from "./stop_program.ts";

/** The kinds {@link ClientFaults.step} runs. */
export type ClientFaultKind =
  | "client.start"
  | "client.sigterm"
  | "client.kill9"
  | "client.restart"
  | "net.blackhole-client";

/** Runs the faults of the clients; see the module. */
export class ClientFaults {
  readonly #world: ChaosWorld;
  readonly #history: History;
  readonly #context: FaultContext;

  constructor(world: ChaosWorld, history: History, context: FaultContext) {
    this.#world = world;
    this.#history = history;
    this.#context = context;
  }

  /** Whether no client that runs is idle (a stop then starts one instead). */
  noneToStop(): boolean {
    return this.#idle((slot) => slot.running).length === 0;
  }

  /** Runs one client fault; returns why it had no target, or `undefined` when it ran. */
  step(kind: ClientFaultKind, target: number, parameter: number): string | undefined {
    switch (kind) {
      case "client.start": {
        const candidates = this.#idle((slot) => !slot.running);
        if (candidates.length === 0) return "every client runs";
        const slot = candidates[pickIndex(target, candidates.length)];
        this.#onSlot(slot, kind, `client ${slot.index}`, async () => {
          const registered = await slot.start();
          if (!registered) {
            this.#note(kind, `client ${slot.index} not registered within 15 s`, slot);
          }
        });
        return undefined;
      }
      case "client.sigterm":
      case "client.kill9": {
        const candidates = this.#idle((slot) => slot.running);
        if (candidates.length === 0) return "no client runs";
        const slot = candidates[pickIndex(target, candidates.length)];
        const signal = kind === "client.sigterm" ? "SIGTERM" : "SIGKILL";
        this.#onSlot(slot, kind, `client ${slot.index} pid ${slot.program?.pid}`, async () => {
          const status = await slot.stop(signal);
          this.#checkExit(slot, signal, status);
        });
        return undefined;
      }
      case "client.restart": {
        const candidates = this.#idle((slot) => slot.running);
        if (candidates.length === 0) return "no client runs";
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
        return undefined;
      }
      case "net.blackhole-client": {
        const candidates = this.#world.slots.filter((slot) => slot.running && !slot.blackholed);
        if (candidates.length === 0) return "no running client to blackhole";
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
        this.#context.later(ms, "net.heal-client", () => {
          for (const proxy of slot.proxies) proxy.setMode("pass");
          for (const proxy of slot.proxies) proxy.dropAll();
          slot.blackholed = false;
          this.#history.record("heal", "net.heal-client", `client ${slot.index}`, slot.keys);
          return Promise.resolve();
        });
        return undefined;
      }
    }
  }

  #idle(predicate: (slot: ClientSlot) => boolean): ClientSlot[] {
    return this.#world.slots.filter((slot) => !slot.busy && predicate(slot));
  }

  #onSlot(slot: ClientSlot, kind: string, details: string, action: () => Promise<void>): void {
    slot.busy = true;
    this.#history.record("op", kind, details, slot.keys);
    this.#context.own(kind, slot.keys, action().finally(() => slot.busy = false));
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
}
