/**
 * The mass-delete guard (off by default): between the mirror and the delivery queues, it holds
 * deletes that look like a registry problem rather than dead nodes.
 *
 * - With the guard on, a delete waits up to `windowMs` before it is sent, so the removals of an
 *   end point can be counted together. If at least `share` of its services (and at least two)
 *   vanished in that window, their deletes are held for `limboMs`: a service that comes back
 *   meanwhile with the same host:port causes nothing to be sent; one that does not is deleted
 *   after the limbo. Otherwise the deletes go out at the end of the window.
 * - With `minServices`, the last `minServices` services of an end point are never deleted (held
 *   until they return, or until {@link DeleteGuard.releaseAll}).
 *
 * Every hold and release is recorded in the journal and logged.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Wanted } from "./delivery/decide.ts";
import type { DecisionJournal } from "./journal.ts";

const log = getLogger(["zkcm", "guard"]);

/** Options of {@link DeleteGuard}. */
export interface DeleteGuardOptions {
  enabled: boolean;
  /** Share of an end point's services whose removal within the window is suspicious. */
  share: number;
  /** How long deletes wait to be counted together. */
  windowMs: number;
  /** How long held deletes wait for their services to come back. */
  limboMs: number;
  /** Never delete the last this many services of an end point (0: no such floor). */
  minServices: number;
  /** Forwards a service's wanted state (`undefined`: remove) to the delivery queues. */
  apply: (key: string, wanted: Wanted | undefined) => void;
  journal?: DecisionJournal;
}

interface Vanished {
  wanted: Wanted;
  endPoint: string;
  /** Held after the window (a mass delete or the floor); false while still being counted. */
  held: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** Holds suspicious deletes; passes everything else straight through. */
export class DeleteGuard {
  readonly #options: DeleteGuardOptions;
  /** Services forwarded as present (vanished ones included until their delete is sent). */
  readonly #present = new Map<string, Map<string, Wanted>>();
  readonly #vanished = new Map<string, Vanished>();
  readonly #windows = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(options: DeleteGuardOptions) {
    this.#options = options;
  }

  /** Deletes being held after their window, for status and tests. */
  get held(): number {
    let held = 0;
    for (const vanished of this.#vanished.values()) if (vanished.held) held++;
    return held;
  }

  /**
   * Services gone from ZooKeeper whose delete the guard has not forwarded yet: `held` after
   * their window (a mass delete or the floor), else still being counted. For the status page.
   */
  withheldDeletes(): { key: string; endPoint: string; wanted: Wanted; held: boolean }[] {
    return [...this.#vanished].map(([key, { endPoint, wanted, held }]) => ({
      key,
      endPoint,
      wanted,
      held,
    }));
  }

  /** A service is present (or changed). */
  set(key: string, endPoint: string, wanted: Wanted | undefined): void {
    const vanished = this.#vanished.get(key);
    if (vanished) {
      clearTimeout(vanished.timer);
      this.#vanished.delete(key);
      if (wanted && sameTarget(wanted, vanished.wanted)) {
        // Back as it was: the proxy still holds it, so nothing is sent.
        if (vanished.held) {
          this.#options.journal?.record({
            decision: "returned",
            key,
            reason: "came back in limbo",
          });
          log.info("{key} came back while its delete was held: nothing sent", { key });
        }
        this.#forward(key, endPoint, vanished.wanted);
        return;
      }
    }
    this.#forward(key, endPoint, wanted);
  }

  /** A service vanished from ZooKeeper. */
  remove(key: string, endPoint: string): void {
    const wanted = this.#present.get(endPoint)?.get(key);
    if (!this.#options.enabled || !wanted) return this.#forward(key, endPoint, undefined);
    this.#vanished.set(key, { wanted, endPoint, held: false });
    if (!this.#windows.has(endPoint)) {
      this.#windows.set(
        endPoint,
        setTimeout(() => this.#judge(endPoint), this.#options.windowMs),
      );
    }
  }

  /** Releases every held delete (the operator says the services are really gone). */
  releaseAll(reason = "released by the operator"): number {
    const keys = [...this.#vanished].filter(([, v]) => v.held).map(([key]) => key);
    for (const key of keys) this.#release(key, reason, true);
    return keys.length;
  }

  /** Clears every timer. */
  stop(): void {
    for (const vanished of this.#vanished.values()) clearTimeout(vanished.timer);
    for (const timer of this.#windows.values()) clearTimeout(timer);
    this.#windows.clear();
  }

  /** The window of an end point is over: send its deletes, or hold them. */
  #judge(endPoint: string): void {
    this.#windows.delete(endPoint);
    const counted = [...this.#vanished].filter(([, v]) => v.endPoint === endPoint && !v.held);
    const services = this.#present.get(endPoint)?.size ?? 0;
    const share = counted.length / Math.max(1, services);
    const mass = counted.length >= 2 && share >= this.#options.share;
    for (const [key, vanished] of counted) {
      if (!mass) {
        this.#release(key, "", false, true);
        continue;
      }
      this.#hold(
        key,
        vanished,
        `${counted.length} of ${services} services of ${endPoint} vanished within ${this.#options.windowMs} ms`,
      );
      vanished.timer = setTimeout(
        () => this.#release(key, "limbo over, not back"),
        this.#options.limboMs,
      );
    }
  }

  #hold(key: string, vanished: Vanished, reason: string): void {
    vanished.held = true;
    this.#options.journal?.record({ decision: "held", key, op: "delete", reason });
    log.warn("holding the delete of {key}: {reason}", { key, reason });
  }

  #release(key: string, reason: string, force = false, quiet = false): void {
    const vanished = this.#vanished.get(key);
    if (!vanished) return;
    clearTimeout(vanished.timer);
    const proxyWouldHold = (this.#present.get(vanished.endPoint)?.size ?? 1) - 1;
    if (!force && proxyWouldHold < this.#options.minServices) {
      vanished.timer = undefined; // below the floor: held until it returns or is released
      if (!vanished.held) {
        this.#hold(
          key,
          vanished,
          `the last ${this.#options.minServices} services of an end point are kept (MIN_SERVICES)`,
        );
      }
      return;
    }
    this.#vanished.delete(key);
    if (!quiet || vanished.held) {
      this.#options.journal?.record({ decision: "released", key, op: "delete", reason });
      log.warn("releasing the delete of {key}: {reason}", { key, reason });
    }
    this.#forward(key, vanished.endPoint, undefined);
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
