/**
 * The chaos run's reading of how each monitor's mirror watched (chaos/watch_modes.ts): against
 * ZooKeeper 3.8 every monitor should keep a recursive watch; a fallback the server cannot have
 * caused (UNIMPLEMENTED, the Keeper tell) fails the run, hang-ups in a row are only reported.
 */
import { mirrorWatchModes, watchModeFailures, watchModeLine } from "../../chaos/watch_modes.ts";
import { assertEquals, assertMatch } from "../../testing/assert.ts";

/** A line as the monitor writes it (LOG_FORMAT json, `src/shared/logging.ts`). */
const line = (level: string, message: string, properties: Record<string, string> = {}) =>
  JSON.stringify({
    "@timestamp": "2026-12-03T13:00:00.000Z",
    level,
    message,
    logger: "zkcm.mirror",
    root: "/cluster1",
    ...properties,
  });
const recursive = line(
  "INFO",
  "mirror of /cluster1: one persistent recursive watch (addWatch, multiRead)",
);
const fellBack = (reason: string, level = "INFO") =>
  line(level, `mirror of /cluster1: one-shot watches from now on, because ${reason}`, { reason });
const synced = line("INFO", "mirror of /cluster1 synced: 3 services in 2 end points (4 ms, x)");

const HANG_UPS = "the server hung up on addWatch 2 times in a row";
const UNIMPLEMENTED = "the server does not know multiRead (UNIMPLEMENTED)";
const KEEPER = "an event named the watched root /cluster1 (dataChanged) for a change the root " +
  "did not have: this server's recursive-watch events do not say which node changed " +
  "(ClickHouse Keeper, ClickHouse issue 115475)";

Deno.test("chaos watch modes: each process's mode from its log; only a recursive watch passes", () => {
  const modes = mirrorWatchModes([
    { sender: "m0-1", lines: [recursive, synced] },
    { sender: "m1-1", lines: [fellBack(HANG_UPS), synced] },
    { sender: "m2-1", lines: [fellBack(UNIMPLEMENTED), synced] },
    { sender: "m0-2", lines: [] },
  ]);
  assertEquals(modes, {
    recursive: ["m0-1"],
    fellBack: [{ sender: "m1-1", reason: HANG_UPS }, { sender: "m2-1", reason: UNIMPLEMENTED }],
    neither: ["m0-2"],
  });
  // Hang-ups in a row may be a member killed twice as the monitor started: reported only.
  assertEquals(watchModeFailures(modes), [
    `monitor m2-1 fell back to one-shot watches against ZooKeeper 3.8: ${UNIMPLEMENTED}`,
  ]);
  assertMatch(watchModeLine(modes), /^mirror watch mode: 1 of 4 monitor processes kept a /);
  assertMatch(watchModeLine(modes), /m1-1 \(the server hung up on addWatch 2 times in a row\)/);
});

Deno.test("chaos watch modes: a fallback after a recursive watch (the Keeper tell) counts as a fallback, and fails", () => {
  const modes = mirrorWatchModes([
    { sender: "m0-1", lines: [recursive, synced, fellBack(KEEPER, "WARN")] },
  ]);
  assertEquals(modes, {
    recursive: [],
    fellBack: [{ sender: "m0-1", reason: KEEPER }],
    neither: [],
  });
  assertEquals(watchModeFailures(modes).length, 1);
});

Deno.test("chaos watch modes: a text line's reason is what follows 'because'", () => {
  const text = `2026-12-03 13:00:00.000 +00:00 [INF] zkcm·mirror: mirror of /cluster1: one-shot ` +
    `watches from now on, because ${UNIMPLEMENTED}`;
  assertEquals(mirrorWatchModes([{ sender: "m0-1", lines: [text] }]).fellBack, [
    { sender: "m0-1", reason: UNIMPLEMENTED },
  ]);
});
