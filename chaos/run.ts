/**
 * One chaos run, start to verdict: build the world, run the seeded schedule, heal everything,
 * wait (within a stated bound) until the stand-in proxy holds exactly the valid services
 * ZooKeeper holds, and report. Used by `chaos/main.ts` and by `tests/chaos/run_test.ts`.
 *
 * @example
 * ```ts
 * const result = await runChaos({ seed: 42, durationMs: 60_000, clients: 4, print: console.log });
 * Deno.exit(result.passed ? 0 : 1);
 * ```
 *
 * @module
 */
import type { StandInBehaviour } from "../testing/stand_in_asabru.ts";
import { Prng } from "./prng.ts";
import { formatEntry, History, type HistoryEntry } from "./history.ts";
import { difference, keyOf, proxyHolds, readZooKeeper, type ZooKeeperView } from "./checker.ts";
import { Schedule } from "./schedule.ts";
import { bounded, ChaosHangError } from "./bounded.ts";
import { emptyEndPointWarnings, mayBeEmpty, wholeStateDifference } from "./whole_state.ts";
import { fencing, fleetReport, settleLeaders, stopMonitors } from "./fleet_checks.ts";
import { mirrorWatchModes, watchModeFailures, watchModeLine } from "./watch_modes.ts";
import {
  ChaosWorld,
  KNOWN_END_POINTS,
  PROXY_TIMEOUT_MS,
  RETRY_MAX_MS,
  ROOT,
  SESSION_TIMEOUT_MS,
} from "./world.ts";

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  seed: number;
  /** How long the schedule runs. */
  durationMs: number;
  /** Client processes (each registers two services). */
  clients: number;
  /** Monitor processes (1-3; default 1). With two or more, the monitor faults join in. */
  monitors?: number;
  /** Which proxy the stand-in plays (`stand_in_asabru.ts`). Default `documented`. */
  proxy?: StandInBehaviour;
  /**
   * Whole-state delivery (`ASABRU_CONFIG_TEMPLATE`, `whole_state.ts`); needs `proxy: "deployed"`.
   * Adds token expiry to the faults.
   */
  wholeState?: boolean;
  /** Every line of the report (and of the live history when `verbose`). */
  print: (line: string) => void;
  /** Prints every history entry as it happens. */
  verbose?: boolean;
  /**
   * Where to write the history and the logs when the run fails (a new directory inside it).
   * Default: the system's temporary directory.
   */
  artifactsDir?: string;
}

/** The verdict of a run. */
export interface ChaosResult {
  seed: number;
  /**
   * Converged within the bound, no duplicate at any time, nothing malformed, no crash, one leader
   * at the end, the fencing rules kept (`fencing.ts`).
   */
  passed: boolean;
  /** Why it did not pass. */
  failures: string[];
  /** From the end of the heal to the proxy equalling ZooKeeper (stable), when it did. */
  convergedAfterMs?: number;
  /** Where the history and logs were written (failed runs only). */
  artifacts?: string;
}

/**
 * The bound on convergence after the heal: a session that has to expire (2 s), then a full
 * re-read and a delivery queue coming out of its longest back-off (0.5 s), with a margin for a
 * loaded 2-core machine starting processes.
 */
export const CONVERGE_BOUND_MS = 15_000;
/** The proxy must equal ZooKeeper this long, continuously, to count as converged. */
const STABLE_MS = 1000;
/**
 * The equality must still hold this long after the heal: by then every session of a client
 * killed just before the heal has expired (twice the session timeout, a quorum loss may have
 * renewed it once), so ZooKeeper itself has stopped changing.
 */
const QUIET_AFTER_HEAL_MS = 2 * SESSION_TIMEOUT_MS + 1000;
const POLL_MS = 200;
/** One poll's read of ZooKeeper (the driver's requests time out after 3 s each). */
const POLL_READ_BOUND_MS = 10_000;
/** Reading every monitor's metrics until one leads: 4 s, plus 3 s a fetch. */
const SETTLE_BOUND_MS = 30_000;
/** SIGTERM to every monitor: 10 s each at once, then SIGKILL. */
const STOP_BOUND_MS = 30_000;
/** Stopping every process and server of the world (each part has a bound of its own, 30 s). */
const WORLD_CLOSE_BOUND_MS = 120_000;

/** The messages of the errors of a close: several parts may fail, in a `SuppressedError` chain. */
function closeFailures(error: unknown): string[] {
  if (error instanceof SuppressedError) {
    return [...closeFailures(error.error), ...closeFailures(error.suppressed)];
  }
  return [error instanceof Error ? error.message : String(error)];
}

/** A {@link ChaosHangError} joins `hangs` and the run goes on with `fallback`; others throw. */
function hung<T>(error: unknown, hangs: ChaosHangError[], fallback: T): T {
  if (!(error instanceof ChaosHangError)) throw error;
  hangs.push(error);
  return fallback;
}

/** Runs one chaos run; never throws for a divergence (see {@link ChaosResult}). */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const { print } = options;
  const history = new History(options.verbose ? (entry) => print(formatEntry(entry)) : undefined);
  const monitors = options.monitors ?? 1;
  print(
    `chaos: seed ${options.seed}, schedule ${options.durationMs / 1000} s, ` +
      `${options.clients} clients, 3 ZooKeeper members, ${monitors} monitor` +
      (monitors === 1 ? "" : "s"),
  );
  print(
    `chaos: timeouts: session ${SESSION_TIMEOUT_MS} ms, proxy request ${PROXY_TIMEOUT_MS} ms, ` +
      `retry cap ${RETRY_MAX_MS} ms; convergence bound ${CONVERGE_BOUND_MS} ms after the heal`,
  );

  if (options.wholeState && options.proxy !== "deployed") {
    throw new Error("whole-state delivery needs the deployed-mode stand-in (proxy: deployed)");
  }
  print(
    `chaos: the stand-in proxy behaves as ${options.proxy ?? "documented"}` +
      (options.wholeState ? ", delivery: whole state (/configuration)" : ""),
  );
  const world = await ChaosWorld.start(
    { clients: options.clients, monitors, proxy: options.proxy, wholeState: options.wholeState },
    history,
  );
  let result: ChaosResult;
  try {
    result = await runInWorld(world, history, options);
  } catch (error) {
    await bounded(world.close(), WORLD_CLOSE_BOUND_MS, "closing the world").catch(() => {});
    throw error;
  }
  try {
    await bounded(world.close(), WORLD_CLOSE_BOUND_MS, "closing the world (processes, servers)");
  } catch (error) {
    // After the verdict: it stands, and what did not close is one more failure.
    const failure = `the harness hung: ${closeFailures(error).join("; ")}`;
    print(`FAILED: ${failure}`);
    print(`chaos: seed ${options.seed}: FAILED (replay with --seed ${options.seed})`);
    result = { ...result, passed: false, failures: [...result.failures, failure] };
  }
  return result;
}

/** The run inside its world: schedule, heal, convergence, checks, report. */
async function runInWorld(
  world: ChaosWorld,
  history: History,
  options: ChaosOptions,
): Promise<ChaosResult> {
  const { print } = options;
  const monitors = world.monitors.length;
  const standIn = world.standIn;
  const duplicatesSeen: string[] = [];
  const stopWatching = standIn.onRequest((request) => {
    if (request.op !== "add" || !request.applied) return;
    const copies = standIn.list(request.endPoint).filter((e) => e.service === request.service);
    if (copies.length > 1) {
      const key = `${request.endPoint}/${request.service}`;
      duplicatesSeen.push(key);
      history.record("note", "proxy.duplicate", `${copies.length} copies after an add`, [key]);
    }
  });

  const schedule = new Schedule(world, history, { wholeState: options.wholeState });
  const scheduleStart = history.elapsed();
  const { steps, skipped } = await schedule.run(options.durationMs, new Prng(options.seed));
  const scheduleEnd = history.elapsed();
  history.record("note", "schedule.end", `${steps} steps, ${skipped} skipped`);
  const hangs = await schedule.healAll();
  const healedAt = history.elapsed();

  const convergence = await awaitConvergence(world, history, healedAt, options.wholeState);
  stopWatching();

  const fleet = await bounded(settleLeaders(world, history), SETTLE_BOUND_MS, "settling leaders")
    .catch((error) => hung(error, hangs, { leaders: [], metrics: new Map() }));
  const unclean = await bounded(stopMonitors(world), STOP_BOUND_MS, "stopping the monitors")
    .catch((error) => hung(error, hangs, []));
  const fenced = fencing(world);
  const watchModes = mirrorWatchModes(
    world.monitors.flatMap((slot) =>
      slot.processes.map(({ sender, program }) => ({ sender, lines: program.lines }))
    ),
  );

  const failures: string[] = hangs.map((hang) => `the harness hung: ${hang.message}`);
  if (convergence.convergedAt === undefined) {
    failures.push(`the proxy did not equal ZooKeeper within ${CONVERGE_BOUND_MS} ms of the heal`);
  }
  if (duplicatesSeen.length > 0) {
    failures.push(`duplicates in the proxy during the run: ${[...new Set(duplicatesSeen)]}`);
  }
  const duplicatesAtEnd = standIn.duplicates();
  if (duplicatesAtEnd.length > 0) failures.push(`duplicates at the end: ${duplicatesAtEnd}`);
  if (options.wholeState) failures.push(...wholeStateFailures(world));
  if (standIn.malformed > 0) {
    failures.push(`${standIn.malformed} malformed requests: ${standIn.malformedReasons}`);
  }
  const unexpected = history.entries.filter((e) =>
    /exited$|^monitor\.unclean-exit$|^monitor\.restart\.failed$/.test(e.kind)
  );
  for (const entry of unexpected) failures.push(`${entry.kind}: ${entry.details}`);
  for (const line of unclean) failures.push(`a monitor did not stop cleanly on SIGTERM: ${line}`);
  if (fleet.leaders.length !== 1) {
    failures.push(
      `${fleet.leaders.length} monitors lead after the heal (${fleet.leaders}), not exactly one`,
    );
  }
  if (fenced.count > 0) {
    failures.push(`${fenced.count} requests broke the fencing rules (see "fencing:" above)`);
  }
  failures.push(...watchModeFailures(watchModes));

  const requests = standIn.requests;
  const count = (predicate: (r: (typeof requests)[number]) => boolean) =>
    requests.filter(predicate).length;
  // The metrics of the monitor that leads at the end (or of the only one).
  const metrics = fleet.metrics.get(fleet.leaders[0] ?? "") ?? new Map<string, number>();
  const metric = (name: string) => metrics.get(name) ?? NaN;
  const proxyLabel = `proxy="${standIn.url}"`;
  const lines: string[] = [];
  lines.push(
    `schedule: ${steps} steps in ${((scheduleEnd - scheduleStart) / 1000).toFixed(1)} s ` +
      `(${skipped} skipped for want of a target)`,
  );
  lines.push("operations and faults by kind:");
  for (const [kind, n] of history.countsByKind(["op", "fault"])) {
    lines.push(`  ${kind.padEnd(26)} ${n}`);
  }
  const notes = history.countsByKind(["note"]).filter(([kind]) =>
    !kind.startsWith("world.") && kind !== "schedule.end"
  );
  if (notes.length > 0) {
    lines.push("observed:");
    for (const [kind, n] of notes) lines.push(`  ${kind.padEnd(26)} ${n}`);
  }
  lines.push(
    `heal: done ${((healedAt - scheduleEnd) / 1000).toFixed(1)} s after the schedule ended`,
  );
  lines.push(
    convergence.convergedAt === undefined
      ? `converged: NO within ${CONVERGE_BOUND_MS} ms of the heal`
      : `converged: ${((convergence.convergedAt - scheduleEnd) / 1000).toFixed(2)} s after ` +
        `the schedule ended, ${
          (Math.max(0, convergence.convergedAt - healedAt) / 1000).toFixed(2)
        } s after the ` +
        `heal (bound ${CONVERGE_BOUND_MS / 1000} s), still equal ${QUIET_AFTER_HEAL_MS} ms ` +
        `after the heal`,
  );
  const view = convergence.view;
  if (view) {
    lines.push(
      `ZooKeeper at the end: ${view.expected.length} valid services, ${view.invalid} invalid, ` +
        `${view.unknownEndPoint} valid under an end point the proxy does not know`,
    );
  }
  lines.push(
    `proxy received: ${count((r) => r.op === "add")} adds (${
      count((r) => r.op === "add" && r.applied)
    } applied), ${count((r) => r.op === "delete")} deletes (${
      count((r) => r.op === "delete" && r.applied)
    } applied), ${standIn.connections} connections`,
  );
  lines.push(
    `${monitors === 1 ? "monitor" : `leader ${fleet.leaders[0] ?? "none"}`} sent: add ${
      metric(`zkcm_delivery_requests_total{${proxyLabel},op="add"}`)
    }, ` +
      `delete ${metric(`zkcm_delivery_requests_total{${proxyLabel},op="delete"}`)}; results ` +
      ["ok", "rejected", "not_sent", "uncertain"].map((result) =>
        `${result} ${metric(`zkcm_delivery_results_total{${proxyLabel},result="${result}"}`)}`
      ).join(", ") +
      `; retries ${metric(`zkcm_delivery_retries_total{${proxyLabel}}`)}, resyncs ${
        metric(`zkcm_resyncs_total{${proxyLabel}}`)
      }`,
  );
  if (options.wholeState) {
    const pushes = standIn.history.filter((record) => record.kind === "/configuration");
    const refused = pushes.filter((record) => record.status === 401).length;
    lines.push(
      `whole state: the proxy received ${pushes.length} /configuration pushes (${refused} ` +
        `answered 401, an expired token), restarted ` +
        `${standIn.crashes} times (the schedule's restarts); the monitor pushed ${
          metric(`zkcm_delivery_requests_total{${proxyLabel},op="configuration"}`)
        }, unauthorized (after a new login too) ${
          metric(`zkcm_delivery_results_total{${proxyLabel},result="unauthorized"}`)
        }, restart recoveries ${
          metric(`zkcm_delivery_restart_recoveries_total{${proxyLabel}}`)
        }; slots ever duplicated: ${standIn.everDuplicated().length}`,
    );
  }
  lines.push(
    `duplicates: ${duplicatesSeen.length} seen during the run, ${duplicatesAtEnd.length} at ` +
      `the end; malformed requests: ${standIn.malformed}`,
  );
  const clientLogs = world.slots.flatMap((slot) => slot.logs());
  const reRegistered = clientLogs.filter((line) => line.includes("again in a new session"));
  const tookOver = clientLogs.filter((line) => line.includes("took over"));
  lines.push(
    `sessions: monitor ${metric("zkcm_zookeeper_sessions_total")} (a new one after each ` +
      `expiry); clients re-registered ${reRegistered.length} services in a new session, took ` +
      `over ${tookOver.length} left by a crashed run`,
  );
  lines.push(...fleetReport(world, history, fleet, fenced.terms));
  lines.push(
    `fencing: ${fenced.count} violations` +
      (fenced.count === 0 ? " (every request within its sender's term, terms in order)" : ":"),
  );
  for (const violation of fenced.violations) lines.push(`  ${violation}`);
  lines.push(`monitors on SIGTERM: ${unclean.length === 0 ? "every one exited 0" : unclean}`);
  lines.push(watchModeLine(watchModes));
  for (const line of lines) print(line);

  let artifacts: string | undefined;
  if (failures.length > 0) {
    if (convergence.wholeStateDifference) {
      print(`whole state: ${convergence.wholeStateDifference}`);
    }
    const divergence = convergence.convergedAt === undefined && view
      ? difference(view.expected, proxyHolds(standIn))
      : { missing: [], extra: [] };
    const detail = explain(divergence, history, world, duplicatesSeen);
    for (const line of detail) print(line);
    artifacts = await writeArtifacts(options, history, world);
    print(`artifacts (history, monitor logs, proxy requests): ${artifacts}`);
    for (const failure of failures) print(`FAILED: ${failure}`);
    print(`chaos: seed ${options.seed}: FAILED (replay with --seed ${options.seed})`);
  } else {
    print(`chaos: seed ${options.seed}: PASSED`);
  }
  return {
    seed: options.seed,
    passed: failures.length === 0,
    failures,
    convergedAfterMs: convergence.convergedAt === undefined
      ? undefined
      : Math.max(0, convergence.convergedAt - healedAt),
    artifacts,
  };
}

/**
 * Polls ZooKeeper and the proxy until they are equal for {@link STABLE_MS} without a break, the
 * equality beginning within {@link CONVERGE_BOUND_MS} of the heal.
 */
async function awaitConvergence(
  world: ChaosWorld,
  history: History,
  healedAt: number,
  wholeState = false,
): Promise<{ convergedAt?: number; view?: ZooKeeperView; wholeStateDifference?: string }> {
  const known = new Set<string>(KNOWN_END_POINTS);
  let streakStart: number | undefined;
  let view: ZooKeeperView | undefined;
  let wholeStateDiff: string | undefined;
  const maxPolls = Math.ceil((CONVERGE_BOUND_MS + STABLE_MS) / POLL_MS) + 10;
  for (let poll = 0; poll < maxPolls; poll++) {
    const at = history.elapsed();
    let equal = false;
    try {
      view = await bounded(
        readZooKeeper(world.driver, ROOT, known),
        POLL_READ_BOUND_MS,
        "a read of ZooKeeper by the checker",
      );
      const held = proxyHolds(world.standIn);
      if (wholeState) {
        const warnings = emptyEndPointWarnings(world.monitors.flatMap((slot) => slot.logs()));
        wholeStateDiff = wholeStateDifference(view.expected, held, warnings);
        equal = wholeStateDiff === undefined;
      } else {
        equal = held.length === view.expected.length &&
          held.every((item, i) => item === view!.expected[i]);
      }
    } catch (error) {
      history.record("note", "checker.read-failed", String(error));
    }
    if (equal) {
      streakStart ??= at;
      const now = history.elapsed();
      if (now - streakStart >= STABLE_MS && now - healedAt >= QUIET_AFTER_HEAL_MS) {
        return { convergedAt: streakStart, view };
      }
    } else {
      streakStart = undefined;
      if (at - healedAt > CONVERGE_BOUND_MS) break;
    }
    // Slow reads must not stretch the bound (each poll's read is bounded, their number too).
    if (history.elapsed() - healedAt > CONVERGE_BOUND_MS + STABLE_MS + QUIET_AFTER_HEAL_MS) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return { view, wholeStateDifference: wholeStateDiff };
}

/**
 * Whole state: no slot duplicated at any moment of the stand-in's history, no crash but the
 * restarts the schedule made, and no end point left pushed empty (its next request would crash)
 * unless it has no service anywhere and a monitor warned it leaves it as the template has it.
 */
function wholeStateFailures(world: ChaosWorld): string[] {
  const failures: string[] = [];
  const standIn = world.standIn;
  const everDuplicated = standIn.everDuplicated();
  if (everDuplicated.length > 0) failures.push(`a slot was duplicated: ${everDuplicated}`);
  const crashes = standIn.history.filter((record) =>
    record.kind === "crash" && record.detail !== "restart"
  );
  for (const crash of crashes) failures.push(`a push crashed the proxy: ${crash.detail}`);
  const warnings = emptyEndPointWarnings(world.monitors.flatMap((slot) => slot.logs()));
  const empty = KNOWN_END_POINTS.filter((endPoint) =>
    standIn.pushedEmpty(endPoint) && !mayBeEmpty(endPoint, warnings)
  );
  if (empty.length > 0) {
    failures.push(`pushed with an empty list (the next request crashes the proxy): ${empty}`);
  }
  return failures;
}

/** The differences, and for each service what led to it. */
function explain(
  divergence: { missing: string[]; extra: string[] },
  history: History,
  world: ChaosWorld,
  duplicatesSeen: string[],
): string[] {
  const lines: string[] = [];
  const keys = new Set<string>(duplicatesSeen);
  for (const item of divergence.missing) {
    lines.push(`MISSING in the proxy: ${item}`);
    keys.add(keyOf(item));
  }
  for (const item of divergence.extra) {
    lines.push(`EXTRA in the proxy:   ${item}`);
    keys.add(keyOf(item));
  }
  const requests = world.standIn.requests;
  for (const key of keys) {
    const service = key.slice(key.indexOf("/") + 1);
    lines.push(`--- ${key}: last history entries`);
    for (const entry of history.touching(key, 10)) lines.push(formatEntry(entry));
    lines.push(`--- ${key}: last requests the proxy received`);
    for (const request of requests.filter((r) => `${r.endPoint}/${r.service}` === key).slice(-10)) {
      lines.push(
        `${((request.at - history.startedAt) / 1000).toFixed(3).padStart(8)}s ${request.op} ` +
          `${request.host}:${request.port} status ${request.status} applied ${request.applied}`,
      );
    }
    lines.push(`--- ${key}: last monitor log lines naming it`);
    const monitorLines = world.monitors.flatMap((slot) => slot.logs());
    for (const line of monitorLines.filter((l) => l.includes(service)).slice(-10)) {
      lines.push(`  ${line.slice(0, 400)}`);
    }
  }
  lines.push("--- last faults and heals of the whole system");
  for (const entry of history.global(15)) lines.push(formatEntry(entry));
  return lines;
}

async function writeArtifacts(
  options: ChaosOptions,
  history: History,
  world: ChaosWorld,
): Promise<string> {
  const dir = await Deno.makeTempDir({
    dir: options.artifactsDir,
    prefix: `zkcm-chaos-seed-${options.seed}-`,
  });
  const jsonl = (items: unknown[]) =>
    items.map((item) => JSON.stringify(item, (_k, v) => typeof v === "bigint" ? `${v}` : v))
      .join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/history.jsonl`, jsonl(history.entries));
  await Deno.writeTextFile(
    `${dir}/history.txt`,
    history.entries.map(formatEntry).join("\n") + "\n",
  );
  for (const slot of world.monitors) {
    for (const { sender, program } of slot.processes) {
      await Deno.writeTextFile(`${dir}/monitor-${sender}.log`, program.lines.join("\n") + "\n");
    }
  }
  await Deno.writeTextFile(
    `${dir}/proxy-requests.jsonl`,
    jsonl(world.standIn.requests.map((r) => ({ ...r, t: r.at - history.startedAt }))),
  );
  for (const slot of world.slots) {
    await Deno.writeTextFile(`${dir}/client-${slot.index}.log`, slot.logs().join("\n") + "\n");
  }
  return dir;
}

export type { HistoryEntry };
