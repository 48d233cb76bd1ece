/**
 * The monitor's first stage after the mirror: which mirrored services may go to the proxies at
 * all. A service whose znode cannot be sent (data not `host:port`, names the proxy's XML cannot
 * carry, an end point the configuration template lacks) goes on as "not wanted", is recorded in
 * the journal and logged once per reason (once per end point for one the template lacks); one that
 * is odd but sendable (a persistent znode) is sent and logged once. What remains goes on to the
 * mass-delete guard.
 *
 * ZooKeeper → mirror → **admission** → delete guard → delivery queues → proxy.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { MirrorChange, MirroredService } from "./tree_mirror.ts";
import type { Wanted } from "./delivery/decide.ts";
import type { DecisionJournal } from "./journal.ts";
import { serviceOddity } from "./wanted_service.ts";

// The monitor's category: these lines are what the monitor says about its input.
const log = getLogger(["zkcm", "monitor"]);

/** Where admitted changes go (the mass-delete guard). */
export interface AdmissionTarget {
  set(key: string, endPoint: string, wanted: Wanted | undefined): void;
  remove(key: string, endPoint: string): void;
}

/** Options of {@link Admission}. */
export interface AdmissionOptions {
  /**
   * The proxy entry a mirrored service stands for, or why it cannot be sent; `endPointRefused`
   * names an end point the template lacks, whose refusal is logged once for all its services.
   */
  wantedFor: (
    service: MirroredService,
  ) => { wanted: Wanted } | { invalid: string; endPointRefused?: string };
  journal: DecisionJournal;
  next: AdmissionTarget;
}

/** Sorts the mirror's changes into wanted, invalid and odd; see the module. */
export class Admission {
  readonly #options: AdmissionOptions;
  readonly #invalid = new Map<string, string>();
  readonly #odd = new Map<string, string>();
  /** End points refused for not being in the template, each logged once. */
  readonly #refusedEndPoints = new Set<string>();
  #invalidSeen = 0;

  constructor(options: AdmissionOptions) {
    this.#options = options;
  }

  /** Services whose znode cannot be sent, by key, with why. */
  get invalid(): ReadonlyMap<string, string> {
    return this.#invalid;
  }

  /** Services sent although odd (a persistent znode), by key, with what is odd. */
  get odd(): ReadonlyMap<string, string> {
    return this.#odd;
  }

  /** Invalid service data seen so far, each znode and reason once. */
  get invalidSeen(): number {
    return this.#invalidSeen;
  }

  /** One change of the mirror. */
  onChange(change: MirrorChange): void {
    const { next, journal } = this.#options;
    if (change.type === "remove") {
      this.#invalid.delete(change.key);
      this.#odd.delete(change.key);
      next.remove(change.key, change.endPoint);
      return;
    }
    const oddity = serviceOddity(change.service);
    if (oddity === undefined) {
      this.#odd.delete(change.key);
    } else if (this.#odd.get(change.key) !== oddity) {
      this.#odd.set(change.key, oddity);
      log.warn("{key} is a {oddity}; sending it all the same", { key: change.key, oddity });
    }
    const result = this.#options.wantedFor(change.service);
    if ("invalid" in result) {
      if (this.#invalid.get(change.key) !== result.invalid) {
        this.#invalidSeen++;
        journal.record({ decision: "invalid", key: change.key, reason: result.invalid });
        const endPoint = result.endPointRefused;
        if (endPoint === undefined || !this.#refusedEndPoints.has(endPoint)) {
          log.warn("not sending {key}: {reason}", { key: change.key, reason: result.invalid });
        }
        if (endPoint !== undefined) this.#refusedEndPoints.add(endPoint);
      }
      this.#invalid.set(change.key, result.invalid);
      next.set(change.key, change.service.endPoint, undefined);
    } else {
      this.#invalid.delete(change.key);
      next.set(change.key, change.service.endPoint, result.wanted);
    }
  }
}
