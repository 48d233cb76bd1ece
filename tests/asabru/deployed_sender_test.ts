// The sender against the proxy as deployed (issue 15): one request per connection with the write
// side shut, recognised by itself; 401 and the 500 parse texts are "nothing applied"; login.
import { AsabruSender } from "../../src/asabru/sender.ts";
import { ProxyCredentials } from "../../src/asabru/login.ts";
import type { ServiceRef } from "../../src/asabru/wire.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";

const ref = (service: string): ServiceRef => ({
  endPoint: "e",
  service,
  host: "127.0.0.1",
  port: 8123,
});

/**
 * Sends an add until it is applied. Not applied, and (before the proxy's kind is known) unknown:
 * the proxy read nothing within its 10 ms idle time (this process runs both ends, on a busy
 * machine). Sending again must never leave a second slot: the tests check the history for one.
 */
async function sendUntilApplied(sender: AsabruSender, service: string, uncertain: number[]) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const outcome = await sender.send("add", ref(service));
    if (outcome.kind === "uncertain") uncertain.push(1);
    if (outcome.kind !== "not-applied" && outcome.kind !== "uncertain") return outcome;
  }
  throw new Error(`${service}: not applied in 20 attempts`);
}

Deno.test("auto: a text answer switches to one request per connection; a burst has no unknown outcome", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "deployed" });
  let told = 0;
  // The burst queues in the sender: each request waits for a connection while the proxy's one
  // worker answers the others, and the sender's time limit counts that wait. At the default 5 s
  // this raced the whole burst against the clock: on a loaded machine its tail came back "not
  // sent within 5000 ms". The subject is where the answers lead, not how fast 300 go.
  const timeoutMs = 60_000;
  using sender = new AsabruSender({ url: proxy.url, timeoutMs, onTextAnswers: () => told++ });
  assertEquals(sender.transport, "auto");

  const uncertain: number[] = [];
  const outcomes = await Promise.all(
    Array.from({ length: 300 }, (_, i) => sendUntilApplied(sender, `s${i}`, uncertain)),
  );

  assertEquals(outcomes.filter((outcome) => outcome.kind !== "ok"), []);
  assert(uncertain.length <= 1, `only the first request may be unknown, got ${uncertain.length}`);
  assertEquals(sender.transport, "one-shot");
  assertEquals([sender.answersInText, told], [true, 1]);
  assertEquals(proxy.list("e").length, 300);
  // Every request but the first (sent before the proxy's kind was known) shut the write side.
  assertEquals(proxy.requests.slice(1).filter((r) => !r.halfClosed).length, 0);
  assertEquals(proxy.everDuplicated(), []);
  assertEquals([proxy.lostRequests, proxy.backlogOverflows], [0, 0]);
  assert(proxy.mostWaiting <= 4, `at most 4 connections at once, saw ${proxy.mostWaiting} waiting`);
  assertEquals(proxy.malformed, 0);
});

Deno.test("keep-alive forced: a connection that answered in text is never written to again", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "deployed" });
  using sender = new AsabruSender({ url: proxy.url, transport: "keep-alive" });

  const uncertain: number[] = [];
  const outcomes = await Promise.all(
    Array.from({ length: 20 }, (_, i) => sendUntilApplied(sender, `s${i}`, uncertain)),
  );

  assertEquals(outcomes.filter((outcome) => outcome.kind !== "ok"), []);
  assertEquals(sender.transport, "keep-alive");
  assertEquals(proxy.lostRequests, 0, "no request written to a connection the proxy was closing");
  assertEquals(proxy.list("e").length, 20);
  assertEquals(proxy.everDuplicated(), []);
});

Deno.test("auto against the documented proxy stays on kept-alive connections", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "documented" });
  using sender = new AsabruSender({ url: proxy.url });
  for (let i = 0; i < 5; i++) assertEquals((await sender.send("add", ref(`s${i}`))).kind, "ok");
  assertEquals([sender.transport, sender.answersInText, proxy.connections], [
    "auto",
    false,
    1,
  ]);
});

Deno.test("the deployed proxy's 500 parse answers are rejected (nothing applied), a 401 unauthorized", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "deployed", users: { u: "p" } });
  using sender = new AsabruSender({ url: proxy.url, token: "not.a.token" });
  const unauthorized = await sender.send("add", ref("s"));
  assertEquals(unauthorized.kind, "unauthorized");
  assertMatch(
    unauthorized.kind === "unauthorized" ? unauthorized.message : "",
    /^http:\/\/127\.0\.0\.1:\d+ refused ASABRU_API_TOKEN \(HTTP 401 Unauthorized\)/,
  );
  assertEquals(proxy.auth.unauthorized, 1, "a static token is not retried blind");

  await proxy.setMode("reject-all"); // answers 500 "Error Parsing XML Element."
  using open = new AsabruSender({ url: proxy.url, token: await proxy.issueToken("u") });
  const rejected = await open.send("add", ref("s"));
  assertEquals(
    rejected.kind === "rejected" && rejected.message,
    "HTTP 500: Error Parsing XML Element.",
  );
  assertEquals(proxy.snapshot(), new Map());
});

Deno.test("login: the token is reused, renewed after a 401 and before its exp", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "deployed", users: { u: "p" } });
  let skewMs = 0;
  const credentials = new ProxyCredentials({
    proxyUrl: proxy.url,
    username: "u",
    password: "p",
    now: () => Date.now() + skewMs,
  });
  using sender = new AsabruSender({ url: proxy.url, credentials });

  for (let i = 0; i < 3; i++) assertEquals((await sender.send("add", ref(`a${i}`))).kind, "ok");
  assertEquals(proxy.auth.logins, 1, "one login for three requests");

  proxy.expireTokens();
  assertEquals((await sender.send("add", ref("b"))).kind, "ok", "a 401 leads to a new login");
  assertEquals(proxy.auth, { logins: 2, refusedLogins: 0, unauthorized: 1 });

  // Within the last minute of its hour the token is renewed before it is used.
  skewMs = 3_600_000 - 30_000;
  assertEquals((await sender.send("add", ref("c"))).kind, "ok");
  assertEquals(proxy.auth, { logins: 3, refusedLogins: 0, unauthorized: 1 });
  assertEquals(credentials.report().problem, undefined);
  assertEquals(proxy.list("e").length, 5);
});

Deno.test("login: a refused login is one line naming the proxy and its answer", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "deployed", users: { u: "p" } });
  const credentials = new ProxyCredentials({
    proxyUrl: proxy.url,
    username: "u",
    password: "nope",
  });
  using sender = new AsabruSender({ url: proxy.url, credentials });

  const outcome = await sender.send("add", ref("s"));

  assertEquals(outcome.kind, "unauthorized");
  const problem = credentials.report().problem ?? "";
  assertMatch(
    problem,
    /^login as "u" at http:\/\/127\.0\.0\.1:\d+\/auth\/login refused: HTTP 401 Unauthorized$/,
  );
  assert(!problem.includes("nope"), "the password is never shown");
  assertEquals(proxy.auth.refusedLogins, 1);
  assertEquals(proxy.snapshot(), new Map());
});

Deno.test("login: requests that all meet a 401 at once share one new login", async () => {
  await using proxy = await StandInAsabru.start({ behaviour: "deployed", users: { u: "p" } });
  const credentials = new ProxyCredentials({ proxyUrl: proxy.url, username: "u", password: "p" });
  using sender = new AsabruSender({ url: proxy.url, credentials, transport: "one-shot" });
  assertEquals((await sender.send("add", ref("first"))).kind, "ok");

  proxy.expireTokens();
  const outcomes = await Promise.all(
    Array.from({ length: 8 }, (_, i) => sendUntilApplied(sender, `s${i}`, [])),
  );

  assertEquals(outcomes.map((outcome) => outcome.kind), Array(8).fill("ok"));
  assertEquals(proxy.auth.logins, 2, "one login at first, one after the 401s");
  assertEquals(proxy.list("e").length, 9);
});

Deno.test("login: a login that does not answer in time is a timeout, not a refused connection", async () => {
  // A proxy that accepts and never answers (stalled): the request is not sent, and that says
  // nothing about a restart (the queue would re-add every service).
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const url = `http://127.0.0.1:${listener.addr.port}/updateService`;
  const credentials = new ProxyCredentials({
    proxyUrl: url,
    username: "u",
    password: "p",
    timeoutMs: 200,
  });
  using sender = new AsabruSender({ url, credentials, transport: "one-shot", timeoutMs: 1000 });

  const outcome = await sender.send("add", ref("s"));

  assertEquals(outcome.kind, "not-sent");
  assertEquals(outcome.kind === "not-sent" && outcome.timedOut, true);
  for (const conn of held) conn.close();
  listener.close();
  await accepting.catch(() => {});
});
