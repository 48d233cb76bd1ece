/**
 * The chaos run's faults of the ZooKeeper ensemble: one member killed (any, or the one a monitor
 * is connected to) or all but one (a quorum loss), each restarted after a drawn time. Only one
 * such fault at a time: a member already down makes the next one a skip.
 *
 * @module
 */
import { between, pickIndex } from "./prng.ts";
import type { History } from "./history.ts";
import type { ChaosWorld } from "./world.ts";
import type { FaultContext } from "./monitor_faults.ts";

/** The kinds {@link EnsembleFaults.step} runs. */
export type EnsembleFaultKind = "zk.kill" | "zk.kill-monitor-member" | "zk.quorum-loss";

/** Runs the faults of the ensemble; see the module. */
export class EnsembleFaults {
  readonly #world: ChaosWorld;
  readonly #history: History;
  readonly #context: FaultContext;
  /** The member a running monitor (drawn by `target`) is connected to, if any. */
  readonly #monitorMember: (target: number) => number | undefined;

  constructor(
    world: ChaosWorld,
    history: History,
    context: FaultContext & { monitorMember: (target: number) => number | undefined },
  ) {
    this.#world = world;
    this.#history = history;
    this.#context = context;
    this.#monitorMember = context.monitorMember;
  }

  /** Runs one ensemble fault; returns why it had no target, or `undefined` when it ran. */
  step(kind: EnsembleFaultKind, target: number, parameter: number): string | undefined {
    const world = this.#world;
    if (!world.memberStates.every((state) => state === "up")) return "a member is already down";
    if (kind === "zk.quorum-loss") {
      const spared = pickIndex(target, world.members.length);
      const killed = world.members.map((_, index) => index).filter((i) => i !== spared);
      this.#killMembers(kind, killed, between(parameter, 2000, 4000));
      return undefined;
    }
    let index: number | undefined = pickIndex(target, world.members.length);
    if (kind === "zk.kill-monitor-member") {
      // A monitor's member (drawn by the same number the plain kill draws its member by).
      index = this.#monitorMember(target);
      if (index === undefined) return "the monitor holds no connection";
    }
    const downMs = between(parameter, 1000, 4000);
    this.#killMembers(kind, [index], downMs);
    return undefined;
  }

  #killMembers(kind: string, indexes: number[], downMs: number): void {
    const world = this.#world;
    const names = indexes.map((i) => `member ${i + 1} (${world.members[i].connectionString})`);
    for (const index of indexes) world.memberStates[index] = "down";
    this.#history.record("fault", kind, `${names.join(", ")} kill -9 for ${Math.round(downMs)} ms`);
    this.#context.own(
      kind,
      [],
      Promise.all(indexes.map((i) => world.members[i].kill())).then(() => {}),
    );
    this.#context.later(downMs, "zk.restart", async () => {
      for (const index of indexes) world.memberStates[index] = "restarting";
      await Promise.all(indexes.map((index) => world.members[index].restart()));
      for (const index of indexes) world.memberStates[index] = "up";
      this.#history.record("heal", "zk.restarted", names.join(", "));
    });
  }
}
