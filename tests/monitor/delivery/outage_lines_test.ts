/**
 * What the delivery queue says while its proxy is down: the first failure with its reason, then a
 * reminder at most every 30 s with the failures so far and the last reason (not a line per
 * attempt), and how long it lasted when the proxy answers again. Time is the queue's injected
 * clock: every request takes a second of it, so 30 s pass in about 30 attempts.
 */
import { reset as resetLogging } from "@logtape/logtape";
import { ProxyQueue } from "../../../src/monitor/delivery/proxy_queue.ts";
import type { DeliveryOutcome } from "../../../src/asabru/sender.ts";
import { configureLogging } from "../../../src/shared/logging.ts";
import { assert, assertEquals } from "../../../testing/assert.ts";
import { withTimeout } from "../../../testing/wait.ts";

interface Line {
  level: string;
  message: string;
}

async function delivered(outcome: "uncertain" | "not-sent"): Promise<Line[]> {
  const lines: Line[] = [];
  await configureLogging({
    level: "info",
    format: "json",
    write: (line) => lines.push(JSON.parse(line)),
  });
  try {
    let clock = 0;
    let attempts = 0;
    /** 65 failed attempts a second apart, then the proxy answers. */
    const send = (): Promise<DeliveryOutcome> => {
      clock += 1_000;
      attempts++;
      if (attempts > 65) return Promise.resolve({ kind: "ok", ms: 1 });
      return Promise.resolve(
        outcome === "uncertain"
          ? { kind: "uncertain", reason: `HTTP 500: down (#${attempts})`, ms: 1 }
          : { kind: "not-sent", reason: `connection refused (#${attempts})`, ms: 1 },
      );
    };
    const queue = new ProxyQueue({
      proxy: "http://proxy:8080/updateService",
      send,
      retryBaseMs: 2,
      retryMaxMs: 10,
      random: () => 0.5,
      // Every reading moves a millisecond, so a pause on this clock ends without real waiting.
      now: () => clock++,
    });
    queue.setWanted("ep/a", {
      ref: { endPoint: "ep", service: "a", host: "10.0.0.1", port: 9000 },
      version: 1n,
    });
    await withTimeout(queue.idle(), 10_000, "delivered once the proxy answers");
    await queue.stop();
  } finally {
    await resetLogging();
  }
  return lines.filter((line) => line.level !== "INFO" || /reachable/.test(line.message))
    .map(({ level, message }) => ({ level, message }));
}

const PROXY = "http://proxy:8080/updateService";

Deno.test("a proxy answering errors: one warning, a reminder per 30 s, how long it lasted", async () => {
  const lines = await delivered("uncertain");
  const unknown = (n: number) =>
    `outcome of add ep/a at ${PROXY} unknown (HTTP 500: down (#${n})): deleting before adding`;
  assertEquals(lines.slice(0, 2), [
    { level: "WARN", message: unknown(1) },
    { level: "WARN", message: `${PROXY} unreachable (HTTP 500: down (#1)); pausing` },
  ]);
  const reminders = lines.slice(2, -1).map((line) => {
    assertEquals(line.level, "WARN");
    const match = line.message.match(
      /^(\S+) still unreachable after (\d+) s and (\d+) failures; the last: HTTP 500: down \(#(\d+)\)$/,
    );
    assertEquals(match?.[1], PROXY, line.message);
    const [seconds, failures, last] = match!.slice(2).map(Number);
    assertEquals(last, failures, "the last reason is the latest attempt's");
    return { seconds, failures };
  });
  // A second of the clock per attempt: a reminder at 30 s and one at 60 s, none in between.
  assertEquals(reminders.length, 2, JSON.stringify(lines));
  assert(reminders[0].seconds >= 30 && reminders[0].seconds < 35, JSON.stringify(reminders));
  assert(reminders[1].seconds >= 60 && reminders[1].seconds < 65, JSON.stringify(reminders));
  assertEquals(lines.at(-1)?.level, "INFO");
  assertRecovery(lines.at(-1)!);
});

/** The last line: back after the 65 failed attempts, a second of the clock each. */
function assertRecovery(line: Line): void {
  const match = line.message.match(/^(\S+) reachable again after (\d+) s and (\d+) failures$/);
  assertEquals([match?.[1], match?.[3]], [PROXY, "65"], line.message);
  assert(Number(match![2]) >= 65, `the outage lasted 65 s or more: ${line.message}`);
}

Deno.test("a proxy refusing connections: the same, with the system's reason", async () => {
  const lines = await delivered("not-sent");
  assertEquals(lines[0], {
    level: "WARN",
    message: `${PROXY} unreachable (connection refused (#1)); pausing`,
  });
  assertEquals(lines.filter((line) => line.level === "WARN").length, 3, JSON.stringify(lines));
  assertRecovery(lines.at(-1)!);
});
