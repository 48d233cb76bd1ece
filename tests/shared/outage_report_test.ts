/**
 * The rate-limited account of an outage, as decisions over plain data and a clock the test moves:
 * the first failure is said at once, then at most one reminder per interval, and the recovery
 * says how long it lasted.
 */
import { OUTAGE_REMINDER_MS, OutageReport } from "../../src/shared/outage_report.ts";
import {
  noticeMessage,
  noticeProperties,
  readinessReason,
} from "../../src/session/reachability.ts";
import type { ZkConnectionFailure } from "../../src/zookeeper/mod.ts";
import { assertEquals } from "../../testing/assert.ts";

function clock(start = 1_000) {
  const time = { now: start };
  return { time, now: () => time.now };
}

const refused = (n: number): ZkConnectionFailure => ({
  server: "127.0.0.1:2181",
  kind: "refused",
  reason: `connect ECONNREFUSED 127.0.0.1:2181 (#${n})`,
});

Deno.test("the first failure of an outage is said at once, with its reason", () => {
  const { now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ now });
  assertEquals(report.outage, undefined);
  assertEquals(report.failed(refused(1)), {
    first: true,
    attempts: 1,
    downForMs: 0,
    last: refused(1),
    flaps: 0,
  });
});

Deno.test("attempts in a loop: one reminder per interval, with the count and the last reason", () => {
  const { time, now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ reminderEveryMs: 1_000, now });
  const said: { at: number; first: boolean; attempts: number; reason: string }[] = [];
  // An attempt every 100 ms for 3.05 s: 31 attempts.
  for (let attempt = 1; attempt <= 31; attempt++) {
    const notice = report.failed(refused(attempt));
    if (notice) {
      said.push({
        at: time.now - 1_000,
        first: notice.first,
        attempts: notice.attempts,
        reason: notice.last.reason,
      });
    }
    time.now += 100;
  }
  assertEquals(said, [
    { at: 0, first: true, attempts: 1, reason: refused(1).reason },
    { at: 1_000, first: false, attempts: 11, reason: refused(11).reason },
    { at: 2_000, first: false, attempts: 21, reason: refused(21).reason },
    { at: 3_000, first: false, attempts: 31, reason: refused(31).reason },
  ]);
  assertEquals(report.outage?.attempts, 31);
});

Deno.test("the programs' reminder interval is 30 s", () => {
  const { time, now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ now });
  assertEquals(OUTAGE_REMINDER_MS, 30_000);
  report.failed(refused(1));
  time.now += 29_999;
  assertEquals(report.failed(refused(2)), undefined);
  time.now += 1;
  assertEquals(report.failed(refused(3))?.first, false);
});

Deno.test("the recovery says how long since the loss, and the next failure is a first again", () => {
  const { time, now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ reminderEveryMs: 1_000, now });
  report.lost(); // the connection dropped; the first attempt fails a little later
  time.now += 250;
  report.failed(refused(1));
  time.now += 500;
  report.lost(); // still the same outage: its start does not move
  report.failed(refused(2));
  time.now += 250;
  assertEquals(report.recovered(), {
    downForMs: 1_000,
    attempts: 2,
    last: refused(2),
    quiet: false,
  });
  assertEquals(report.outage, undefined);
  assertEquals(report.recovered(), undefined, "no outage, nothing to say");

  // The recovery lasted as long as the interval since the last warning: not a flap.
  time.now += 1_000;
  assertEquals(report.failed(refused(3))?.first, true, "a new outage is said at once");
});

Deno.test("a flapping dependency: a warning and a recovery per interval, the flaps counted", () => {
  const { time, now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ reminderEveryMs: 30_000, now });
  const said: string[] = [];
  // Established at 0, then lost after 500 ms and back 500 ms later, every second, for 65 s.
  report.lost();
  for (let second = 0; second < 65; second++) {
    const ended = report.recovered();
    if (ended && !ended.quiet) said.push(`${time.now - 1_000} recovered`);
    time.now += 500;
    report.lost();
    const notice = report.failed(refused(second));
    if (notice) said.push(`${time.now - 1_000} warned first=${notice.first} flaps=${notice.flaps}`);
    time.now += 500;
  }
  assertEquals(said, [
    "0 recovered",
    "500 warned first=true flaps=0",
    "1000 recovered",
    // The recoveries at 2 s to 30 s were quiet: 29 flaps.
    "30500 warned first=true flaps=29",
    "31000 recovered",
    "60500 warned first=true flaps=29",
    "61000 recovered",
  ]);
});

Deno.test("after a recovery that lasted the interval, the next warning is said at once", () => {
  const { time, now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ reminderEveryMs: 30_000, now });
  report.failed(refused(1));
  time.now += 1_000;
  assertEquals(report.recovered()?.quiet, false, "an outage that warned: its recovery is said");
  time.now += 30_000;
  assertEquals(report.failed(refused(2)), {
    first: true,
    attempts: 1,
    downForMs: 0,
    last: refused(2),
    flaps: 0,
  });
});

Deno.test("a recovery before any failed attempt counts none", () => {
  const { time, now } = clock();
  const report = new OutageReport<ZkConnectionFailure>({ now });
  report.lost();
  time.now += 40;
  assertEquals(report.recovered(), { downForMs: 40, attempts: 0, last: undefined, quiet: false });
});

Deno.test("the lines: the server and the system's reason; a reminder with count and duration", () => {
  const first = { first: true, attempts: 1, downForMs: 0, last: refused(1), flaps: 0 };
  assertEquals(
    noticeMessage(first),
    "ZooKeeper server {server} refused the connection: {reason}",
  );
  const reminder = {
    first: false,
    flaps: 0,
    attempts: 120,
    downForMs: 30_400,
    last: {
      server: "zk.invalid:2181",
      kind: "unresolved" as const,
      reason: "getaddrinfo ENOTFOUND",
    },
  };
  assertEquals(
    noticeMessage(reminder),
    "still no ZooKeeper session after {seconds} s and {attempts} failed attempts; the last: " +
      "the name of ZooKeeper server {server} does not resolve: {reason}",
  );
  assertEquals(noticeProperties(reminder), {
    server: "zk.invalid:2181",
    kind: "unresolved",
    reason: "getaddrinfo ENOTFOUND",
    attempts: 120,
    seconds: 30,
  });
});

Deno.test("a warning after flaps says how many", () => {
  const notice = { first: true, attempts: 1, downForMs: 0, last: refused(1), flaps: 29 };
  assertEquals(
    noticeMessage(notice),
    "ZooKeeper server {server} refused the connection: {reason}; the session came back and " +
      "was lost again {flaps} times since the last warning",
  );
  assertEquals(noticeProperties(notice).flaps, 29);
});

Deno.test("/readyz's reason: none while connected; otherwise state, duration and last failure", () => {
  const outage = { since: 1_000, attempts: 7, last: refused(7) };
  assertEquals(readinessReason("connected", undefined, 5_000), undefined);
  assertEquals(
    readinessReason("connecting", outage, 13_400),
    "ZooKeeper session connecting for 12 s, 7 failed attempts; the last at 127.0.0.1:2181: " +
      "connect ECONNREFUSED 127.0.0.1:2181 (#7) (refused)",
  );
  assertEquals(
    readinessReason("suspended", { since: 1_000, attempts: 0 }, 1_200),
    "ZooKeeper session suspended for 0 s",
  );
});
