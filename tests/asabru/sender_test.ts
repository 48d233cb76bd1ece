import { AsabruSender, classifyFetchFailure } from "../../src/asabru/sender.ts";
import type { ServiceRef } from "../../src/asabru/wire.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../testing/assert.ts";
import { StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { waitFor } from "../../testing/wait.ts";

const ref: ServiceRef = {
  endPoint: "ch_http_node1",
  service: "ch_http_service2",
  host: "localhost",
  port: 2023,
};
const entry = { service: "ch_http_service2", host: "localhost", port: 2023 };

Deno.test("an accepted add is ok, sent as application/xml without Authorization", async () => {
  await using proxy = await StandInAsabru.start({ endPoints: ["ch_http_node1"] });
  using sender = new AsabruSender({ url: proxy.url });

  const outcome = await sender.send("add", ref);

  assertEquals(outcome.kind, "ok");
  assert(outcome.ms >= 0);
  assertEquals(proxy.list("ch_http_node1"), [entry]);
  const [request] = proxy.requests;
  assertEquals(request.contentType, "application/xml");
  assertEquals(request.authorization, null);
  assertEquals(proxy.malformed, 0);
});

Deno.test("a token is sent as a bearer Authorization header", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url, token: "s3cr3t-T0ken.x~+/==" });

  assertEquals((await sender.send("delete", ref)).kind, "ok");
  assertEquals(proxy.requests[0].authorization, "Bearer s3cr3t-T0ken.x~+/==");
});

Deno.test("an end point the proxy does not know is rejected, and nothing is applied", async () => {
  await using proxy = await StandInAsabru.start({ endPoints: ["ch_http_node1"] });
  using sender = new AsabruSender({ url: proxy.url });

  const outcome = await sender.send("add", { ...ref, endPoint: "elsewhere" });

  assertEquals(outcome.kind === "rejected" && outcome.message, "Endpoint 'elsewhere' not found.");
  assertEquals(proxy.snapshot(), new Map());
  assertEquals(proxy.malformed, 0);
});

Deno.test("reject-all answers are rejected", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url });
  await proxy.setMode("reject-all");

  const outcome = await sender.send("add", ref);

  assertEquals(outcome.kind, "rejected");
  assertEquals(proxy.snapshot(), new Map());
});

Deno.test("a refused connection is not-sent, also after a kept-alive connection", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url });
  assertEquals((await sender.send("add", ref)).kind, "ok"); // a pooled connection now exists

  await proxy.setMode("refuse");
  // The stand-in closed the idle connection; once the sender has seen that, nothing is reused.
  await waitFor(() => sender.openConnections === 0, 5000, "the closed connection noticed");
  const refused = await sender.send("delete", ref);
  assertEquals(refused.kind === "not-sent" && refused.reason, "connection refused");

  await proxy.setMode("ok"); // listens again on the same port
  assertEquals((await sender.send("delete", ref)).kind, "ok");
  assertEquals(proxy.requests.map((r) => r.op), ["add", "delete"]);
  assertEquals(proxy.snapshot(), new Map());
});

Deno.test("a 500 is uncertain, with the status in the reason", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url });
  await proxy.setMode("error500");

  const outcome = await sender.send("add", ref);

  assertEquals(outcome.kind, "uncertain");
  assertMatch(outcome.kind === "uncertain" ? outcome.reason : "", /^HTTP 500\b/);
  assertEquals(proxy.snapshot(), new Map());
});

Deno.test("a timeout after the proxy applied the add is uncertain, and the add is real", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url, timeoutMs: 150 });
  await proxy.setMode("apply-then-hang");

  const outcome = await sender.send("add", ref);

  assertEquals(outcome.kind === "uncertain" && outcome.reason, "no complete answer within 150 ms");
  assert(outcome.ms >= 140, `took ${outcome.ms} ms`);
  // The outcome is unknown to the sender, yet the proxy holds the service: "applied but unknown".
  assertEquals(proxy.list("ch_http_node1"), [entry]);
  assertEquals(proxy.requests.map((r) => [r.applied, r.status]), [[true, 0]]);
});

Deno.test("a slow answer within the timeout is ok", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url, timeoutMs: 2000 });
  await proxy.setMode("slow", { slowMs: 60 });

  const outcome = await sender.send("add", ref);

  assertEquals(outcome.kind, "ok");
  assert(outcome.ms >= 55, `took ${outcome.ms} ms`);
});

Deno.test("a connection closed after the request was sent is uncertain", async () => {
  // A raw listener that reads the request, then hangs up without answering.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hangUp = (async () => {
    const connection = await listener.accept();
    await connection.read(new Uint8Array(4096));
    connection.close();
  })();
  using sender = new AsabruSender({ url: `http://127.0.0.1:${listener.addr.port}/updateService` });

  const outcome = await sender.send("add", ref);
  await hangUp;

  assertEquals(outcome.kind, "uncertain");
  assertMatch(
    outcome.kind === "uncertain" ? outcome.reason : "",
    /^the server closed the connection before any answer$/,
  );
});

Deno.test("an invalid ref is not-sent and never reaches the proxy", async () => {
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url });

  const badPort = await sender.send("add", { ...ref, port: 99999 });
  const badName = await sender.send("add", { ...ref, service: "a\u0000b" });

  assertEquals(
    badPort.kind === "not-sent" && badPort.reason,
    "invalid service ref: port 99999 is not 1-65535",
  );
  assertEquals(
    badName.kind === "not-sent" && badName.reason,
    "invalid service ref: service name contains U+0000, which XML cannot carry",
  );
  assertEquals(proxy.requests, []);
});

Deno.test("close() ends a request in flight as uncertain, and later sends are not-sent", async () => {
  await using proxy = await StandInAsabru.start();
  const sender = new AsabruSender({ url: proxy.url, timeoutMs: 10_000 });
  await proxy.setMode("apply-then-hang");

  const arrived = proxy.nextRequest();
  const inFlight = sender.send("add", ref);
  await arrived;
  sender.close();

  const outcome = await inFlight;
  assertEquals(
    outcome.kind === "uncertain" && outcome.reason,
    "sender closed while waiting for the answer",
  );
  const after = await sender.send("delete", ref);
  assertEquals(after.kind === "not-sent" && after.reason, "sender closed");
  sender.close(); // idempotent
});

Deno.test("200 sequential sends reuse one kept-alive connection", async () => {
  // How fast they go (a 40 ms delayed-ACK stall per request would show) is measured by the
  // benchmark's change latency (bench/), not asserted here: a loaded machine is slow too.
  await using proxy = await StandInAsabru.start();
  using sender = new AsabruSender({ url: proxy.url });
  assertEquals((await sender.send("delete", ref)).kind, "ok"); // warm up: connect once

  for (let i = 0; i < 100; i++) {
    const service = `ch_http_service${i}`;
    assertEquals((await sender.send("add", { ...ref, service })).kind, "ok");
    assertEquals((await sender.send("delete", { ...ref, service })).kind, "ok");
  }

  assertEquals(proxy.connections, 1);
  assertEquals(sender.openConnections, 1);
  assertEquals(proxy.requests.length, 201);
  assertEquals(new Set(proxy.requests.map((r) => r.remotePort)).size, 1);
  assertEquals(proxy.snapshot(), new Map());
  assertEquals(proxy.malformed, 0);
});

Deno.test("fetch failures are classified as Deno 2.9 reports them", () => {
  const fetchFailed = (message: string) =>
    new TypeError("fetch failed", { cause: new Error(message) });

  assertEquals(
    classifyFetchFailure(fetchFailed(
      "error sending request for url (http://127.0.0.1:1/updateService): client error (Connect): " +
        "tcp connect error: Connection refused (os error 111)",
    )),
    { kind: "not-sent", reason: "connection refused" },
  );
  assertEquals(
    classifyFetchFailure(fetchFailed(
      "error sending request for url (http://proxy.invalid/updateService): client error (Connect): " +
        "dns error: failed to lookup address information: Name or service not known",
    )),
    {
      kind: "not-sent",
      reason: "DNS lookup failed: dns error: failed to lookup address information: " +
        "Name or service not known",
    },
  );
  assertEquals(
    classifyFetchFailure(fetchFailed(
      "error sending request for url (https://proxy/): client error (Connect): invalid peer certificate: UnknownIssuer",
    )),
    { kind: "not-sent", reason: "could not connect: invalid peer certificate: UnknownIssuer" },
  );
  assertEquals(
    classifyFetchFailure(fetchFailed(
      "error sending request from 127.0.0.1:51512 for http://127.0.0.1:46497/x (127.0.0.1:46497): " +
        "client error (SendRequest): connection closed before message completed",
    )),
    { kind: "uncertain", reason: "SendRequest: connection closed before message completed" },
  );
  assertEquals(
    classifyFetchFailure(new Deno.errors.NotCapable('Requires net access to "proxy:8080"')),
    { kind: "not-sent", reason: 'no permission to connect: Requires net access to "proxy:8080"' },
  );
  assertEquals(classifyFetchFailure(new Error("something\nnew")), {
    kind: "uncertain",
    reason: "something new",
  });
});

Deno.test("the constructor refuses a bad URL, token or timeout", () => {
  assertThrows(() => new AsabruSender({ url: "proxy:8080/updateService" }), TypeError, "not http");
  assertThrows(() => new AsabruSender({ url: "not a url" }), TypeError, "is not a URL");
  assertThrows(() => new AsabruSender({ url: "ftp://proxy/" }), TypeError, "not http");
  assertThrows(
    () => new AsabruSender({ url: "http://proxy/", token: "a\r\nX-Evil: 1" }),
    TypeError,
    "bearer token",
  );
  assertThrows(() => new AsabruSender({ url: "http://proxy/", token: "" }), TypeError, "bearer");
  assertThrows(() => new AsabruSender({ url: "http://proxy/", timeoutMs: 0 }), TypeError);
  assertThrows(() => new AsabruSender({ url: "http://proxy/", timeoutMs: NaN }), TypeError);
  const sender = new AsabruSender({ url: "http://proxy:8080/updateService" });
  assertEquals([sender.url, sender.timeoutMs], ["http://proxy:8080/updateService", 5000]);
  sender.close(); // never sent: nothing to release
});
