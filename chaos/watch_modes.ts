/**
 * How each monitor process of a chaos run watched ZooKeeper, from its own log: the ensemble is
 * ZooKeeper 3.8, which has `addWatch` and `multiRead`, so every monitor's mirror should say it
 * keeps one persistent recursive watch (`src/monitor/tree_mirror.ts`). A run whose monitors fell
 * back to one-shot watches tested the classic mode, not the new one: the report says so.
 *
 * Why a fallback is or is not a failure: the server answering UNIMPLEMENTED, or an event naming
 * the root for a change below it (ClickHouse Keeper's tell), cannot happen with ZooKeeper 3.8, so
 * such a fallback is a bug. Hang-ups in a row right after `addWatch` or `multiRead` can: a member
 * killed twice just as a starting monitor sent one (the mirror's documented trade-off); those are
 * reported, not failed.
 *
 * @module
 */

/** A monitor process's log, as the chaos run kept it. */
export interface MonitorLog {
  /** `m<slot>-<n>` */
  sender: string;
  lines: readonly string[];
}

/** What the monitors' logs say about how their mirrors watched. */
export interface WatchModes {
  /** Processes whose mirror said it keeps one persistent recursive watch. */
  recursive: string[];
  /** Processes whose mirror switched to one-shot watches, and the reason it gave. */
  fellBack: { sender: string; reason: string }[];
  /** Processes that said neither (killed before their first full read, for instance). */
  neither: string[];
}

const RECURSIVE = "one persistent recursive watch";
const FELL_BACK = "one-shot watches from now on";

/** Reads every process's log; see {@link WatchModes}. */
export function mirrorWatchModes(logs: readonly MonitorLog[]): WatchModes {
  const modes: WatchModes = { recursive: [], fellBack: [], neither: [] };
  for (const { sender, lines } of logs) {
    // A fallback is for good: it counts even after a recursive watch (the Keeper tell comes so).
    const fallback = lines.find((line) => line.includes(FELL_BACK));
    if (fallback !== undefined) modes.fellBack.push({ sender, reason: reasonOf(fallback) });
    else if (lines.some((line) => line.includes(RECURSIVE))) modes.recursive.push(sender);
    else modes.neither.push(sender);
  }
  return modes;
}

/** The fallbacks that cannot happen against a real ZooKeeper 3.8 (see the module notes). */
export function watchModeFailures(modes: WatchModes): string[] {
  return modes.fellBack
    .filter(({ reason }) => !/^the server hung up on \w+ \d+ times in a row$/.test(reason))
    .map(({ sender, reason }) =>
      `monitor ${sender} fell back to one-shot watches against ZooKeeper 3.8: ${reason}`
    );
}

/** The report's line. */
export function watchModeLine(modes: WatchModes): string {
  const total = modes.recursive.length + modes.fellBack.length + modes.neither.length;
  const fellBack = modes.fellBack.map(({ sender, reason }) => `${sender} (${reason})`);
  return `mirror watch mode: ${modes.recursive.length} of ${total} monitor processes kept a ` +
    `recursive watch` +
    (modes.recursive.length === 0 ? "" : ` (${modes.recursive.join(", ")})`) +
    `; fell back to one-shot watches: ${fellBack.length === 0 ? "none" : fellBack.join(", ")}` +
    (modes.neither.length === 0 ? "" : `; said neither: ${modes.neither.join(", ")}`);
}

/** The `reason` of a JSON log line, or the text after "because " in any other line. */
function reasonOf(line: string): string {
  try {
    const record = JSON.parse(line);
    if (typeof record?.reason === "string") return record.reason;
  } catch {
    // a text line: below
  }
  const at = line.indexOf("because ");
  return at === -1 ? line : line.slice(at + "because ".length);
}
