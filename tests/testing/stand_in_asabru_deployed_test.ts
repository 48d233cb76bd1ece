// The deployed-behaviour stand-in must behave as the proxy users run does (issue 15, every fact
// observed on the real one), or the monitor's tests against it prove nothing.
import { decodeJwt } from "jose";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { PARSE_ERRORS, StandInAsabru, UPDATED } from "../../testing/stand_in_asabru.ts";
import { asabruConfigXml } from "../../testing/asabru_config.ts";
import { rawExchange, rawPost } from "../../testing/raw_http_client.ts";
import { waitFor, withTimeout } from "../../testing/wait.ts";

function update(op: string, endPoint: string, service: string, host = "h", port = "1"): string {
  return `<end_point name="${endPoint}">\n  <operation>${op}</operation>\n` +
    `  <service name="${service}"><host>${host}</host><port>${port}</port></service>\n</end_point>`;
}

/**
 * The client and the stand-in share this process, on a machine shared with other work: a request
 * written more than 10 ms after its connect would be closed on unread, as the proxy does, which is
 * not what these tests are about (the sender's tests are).
 */
const SHARED_PROCESS_MS = 2000;

const post = (proxy: StandInAsabru, body: string, headers: Record<string, string> = {}) =>
  rawExchange(proxy.port, rawPost("/updateService", body, headers), { halfClose: true });

Deno.test("deployed: one text answer then close; add appends, delete removes nothing", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    endPoints: ["e1"],
    firstByteMs: SHARED_PROCESS_MS,
  });

  const added = await post(proxy, update("add", "e1", "s1"));
  assertEquals([added.status, added.body], [200, UPDATED]);
  assert(!added.headerNames.includes("connection"), "no Connection header");
  assertEquals(added.headerNames.includes("content-type"), true);
  await post(proxy, update("add", "e1", "s1", "h", "2"));
  assertEquals(proxy.list("e1"), [
    { service: "s1", host: "h", port: 1 },
    { service: "s1", host: "h", port: 2 },
  ]);
  assertEquals(proxy.duplicates(), ["e1/s1"]);

  // A delete, an unknown end point and an unknown operation: all "updated", nothing changes.
  for (
    const body of [update("delete", "e1", "s1"), update("add", "e9", "s"), update("x", "e1", "s")]
  ) {
    assertEquals((await post(proxy, body)).body, UPDATED);
  }
  assertEquals(proxy.list("e1").length, 2);
  assertEquals(proxy.snapshot().has("e9"), false);
  assertEquals(proxy.requests.map((r) => [r.op, r.endPoint, r.applied]), [
    ["add", "e1", true],
    ["add", "e1", true],
    ["delete", "e1", false],
    ["add", "e9", false],
  ]);
  assertEquals(proxy.malformed, 0);
});

Deno.test("deployed: without a half-close the request ends after 10 ms idle; a second is lost", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    firstByteMs: SHARED_PROCESS_MS,
  });

  const started = performance.now();
  const answer = await rawExchange(proxy.port, rawPost("/updateService", update("add", "e", "a")), {
    then: rawPost("/updateService", update("add", "e", "b")),
  });
  assertEquals(answer.status, 200);
  assert(performance.now() - started >= 10, "the proxy waited for the client to be idle");
  // The answer is the only one: the connection closed after it, and "b" never arrived.
  assertEquals(answer.text.split("HTTP/1.1").length, 2);
  assertEquals(proxy.list("e").map((entry) => entry.service), ["a"]);
});

Deno.test("deployed: two requests in one write: only the first is applied", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    firstByteMs: SHARED_PROCESS_MS,
  });
  const both = rawPost("/updateService", update("add", "e", "first")) +
    rawPost("/updateService", update("add", "e", "second"));
  const answer = await rawExchange(proxy.port, both, { halfClose: true });
  assertEquals(answer.body, UPDATED);
  assertEquals(proxy.list("e").map((entry) => entry.service), ["first"]);
});

Deno.test("deployed: unreadable updates get the proxy's 500 texts and apply nothing", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    firstByteMs: SHARED_PROCESS_MS,
  });
  const cases: [string, string][] = [
    ["not xml at all", PARSE_ERRORS.document],
    ["<other/>", PARSE_ERRORS.document],
    [
      '<end_point name="e"><service name="s"><host>h</host><port>1</port></service></end_point>',
      PARSE_ERRORS.element,
    ],
    [update("add", "e", "s", "h", "eighty"), PARSE_ERRORS.port],
  ];
  for (const [body, text] of cases) {
    const answer = await post(proxy, body);
    assertEquals([answer.status, answer.body], [500, text], body);
  }
  assertEquals(proxy.snapshot(), new Map());
  assertEquals(proxy.malformed, cases.length);
  assertEquals(proxy.crashes, 0);
});

Deno.test("deployed: a request without names, <service> or host crashes it; it restarts with its static services", async () => {
  const config = asabruConfigXml({ e: [{ service: "static1", host: "127.0.0.1", port: 8123 }] });
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config,
    restartMs: 100,
    firstByteMs: SHARED_PROCESS_MS,
  });
  const crashing = [
    update("add", "", "s"),
    update("add", "e", ""),
    update("add", "e", "s", ""),
    '<end_point name="e"><operation>add</operation></end_point>',
  ];
  for (const [index, body] of crashing.entries()) {
    await post(proxy, update("add", "e", `run-time${index}`));
    assertEquals(proxy.list("e").length, 2);
    const answer = await post(proxy, body);
    assertEquals(answer.status, 0, `no answer: it crashed on ${body}`);
    // While it restarts, connections are refused.
    const refused = await rawExchange(
      proxy.port,
      rawPost("/updateService", update("add", "e", "x")),
    )
      .then(() => false, (error) => error instanceof Deno.errors.ConnectionRefused);
    assert(refused, "refused during the restart window");
    await withTimeout(proxy.settled(), 2000, "the restart");
    assertEquals(proxy.list("e"), [{ service: "static1", host: "127.0.0.1", port: 8123 }]);
  }
  assertEquals(proxy.crashes, crashing.length);
  assertEquals(proxy.history.filter((r) => r.kind === "crash").length, crashing.length);
  assertMatch(proxy.malformedReasons.join("\n"), /crash: an empty <host>/);
});

Deno.test("deployed: login issues an HS256 token for an hour; 401 without, with a wrong or expired one", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    users: { monitor: "pa55" },
    firstByteMs: SHARED_PROCESS_MS,
  });
  const login = (username: string, password: string) =>
    rawExchange(
      proxy.port,
      rawPost("/auth/login", JSON.stringify({ username, password }), {
        "Content-Type": "application/json",
      }),
      { halfClose: true },
    );

  assertEquals((await post(proxy, update("add", "e", "s"))).body, "Unauthorized");
  assertEquals((await login("monitor", "wrong")).status, 401);
  const answer = await login("monitor", "pa55");
  assertEquals(answer.status, 200);
  const { token } = JSON.parse(answer.body);
  const payload = decodeJwt(token);
  const lifeSeconds = payload.exp! - Math.floor(Date.now() / 1000);
  assert(lifeSeconds > 3590 && lifeSeconds <= 3601, `exp one hour ahead, got ${lifeSeconds} s`);

  const bearer = { Authorization: `Bearer ${token}` };
  assertEquals((await post(proxy, update("add", "e", "s"), bearer)).body, UPDATED);
  assertEquals(
    (await post(proxy, update("add", "e", "t"), { Authorization: "Bearer x.y.z" })).status,
    401,
  );

  // The token survives a restart (the secret is the same), and not its expiry.
  proxy.restartEmpty();
  await proxy.settled();
  assertEquals((await post(proxy, update("add", "e", "u"), bearer)).status, 200);
  proxy.expireTokens();
  assertEquals((await post(proxy, update("add", "e", "v"), bearer)).status, 401);
  assertEquals(proxy.list("e").map((entry) => entry.service), ["u"]);
  assertEquals(proxy.auth, { logins: 1, refusedLogins: 1, unauthorized: 3 });
});

Deno.test("deployed: a token expires at its exp (tokenTtlMs)", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    users: { u: "p" },
    tokenTtlMs: 1000,
    firstByteMs: SHARED_PROCESS_MS,
  });
  const token = await proxy.issueToken("u");
  const exp = decodeJwt(token).exp! * 1000;
  const bearer = { Authorization: `Bearer ${token}` };
  assertEquals((await post(proxy, update("add", "e", "s"), bearer)).status, 200);
  // Wait on the condition itself: the token's exp has passed by the clock.
  while (Date.now() < exp + 5) {
    await new Promise((resolve) => setTimeout(resolve, exp + 5 - Date.now()));
  }
  assertEquals((await post(proxy, update("add", "e", "s"), bearer)).status, 401);
});

Deno.test("deployed: /configuration replaces every list (removals work), idempotent, lenient", async () => {
  const config = asabruConfigXml({ a: [{ service: "static", host: "h", port: 1 }], b: [] });
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config,
    firstByteMs: SHARED_PROCESS_MS,
  });
  const configure = (body: string) =>
    rawExchange(proxy.port, rawPost("/configuration", body), { halfClose: true });
  await post(proxy, update("add", "a", "run-time"));

  const wanted = asabruConfigXml({
    a: [{ service: "s1", host: "h1", port: 11 }],
    b: [{ service: "s2", host: "h2", port: 12 }, { service: "s3", host: "h3", port: 13 }],
  });
  for (let round = 0; round < 2; round++) {
    assertEquals((await configure(wanted)).body, UPDATED);
    assertEquals(
      proxy.snapshot(),
      new Map([
        ["a", [{ service: "s1", host: "h1", port: 11 }]],
        ["b", [{ service: "s2", host: "h2", port: 12 }, { service: "s3", host: "h3", port: 13 }]],
      ]),
    );
  }
  // A body it cannot parse: "updated", nothing changes.
  assertEquals((await configure("<clickhouse-proxy-v2><oops>")).body, UPDATED);
  assertEquals(proxy.list("a").length, 1);
  assertEquals(proxy.everDuplicated(), []);
  assertEquals(proxy.crashes, 0);
});

Deno.test("deployed: /configuration crashes it for an unknown end point, no protocol-server-config, or (at the next data-plane request) an empty list", async () => {
  const config = asabruConfigXml({ a: [{ service: "static", host: "h", port: 1 }] });
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config,
    firstByteMs: SHARED_PROCESS_MS,
  });
  const configure = async (body: string) => {
    const answer = await rawExchange(proxy.port, rawPost("/configuration", body), {
      halfClose: true,
    });
    await proxy.settled();
    return answer.status;
  };
  assertEquals(
    await configure(asabruConfigXml({ zzz: [{ service: "s", host: "h", port: 1 }] })),
    0,
  );
  assertEquals(
    await configure(asabruConfigXml({ a: [{ service: "s", host: "h", port: 1 }] }, {
      withoutProtocolServerConfig: true,
    })),
    0,
  );
  assertEquals(proxy.crashes, 2);

  assertEquals(await configure(asabruConfigXml({ a: [] })), 200);
  assertEquals(proxy.crashes, 2, "an empty list is accepted...");
  assertEquals(proxy.dataPlaneRequest("a"), "crashed");
  assertEquals(proxy.crashes, 3, "...and crashes it at the next data-plane request");
  await proxy.settled();
  assertEquals(proxy.dataPlaneRequest("a"), { service: "static", host: "h", port: 1 });
});

Deno.test("deployed: more than 5 connects waiting at once overflow the backlog", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    idleMs: 300,
    overflowStallMs: 50,
  });
  // Ten connections that send nothing: the worker waits out each one's idle time in turn.
  const conns = await Promise.all(
    Array.from({ length: 10 }, () => Deno.connect({ hostname: "127.0.0.1", port: proxy.port })),
  );
  try {
    await waitFor(() => proxy.backlogOverflows > 0, 5000, "an overflow of the backlog", 5);
    assert(proxy.mostWaiting <= 5, `at most 5 wait, got ${proxy.mostWaiting}`);
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("both behaviours: the history keeps a duplicate that a later request removed", async () => {
  for (const behaviour of ["documented", "deployed"] as const) {
    await using proxy = await StandInAsabru.start({ behaviour, firstByteMs: SHARED_PROCESS_MS });
    using client = Deno.createHttpClient({});
    const send = (body: string) =>
      behaviour === "deployed"
        ? post(proxy, body)
        : fetch(proxy.url, { method: "POST", body, client }).then((r) => r.text());
    await send(update("add", "e", "s"));
    await send(update("add", "e", "s"));
    if (behaviour === "documented") await send(update("delete", "e", "s"));
    else {
      const only = asabruConfigXml({ e: [{ service: "s", host: "h", port: 1 }] });
      await rawExchange(proxy.port, rawPost("/configuration", only), { halfClose: true });
    }
    assertEquals(proxy.duplicates(), [], behaviour);
    assertEquals(proxy.everDuplicated(), ["e/s"], behaviour);
    const second = proxy.history.findIndex((record, index) =>
      index > 0 && record.kind === "/updateService"
    );
    assertEquals(proxy.tableAfter(second).get("e")?.length, 2, behaviour);
    assertEquals(proxy.history[second].duplicatesAfter, ["e/s"]);
  }
});

Deno.test("deployed: a restart while an apply-then-hang answer is held drops it; setMode and close() still end", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    restartMs: 50,
    firstByteMs: SHARED_PROCESS_MS,
  });
  // Each wait only catches a hang (the deadlock this test is about): 2 s was as much a speed bound
  // on a loaded machine, where a restart of 50 ms and a few loopback requests can take seconds.
  const hangMs = 15_000;
  await proxy.setMode("apply-then-hang");
  const arrived = proxy.nextRequest();
  const answer = post(proxy, update("add", "e", "held"));
  await withTimeout(arrived, hangMs, "the add");

  // The chaos run's seed 104: a restart of the proxy while its one worker holds an answer. The
  // restart waits for the worker, which waited for a release only a later mode change gives.
  proxy.restartEmpty();
  await withTimeout(proxy.setMode("ok"), hangMs, "setMode(ok) after a restart with a held answer");
  await withTimeout(proxy.settled(), hangMs, "the restart");
  assertEquals(
    (await withTimeout(answer, hangMs, "the held client")).status,
    0,
    "no answer: it crashed",
  );
  assertEquals(proxy.list("e"), [], "the restart forgot the add");
  assertEquals((await post(proxy, update("add", "e", "after"))).status, 200);
  assertEquals(proxy.list("e").map((entry) => entry.service), ["after"]);
  await withTimeout(proxy.close(), hangMs, "close() after that restart");
});

Deno.test("deployed: users added at run time log in; the history names each request's token subject, a 401's too", async () => {
  const config = asabruConfigXml({ a: [] });
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config,
    users: {},
    firstByteMs: SHARED_PROCESS_MS,
  });
  const login = async (username: string, password: string) => {
    const answer = await rawExchange(
      proxy.port,
      rawPost("/auth/login", JSON.stringify({ username, password })),
      { halfClose: true },
    );
    return answer.status === 200 ? JSON.parse(answer.body).token as string : answer.status;
  };
  const configure = (token: string) =>
    rawExchange(
      proxy.port,
      rawPost("/configuration", asabruConfigXml({ a: [{ service: "s", host: "h", port: 1 }] }), {
        Authorization: `Bearer ${token}`,
      }),
      { halfClose: true },
    );

  assertEquals(await login("m0-1", "pw0"), 401, "nobody may log in before addUser");
  proxy.addUser("m0-1", "pw0");
  proxy.addUser("m1-1", "pw1");
  const first = await login("m0-1", "pw0");
  const second = await login("m1-1", "pw1");
  assert(typeof first === "string" && typeof second === "string", "both logged in");
  assertEquals((await configure(first)).status, 200);
  proxy.expireTokens();
  assertEquals((await configure(first)).status, 401);
  const third = await login("m1-1", "pw1");
  assert(typeof third === "string");
  assertEquals((await configure(third)).status, 200);
  assertEquals(
    proxy.history.filter((record) => record.kind === "/configuration")
      .map((record) => [record.status, record.tokenSubject]),
    [[200, "m0-1"], [401, "m0-1"], [200, "m1-1"]],
  );
  assertEquals(proxy.auth.logins, 3);
});

Deno.test("deployed: onPush reports a /configuration push once applied, before its answer", async () => {
  await using proxy = await StandInAsabru.start({
    behaviour: "deployed",
    config: asabruConfigXml({ a: [] }),
    firstByteMs: SHARED_PROCESS_MS,
  });
  const seen: [string, number][] = [];
  const stop = proxy.onPush((record) => seen.push([record.detail, proxy.list("a").length]));
  const body = asabruConfigXml({ a: [{ service: "s", host: "h", port: 1 }] });
  await rawExchange(proxy.port, rawPost("/configuration", body), { halfClose: true });
  // Not reported: a body it cannot parse (nothing replaced).
  await rawExchange(proxy.port, rawPost("/configuration", "<oops"), { halfClose: true });
  stop();
  await rawExchange(proxy.port, rawPost("/configuration", body), { halfClose: true });
  assertEquals(seen, [["1 end points, 1 services", 1]]);
});
