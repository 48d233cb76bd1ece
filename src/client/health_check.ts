/**
 * Health checks of the node the client announces: the client keeps its service registered in
 * ZooKeeper only while the node answers, so the proxy never routes to a node that is down or, for
 * ClickHouse, to a replica that is still catching up.
 *
 * @example
 * ```ts
 * const target = parseHealthTarget("clickhouse://ch1:8123");
 * if ("error" in target) throw new Error(`bad health target: ${target.error}`);
 * const checker = new HealthChecker({
 *   target,
 *   onChange: (healthy) => healthy ? registrar.register() : registrar.unregister(),
 * });
 * checker.start();
 * // ... on shutdown:
 * await checker.stop();
 * ```
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { checkOnce, type HealthCheckResult } from "./_health_probe.ts";
import { formatHealthTarget, type HealthTarget } from "./_health_target.ts";

export { checkOnce, type HealthCheckResult };
export {
  CLICKHOUSE_HTTP_PORT,
  formatHealthTarget,
  type HealthTarget,
  parseHealthTarget,
} from "./_health_target.ts";

const log = getLogger(["zkcm", "health"]);

/** Options of {@link HealthChecker}. */
export interface HealthCheckerOptions {
  /** What to check. */
  target: HealthTarget;
  /** Pause between the end of one check and the start of the next. Default 2000 ms. */
  intervalMs?: number;
  /** Bound of one check. Default 1000 ms. */
  timeoutMs?: number;
  /** Consecutive successes that make an unhealthy target healthy again. Default 2. */
  rise?: number;
  /** Consecutive failures that make a healthy target unhealthy. Default 3. */
  fall?: number;
  /**
   * Called with the initial state and on every flip, never twice in a row with the same value.
   * An error it throws (or a promise it returns that rejects) is logged and does not stop checks.
   */
  onChange: (healthy: boolean, detail: string) => void;
}

/**
 * Checks a target every `intervalMs` and reports its state with hysteresis:
 *
 * - The first check runs at once and decides the initial state on its own: one success makes the
 *   target healthy, one failure unhealthy; `onChange` is called with it.
 * - Afterwards the state flips to unhealthy only after `fall` consecutive failures, and back to
 *   healthy only after `rise` consecutive successes; a single blip changes nothing. `onChange` is
 *   called on each flip only.
 * - Checks never overlap: the next one starts `intervalMs` after the previous one ended.
 *
 * {@link stop} aborts the check in flight (its result is dropped) and resolves once the loop has
 * ended, with no timer or request left behind.
 *
 * @example
 * ```ts
 * await using checker = new HealthChecker({
 *   target: { kind: "tcp", host: "ch1", port: 9000 },
 *   onChange: (healthy, detail) => console.log(healthy ? "up" : `down: ${detail}`),
 * });
 * checker.start();
 * ```
 */
export class HealthChecker implements AsyncDisposable {
  readonly #target: HealthTarget;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #rise: number;
  readonly #fall: number;
  readonly #onChange: (healthy: boolean, detail: string) => void;
  #healthy: boolean | undefined;
  #lastDetail = "";
  #ok = 0;
  #failed = 0;
  #successesInARow = 0;
  #failuresInARow = 0;
  #controller?: AbortController;
  #loop?: Promise<void>;

  /** Validates the options; checks begin with {@link start}. */
  constructor(options: HealthCheckerOptions) {
    this.#target = options.target;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#rise = options.rise ?? 2;
    this.#fall = options.fall ?? 3;
    this.#onChange = options.onChange;
    if (!(this.#intervalMs >= 0)) throw new RangeError("intervalMs must be 0 or more");
    if (!(this.#timeoutMs > 0)) throw new RangeError("timeoutMs must be more than 0");
    for (const [name, value] of [["rise", this.#rise], ["fall", this.#fall]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be 1 or more`);
    }
  }

  /** The current state: `undefined` until the first check has ended. */
  get healthy(): boolean | undefined {
    return this.#healthy;
  }

  /** Why the last check ended as it did (`"ok"`, `"HTTP 503 from /replicas_status"`, ...). */
  get lastDetail(): string {
    return this.#lastDetail;
  }

  /** The current streak: checks in a row that succeeded, and that failed (one of them is 0). */
  get inARow(): { successes: number; failures: number } {
    return { successes: this.#successesInARow, failures: this.#failuresInARow };
  }

  /** Checks so far, by outcome (checks cut short by {@link stop} are not counted): for metrics. */
  get checks(): { ok: number; failed: number } {
    return { ok: this.#ok, failed: this.#failed };
  }

  /**
   * Starts checking. Does nothing while running; after {@link stop} it starts afresh, the state
   * unknown until the first check (the counters keep counting).
   */
  start(): void {
    if (this.#controller && !this.#controller.signal.aborted) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.#healthy = undefined;
    this.#successesInARow = 0;
    this.#failuresInARow = 0;
    const previous = this.#loop ?? Promise.resolve();
    this.#loop = previous.then(() => this.#run(controller.signal));
  }

  /** Stops checking; resolves when the loop and the check in flight have ended. Idempotent. */
  stop(): Promise<void> {
    this.#controller?.abort();
    return this.#loop ?? Promise.resolve();
  }

  /** Same as {@link stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const result = await checkOnce(this.#target, { timeoutMs: this.#timeoutMs, signal });
      if (signal.aborted) return;
      this.#record(result);
      await pause(this.#intervalMs, signal);
    }
  }

  #record({ healthy, detail }: HealthCheckResult): void {
    this.#lastDetail = detail;
    if (healthy) {
      this.#ok++;
      this.#successesInARow++;
      this.#failuresInARow = 0;
    } else {
      this.#failed++;
      this.#failuresInARow++;
      this.#successesInARow = 0;
    }
    log.debug("health check of {target}: {detail}", {
      target: formatHealthTarget(this.#target),
      healthy,
      detail,
    });
    const flips = this.#healthy === undefined ||
      (this.#healthy && this.#failuresInARow >= this.#fall) ||
      (!this.#healthy && this.#successesInARow >= this.#rise);
    if (flips) this.#flip(healthy, detail);
  }

  #flip(healthy: boolean, detail: string): void {
    const initial = this.#healthy === undefined;
    this.#healthy = healthy;
    const properties = {
      target: formatHealthTarget(this.#target),
      healthy,
      detail,
      initial,
      inARow: healthy ? this.#successesInARow : this.#failuresInARow,
    };
    if (healthy) log.info("{target} is healthy", properties);
    else log.warn("{target} is unhealthy: {detail}", properties);
    const failed = (error: unknown) =>
      log.error("the health change listener failed: {error}", {
        target: properties.target,
        healthy,
        error: String(error),
      });
    try {
      const returned: unknown = this.#onChange(healthy, detail);
      if (returned instanceof Promise) returned.catch(failed);
    } catch (error) {
      failed(error);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; the timer is cleared either way. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
