/**
 * The chaos run's checks of the monitors as a fleet, once everything has healed: exactly one
 * leads; every one stops cleanly on SIGTERM; and, from the stand-in's request log and the
 * monitors' own logs, the fencing rules of `fencing.ts`.
 *
 * @module
 */
import type { History } from "./history.ts";
import { checkFencing, type LeadershipTerm, senderOf, type SentRequest } from "./fencing.ts";
import type { ChaosWorld } from "./world.ts";
import type { StandInAsabru } from "../testing/stand_in_asabru.ts";
import { PROXY_TIMEOUT_MS, SESSION_TIMEOUT_MS } from "./world.ts";

/** What the running monitors said after the heal. */
export interface FleetState {
  /** Senders whose `zkcm_leader` is 1, at the last poll. */
  leaders: string[];
  /** Each running process's metrics, by sender. */
  metrics: Map<string, Map<string, number>>;
}

/** How long leadership may take to settle after the heal's quiet period. */
const SETTLE_MS = 2 * SESSION_TIMEOUT_MS;
const POLL_MS = 250;

/**
 * Reads every running monitor's metrics until exactly one says it leads (at most
 * {@link SETTLE_MS}). Reads of several processes are not one atomic snapshot, so only the
 * settled state counts: none or two at one poll during a handover is not a failure, at the end it is.
 */
export async function settleLeaders(world: ChaosWorld, history: History): Promise<FleetState> {
  const deadline = performance.now() + SETTLE_MS;
  for (;;) {
    const metrics = new Map<string, Map<string, number>>();
    for (const slot of world.monitors) {
      const sender = slot.current?.sender;
      if (!sender) continue;
      try {
        metrics.set(sender, await slot.metrics());
      } catch (error) {
        history.record("note", "monitor.metrics-failed", `${sender}: ${error}`);
      }
    }
    const leaders = [...metrics].filter(([, values]) => values.get("zkcm_leader") === 1)
      .map(([sender]) => sender);
    if (leaders.length === 1 || performance.now() > deadline) return { leaders, metrics };
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** SIGTERM to every running monitor; the senders that did not exit 0 within 10 s, and why. */
export async function stopMonitors(world: ChaosWorld): Promise<string[]> {
  const unclean: string[] = [];
  await Promise.all(world.monitors.map(async (slot) => {
    const sender = slot.current?.sender;
    const exit = await slot.stop("SIGTERM");
    if (exit && (exit.killed || exit.code !== 0)) {
      unclean.push(
        `${sender}: code ${exit.code}, signal ${exit.signal}${
          exit.killed ? ", killed after 10 s" : ""
        }`,
      );
    }
  }));
  return unclean;
}

/**
 * The fencing rules over the whole run; call once every monitor has exited (their logs are
 * complete). A request may arrive up to one proxy timeout and a second of scheduling delay after
 * its sender's term ended, and 50 ms before its `leading` line (two processes' clocks).
 */
export function fencing(world: ChaosWorld): {
  terms: LeadershipTerm[];
  violations: string[];
  count: number;
} {
  const terms = world.monitors.flatMap((slot) => slot.terms());
  const { violations, count } = checkFencing(sentRequests(world.standIn), terms, {
    graceMs: PROXY_TIMEOUT_MS + 1000,
    skewMs: 50,
  });
  return { terms, violations, count };
}

/**
 * Every request a monitor sent the proxy, named by sender: each `/updateService` change (its
 * static token is the sender's name) and each whole-state push to `/configuration`, whatever
 * it was answered (a 401 too: it was sent), by the subject of the token it carried (each
 * process logs in as a user named after it). Logins are not counted: they change nothing.
 */
export function sentRequests(standIn: StandInAsabru): SentRequest[] {
  const changes = standIn.requests.map((request) => ({
    at: performance.timeOrigin + request.at,
    sender: senderOf(request.authorization),
    what: `${request.op} ${request.endPoint}/${request.service}`,
  }));
  const pushes = standIn.history.filter((record) => record.kind === "/configuration")
    .map((record) => ({
      at: performance.timeOrigin + record.at,
      sender: record.tokenSubject,
      what: `push #${record.index} (answered ${record.status})`,
    }));
  return [...changes, ...pushes];
}

/** Report lines: who ran, who led when, who sent how much. */
export function fleetReport(
  world: ChaosWorld,
  history: History,
  state: FleetState,
  terms: readonly LeadershipTerm[],
): string[] {
  const lines: string[] = [];
  const since = (wall: number) =>
    ((wall - performance.timeOrigin - history.startedAt) / 1000)
      .toFixed(1);
  const processes = world.monitors.flatMap((slot) => slot.processes.map((p) => p.sender));
  lines.push(`monitor processes: ${processes.join(", ")}`);
  lines.push(
    "leadership terms: " +
      [...terms].sort((a, b) => a.from - b.from).map((term) =>
        `${term.sender} epoch ${term.epoch} ${since(term.from)}–${
          term.until === Infinity ? "end" : since(term.until)
        } s`
      ).join(", "),
  );
  const bySender = new Map<string, number>();
  for (const request of sentRequests(world.standIn)) {
    const sender = request.sender ?? "no token";
    bySender.set(sender, (bySender.get(sender) ?? 0) + 1);
  }
  lines.push(
    `proxy requests by sender: ${[...bySender].map(([s, n]) => `${s} ${n}`).join(", ")}`,
  );
  lines.push(
    `leaders after the heal: ${state.leaders.length === 0 ? "none" : state.leaders.join(", ")}` +
      ` (of ${state.metrics.size} running)`,
  );
  const logs = world.monitors.flatMap((slot) => slot.logs());
  const expired = logs.filter((line) => /session .* expired/.test(line)).length;
  const tookOver = logs.filter((line) => line.includes("took over as leader")).length;
  lines.push(`monitor sessions expired: ${expired}; takeovers with a full resync: ${tookOver}`);
  return lines;
}
