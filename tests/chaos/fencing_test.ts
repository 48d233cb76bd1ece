/**
 * The chaos run's fencing check (chaos/fencing.ts) over made-up logs and request logs: it must
 * pass a clean handover (an in-flight request of the old leader arriving late, but before the new
 * leader's first) and catch a leader that keeps sending after it lost leadership.
 */
import { checkFencing, leadershipTerms, senderOf } from "../../chaos/fencing.ts";
import { sentRequests } from "../../chaos/fleet_checks.ts";
import { asabruConfigXml } from "../../testing/asabru_config.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { rawExchange, rawPost } from "../../testing/raw_http_client.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");

function line(ms: number, logger: string, message: string): string {
  return JSON.stringify({
    "@timestamp": new Date(T0 + ms).toISOString(),
    level: "INFO",
    message,
    logger,
  });
}

const options = { graceMs: 1300, skewMs: 50 };

Deno.test("leadership terms come from the election's log lines; an open term ends at the exit", () => {
  const lines = [
    line(0, "zkcm.monitor", "watching /cluster1"),
    line(100, "zkcm.election", "joined the election as candidate-0000000003"),
    line(110, "zkcm.election", "leading, epoch 3"),
    line(2000, "zkcm.election", "ZooKeeper connection suspended: no longer leading (epoch 3)"),
    "not json at all",
    line(2500, "zkcm.election", "leading, epoch 3"),
  ];
  assertEquals(leadershipTerms("m0-1", lines, T0 + 9000), [
    { sender: "m0-1", epoch: 3, from: T0 + 110, until: T0 + 2000 },
    { sender: "m0-1", epoch: 3, from: T0 + 2500, until: T0 + 9000 },
  ]);
  assertEquals(senderOf("Bearer m0-1"), "m0-1");
  assertEquals(senderOf(null), undefined);
});

Deno.test("a handover with a late in-flight request of the old leader keeps the fencing rules", () => {
  const terms = [
    { sender: "m0-1", epoch: 0, from: T0, until: T0 + 5000 },
    { sender: "m1-1", epoch: 1, from: T0 + 6000, until: Infinity },
  ];
  const requests = [
    { at: T0 + 10, sender: "m0-1", what: "add a" },
    { at: T0 + 5200, sender: "m0-1", what: "add b" }, // in flight when the term ended
    { at: T0 + 6050, sender: "m1-1", what: "delete a" },
    { at: T0 + 6301, sender: "m1-1", what: "add a" },
  ];
  assertEquals(checkFencing(requests, terms, options), { violations: [], count: 0 });
});

Deno.test("the fencing check catches a deposed leader that keeps sending", () => {
  const terms = [
    { sender: "m0-1", epoch: 0, from: T0, until: T0 + 5000 },
    { sender: "m1-1", epoch: 1, from: T0 + 6000, until: Infinity },
  ];
  // Within the grace after its term, but after the new leader's first request: rule 2.
  const interleaved = checkFencing(
    [
      { at: T0 + 6050, sender: "m1-1", what: "delete a" },
      { at: T0 + 5900, sender: "m0-1", what: "add z" },
      { at: T0 + 6100, sender: "m0-1", what: "add b" },
    ],
    terms,
    options,
  );
  assertEquals(interleaved.count, 1);
  assertEquals(interleaved.violations[0].startsWith("add b from m0-1 (epoch 0)"), true);
  // Long after its term: rule 1.
  const late = checkFencing([{ at: T0 + 7000, sender: "m0-1", what: "add c" }], terms, options);
  assertEquals(late.count, 1);
  assertEquals(late.violations[0].includes("outside its sender's leadership terms"), true);
  // A monitor that never led, and a request without a token.
  const strangers = checkFencing(
    [
      { at: T0 + 10, sender: "m2-1", what: "add d" },
      { at: T0 + 20, sender: undefined, what: "add e" },
    ],
    terms,
    options,
  );
  assertEquals(strangers.count, 2);
});

Deno.test("a leader that regains leadership in a new term may send again after another's term", () => {
  const terms = [
    { sender: "m0-1", epoch: 0, from: T0, until: T0 + 2000 },
    { sender: "m1-1", epoch: 1, from: T0 + 3000, until: T0 + 4000 },
    { sender: "m0-1", epoch: 2, from: T0 + 5000, until: Infinity },
  ];
  const requests = [
    { at: T0 + 100, sender: "m0-1", what: "add a" },
    { at: T0 + 3400, sender: "m1-1", what: "add b" },
    { at: T0 + 5400, sender: "m0-1", what: "add c" },
  ];
  assertEquals(checkFencing(requests, terms, options).count, 0);
});

Deno.test("whole state: each monitor's pushes are named by its own login, so a deposed leader's late push is caught", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config: asabruConfigXml({ a: [] }),
    users: {},
    firstByteMs: 2000,
  });
  const tokens = new Map<string, string>();
  for (const sender of ["m0-1", "m1-1"]) {
    proxy.addUser(sender, `${sender}-secret`);
    const answer = await rawExchange(
      proxy.port,
      rawPost("/auth/login", JSON.stringify({ username: sender, password: `${sender}-secret` })),
      { halfClose: true },
    );
    tokens.set(sender, JSON.parse(answer.body).token);
  }
  const push = async (sender: string) => {
    const body = asabruConfigXml({ a: [{ service: "s", host: "h", port: 1 }] });
    const headers = { Authorization: `Bearer ${tokens.get(sender)}` };
    const answer = await rawExchange(proxy.port, rawPost("/configuration", body, headers), {
      halfClose: true,
    });
    assertEquals(answer.status, 200);
  };
  await push("m0-1");
  await push("m1-1");
  await push("m0-1"); // the old leader, after its successor pushed

  const sent = sentRequests(proxy);
  assertEquals(sent.map((request) => request.sender), ["m0-1", "m1-1", "m0-1"]);
  // The old leader's term ended before its successor's began; its late push is within the grace.
  const [first, second, late] = sent.map((request) => request.at);
  const terms = [
    { sender: "m0-1", epoch: 0, from: first - 100, until: first + 1 },
    { sender: "m1-1", epoch: 1, from: second - 1, until: Infinity },
  ];
  const checked = checkFencing(sent, terms, { graceMs: late - first + 1000, skewMs: 50 });
  assertEquals(checked.count, 1);
  assert(
    checked.violations[0].startsWith("push #") &&
      checked.violations[0].includes("from m0-1 (epoch 0)"),
    checked.violations[0],
  );
});
