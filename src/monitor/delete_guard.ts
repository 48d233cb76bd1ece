/**
 * The mass-delete guard (off by default): between the mirror and the delivery queues, it holds
 * deletes that look like a registry problem rather than dead nodes.
 *
 * - When more than `share` of an end point's services (and at least two) vanish within
 *   `windowMs`, those deletes are held for `limboMs`. A service that comes back meanwhile with
 *   the same host:port causes nothing to be sent; one that does not is deleted after the limbo.
 * - With `minServices`, the last `minServices` services of an end point are never deleted (held
 *   until they return, or until {@link DeleteGuard.releaseAll}).
 *
 * Every hold and release is recorded in the journal and logged.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Wanted } from "../delivery/decide.ts";
import type { DecisionJournal } from "./journal.ts";

const log = getLogger(["zkcm", "guard"]);

/** Options of {@link DeleteGuard}. */
export interface DeleteGuardOptions {
  enabled: boolean;
  /** Share of an end point's services whose removal within the window is suspicious. */
  share: number;
  windowMs: number;
  limboMs: number;
  /** Never delete the last this many services of an end point (0: no such floor). */
  minServices: number;
  /** Forwards a service's wanted state (`undefined`: remove) to the delivery queues. */
  apply: (key: string, wanted: Wanted | undefined) => void;
  journal?: DecisionJournal;
  now?: () => number;
}

interface Held {
  wanted: Wanted;
  endPoint: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** Holds suspicious deletes; passes everything else straight through. */
export class DeleteGuard {
  readonly #options: DeleteGuardOptions;
  readonly #now: () => number;
  /** Services forwarded as present, per end point. */
  readonly #present = new Map<string, Map<string, Wanted>>();
  /** Recent removal times per end point. */
  readonly #removals = new Map<string, number[]>();
  readonly #held = new Map<string, Held>();

  constructor(options: DeleteGuardOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Deletes being held, for status and tests. */
  get held(): number {
    return this.#held.size;
  }

  /** A service is present (or changed). */
  set(key: string, endPoint: string, wanted: Wanted | undefined): void {
    const held = this.#held.get(key);
    if (held) {
      clearTimeout(held.timer);
      this.#held.delete(key);
      if (wanted && sameTarget(wanted, held.wanted)) {
        // Back as it was: the proxy still holds it, so nothing is sent.
        this.#options.journal?.record({ decision: "returned", key, reason: "came back in limbo" });
        log.info("{key} came back while its delete was held: nothing sent", { key });
        this.#forward(key, endPoint, held.wanted);
        return;
      }
    }
    this.#forward(key, endPoint, wanted);
  }

  /** A service vanished from ZooKeeper. */
  remove(key: string, endPoint: string): void {
    const services = this.#present.get(endPoint);
    const wanted = services?.get(key);
    if (!this.#options.enabled || !wanted) return this.#forward(key, endPoint, undefined);
    const now = this.#now();
    const recent = (this.#removals.get(endPoint) ?? []).filter((t) =>
      now - t <= this.#options.windowMs
    );
    recent.push(now);
    this.#removals.set(endPoint, recent);
    const remaining = services!.size - 1 - this.#heldIn(endPoint);
    const removedShare = recent.length / (remaining + recent.length);
    const mass = recent.length >= 2 && removedShare > this.#options.share;
    // What the proxy would still hold after this delete (held deletes are not sent yet).
    const floor = services!.size - 1 < this.#options.minServices;
    if (!mass && !floor) return this.#forward(key, endPoint, undefined);
    const reason = floor
      ? `would leave ${
        services!.size - 1
      } of ${endPoint}'s services (MIN_SERVICES ${this.#options.minServices})`
      : `${recent.length} of ${endPoint}'s services vanished within ${this.#options.windowMs} ms`;
    const held: Held = { wanted, endPoint };
    this.#held.set(key, held);
    this.#options.journal?.record({ decision: "held", key, op: "delete", reason });
    log.warn("holding the delete of {key}: {reason}", { key, reason });
    if (!floor) {
      held.timer = setTimeout(
        () => this.#release(key, "limbo over, not back"),
        this.#options.limboMs,
      );
    }
  }

  /** Releases every held delete (the operator says the services are really gone). */
  releaseAll(reason = "released by the operator"): number {
    const keys = [...this.#held.keys()];
    for (const key of keys) this.#release(key, reason, true);
    return keys.length;
  }

  /** Clears every timer. */
  stop(): void {
    for (const held of this.#held.values()) clearTimeout(held.timer);
  }

  #release(key: string, reason: string, force = false): void {
    const held = this.#held.get(key);
    if (!held) return;
    clearTimeout(held.timer);
    const proxyWouldHold = (this.#present.get(held.endPoint)?.size ?? 1) - 1;
    if (!force && proxyWouldHold < this.#options.minServices) {
      held.timer = undefined; // stays held below the floor, until it returns or is released
      log.warn("keeping {key}: the last services of an end point are not deleted", { key });
      return;
    }
    this.#held.delete(key);
    this.#options.journal?.record({ decision: "released", key, op: "delete", reason });
    log.warn("releasing the delete of {key}: {reason}", { key, reason });
    this.#forward(key, held.endPoint, undefined);
  }

  #heldIn(endPoint: string): number {
    let count = 0;
    for (const held of this.#held.values()) if (held.endPoint === endPoint) count++;
    return count;
  }

  #forward(key: string, endPoint: string, wanted: Wanted | undefined): void {
    let services = this.#present.get(endPoint);
    if (wanted) {
      if (!services) this.#present.set(endPoint, services = new Map());
      services.set(key, wanted);
    } else if (services) {
      services.delete(key);
      if (services.size === 0) this.#present.delete(endPoint);
    }
    this.#options.apply(key, wanted);
  }
}

function sameTarget(a: Wanted, b: Wanted): boolean {
  return a.ref.host === b.ref.host && a.ref.port === b.ref.port;
}
