/**
 * The chaos run's fencing check: a monitor writes to the proxy only while it leads, and a monitor
 * that lost its leadership sends nothing once a newer leader has begun.
 *
 * What the monitor promises (src/monitor/leader_election.ts, src/monitor/app.ts,
 * src/monitor/delivery/proxy_queue.ts), and so what is checked:
 *
 * - Every request is dispatched only while `mayDeliver()` holds: the session is connected and
 *   its candidate is the lowest. A monitor logs `leading, epoch N` before it may dispatch, and
 *   `no longer leading` the moment its connection drops (its watchdog declares a silent server
 *   gone after 2/3 of the session timeout, before the server can expire the session). A request
 *   dispatched just before may still be in flight: it ends within the proxy timeout.
 * - A standby leads only once the old leader's candidate is gone (its session expired or it
 *   left), and then waits one proxy timeout before its first request (the takeover resync).
 *
 * The proxy itself cannot fence (it takes no token), so the guarantee rests on those margins:
 * at least a third of the session timeout plus one proxy timeout between the old leader's last
 * dispatch and the new leader's first. The checks below allow more than that for scheduling
 * delays on a loaded machine, and no check compares two processes' timing more tightly:
 *
 * 1. **Sends only while leading**: every request arrives within a leadership term of its sender
 *    (from `leading` minus {@link FencingOptions.skewMs}, for the clocks of two processes, to the
 *    end of the term plus {@link FencingOptions.graceMs}, for a request in flight). A term ends
 *    at `no longer leading` or at the process's exit.
 * 2. **Terms do not interleave**: in the order the proxy received them, the requests' terms
 *    (epochs: the candidates' sequence numbers, which grow with every leader) never go back. Once
 *    a request of epoch 7 has arrived, nothing of epoch 5 may follow, whatever the clocks say. A
 *    request's term is its sender's latest term begun before it arrived.
 *
 * Requests are named by sender: each monitor process sends its own bearer token (`m0-1`), or, in
 * whole-state mode, logs in as a user of its own (`m0-1`), whose name is its tokens' subject
 * (`fleet_checks.ts`, `sentRequests`: `/configuration` pushes count as requests).
 *
 * @module
 */

/** One leadership term of one monitor process. */
export interface LeadershipTerm {
  /** The process's token (MONITOR_ID), e.g. `m0-1`. */
  sender: string;
  /** The candidate's sequence number. */
  epoch: number;
  /** Wall-clock ms of the `leading` line. */
  from: number;
  /** Wall-clock ms of `no longer leading` or of the exit; `Infinity` while it runs. */
  until: number;
}

/** One request the proxy received. */
export interface SentRequest {
  /** Wall-clock ms of its arrival. */
  at: number;
  /** The token it carried (`Bearer m0-1` → `m0-1`); `undefined` when none. */
  sender: string | undefined;
  /** For the report: `add ep0/c1-s0`. */
  what: string;
}

/** Options of {@link checkFencing}. */
export interface FencingOptions {
  /** How late after its term a request may arrive (in flight when the term ended). */
  graceMs: number;
  /** How early before its `leading` line a request may seem to arrive (two processes' clocks). */
  skewMs: number;
  /** Violations listed at most (the count is always exact). */
  limit?: number;
}

/**
 * The terms in the log lines (JSON lines, as a monitor writes them to a pipe) of one process.
 * A term still open at the end closes at `exitedAt` (wall-clock ms; `Infinity`: still running).
 */
export function leadershipTerms(
  sender: string,
  lines: readonly string[],
  exitedAt: number,
): LeadershipTerm[] {
  const terms: LeadershipTerm[] = [];
  let open: LeadershipTerm | undefined;
  for (const line of lines) {
    if (!line.includes("zkcm.election")) continue;
    let record: { "@timestamp"?: string; message?: string; logger?: string };
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (record.logger !== "zkcm.election" || typeof record.message !== "string") continue;
    const at = Date.parse(record["@timestamp"] ?? "");
    if (Number.isNaN(at)) continue;
    const leading = /^leading, epoch (\d+)$/.exec(record.message);
    if (leading) {
      if (open) open.until = at;
      open = { sender, epoch: Number(leading[1]), from: at, until: Infinity };
      terms.push(open);
    } else if (record.message.includes("no longer leading") && open) {
      open.until = at;
      open = undefined;
    }
  }
  if (open) open.until = exitedAt;
  return terms;
}

/** The sender of an `Authorization` header (`Bearer m0-1` → `m0-1`). */
export function senderOf(authorization: string | null): string | undefined {
  const match = /^Bearer (.+)$/.exec(authorization ?? "");
  return match?.[1];
}

/** Checks rules 1 and 2 of the module documentation; returns the violations, one line each. */
export function checkFencing(
  requests: readonly SentRequest[],
  terms: readonly LeadershipTerm[],
  options: FencingOptions,
): { violations: string[]; count: number } {
  const limit = options.limit ?? 20;
  const violations: string[] = [];
  let count = 0;
  const report = (line: string) => {
    count++;
    if (violations.length < limit) violations.push(line);
  };
  const bySender = new Map<string, LeadershipTerm[]>();
  for (const term of terms) {
    const list = bySender.get(term.sender) ?? [];
    list.push(term);
    bySender.set(term.sender, list);
  }
  for (const list of bySender.values()) list.sort((a, b) => a.from - b.from);

  const ordered = [...requests].sort((a, b) => a.at - b.at);
  let newest: { epoch: number; request: SentRequest } | undefined;
  for (const request of ordered) {
    const own = bySender.get(request.sender ?? "") ?? [];
    const within = own.some((term) =>
      request.at >= term.from - options.skewMs && request.at <= term.until + options.graceMs
    );
    if (!within) {
      report(
        `${request.what} from ${request.sender ?? "no token"} at ${clock(request.at)} arrived ` +
          `outside its sender's leadership terms (${describe(own)})`,
      );
      continue;
    }
    const term = own.findLast((term) => term.from - options.skewMs <= request.at)!;
    if (newest && term.epoch < newest.epoch) {
      report(
        `${request.what} from ${request.sender} (epoch ${term.epoch}) at ${clock(request.at)} ` +
          `arrived after ${newest.request.what} from ${newest.request.sender} (epoch ` +
          `${newest.epoch}) at ${clock(newest.request.at)}`,
      );
      continue;
    }
    if (!newest || term.epoch > newest.epoch) newest = { epoch: term.epoch, request };
  }
  return { violations, count };
}

function describe(terms: readonly LeadershipTerm[]): string {
  if (terms.length === 0) return "it never led";
  return terms.map((term) =>
    `epoch ${term.epoch} ${clock(term.from)}–${
      term.until === Infinity ? "running" : clock(term.until)
    }`
  ).join(", ");
}

/** `06:43:54.599` (UTC), as in the monitors' logs. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
