// The stand-in proxy must behave as the real one does, or the monitor's tests prove nothing.
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { parseUpdateBody, StandInAsabru } from "../../testing/stand_in_asabru.ts";
import { withTimeout } from "../../testing/wait.ts";

function body(op: string, endPoint: string, service: string, host = "h", port = "1"): string {
  return `<end_point name="${endPoint}">\n  <operation>${op}</operation>\n` +
    `  <service name="${service}"><host>${host}</host><port>${port}</port></service>\n</end_point>`;
}

async function post(
  client: Deno.HttpClient,
  url: string,
  text: string,
  method = "POST",
): Promise<[number, string]> {
  const response = await fetch(url, { method, body: method === "GET" ? undefined : text, client });
  return [response.status, await response.text()];
}

Deno.test("adds append without looking for duplicates; a delete removes every slot", async () => {
  await using proxy = await StandInAsabru.start();
  using client = Deno.createHttpClient({});

  assertEquals(await post(client, proxy.url, body("add", "e1", "s1", "a", "1")), [
    200,
    '{"status":"ok","message":"Service added."}',
  ]);
  await post(client, proxy.url, body("add", "e1", "s1", "b", "2"));
  await post(client, proxy.url, body("add", "e1", "s2"));
  await post(client, proxy.url, body("add", "e2", "s1"));

  assertEquals(proxy.duplicates(), ["e1/s1"]);
  assertEquals(proxy.list("e1"), [
    { service: "s1", host: "a", port: 1 },
    { service: "s1", host: "b", port: 2 },
    { service: "s2", host: "h", port: 1 },
  ]);

  assertEquals(await post(client, proxy.url, body("delete", "e1", "s1")), [
    200,
    '{"status":"ok","message":"Service deleted."}',
  ]);
  await post(client, proxy.url, body("delete", "e3", "nothing"));
  assertEquals(proxy.duplicates(), []);
  assertEquals(
    proxy.snapshot(),
    new Map([["e1", [{ service: "s2", host: "h", port: 1 }]], ["e2", [{
      service: "s1",
      host: "h",
      port: 1,
    }]]]),
  );

  proxy.restartEmpty();
  assertEquals(proxy.snapshot(), new Map());
  assertEquals(proxy.requests.length, 6);
  assertEquals(proxy.malformed, 0);
});

Deno.test("an end point outside the configuration answers 200 with error JSON", async () => {
  await using proxy = await StandInAsabru.start({ endPoints: ["known"] });
  using client = Deno.createHttpClient({});

  assertEquals(await post(client, proxy.url, body("add", "x", "s")), [
    200,
    `{"status":"error","message":"Endpoint 'x' not found."}`,
  ]);
  assertEquals(proxy.requests.map((r) => [r.endPoint, r.applied, r.status]), [["x", false, 200]]);
  assertEquals((await post(client, proxy.url, body("add", "known", "s")))[0], 200);
  assertEquals([...proxy.snapshot().keys()], ["known"]);
});

Deno.test("malformed requests answer 4xx, apply nothing and are counted", async () => {
  await using proxy = await StandInAsabru.start();
  using client = Deno.createHttpClient({});

  const bad = [
    "",
    "<end_point/>",
    body("replace", "e", "s"),
    body("add", "e", "s", "h", "0"),
    body("add", "e", "s", "h", "65536"),
    body("add", "e", "s", "h", "01"),
    body("add", "", "s"),
    body("add", "a&b", "s"),
    body("add", "a&unknown;b", "s"),
    body("add", "e", "s", "]]>"),
    body("add", "e", "s", "&#0;"),
    body("add", "e", "s\u0001"),
    body("add", "e", "s") + "<extra/>",
  ];
  for (const text of bad) {
    const [status] = await post(client, proxy.url, text);
    assertEquals(status, 400, JSON.stringify(text));
  }
  assertEquals((await post(client, proxy.url, "", "GET"))[0], 405);
  assertEquals((await post(client, proxy.url.replace("/updateService", "/other"), "x"))[0], 404);

  assertEquals(proxy.malformed, bad.length + 2);
  assertMatch(proxy.malformedReasons.join("\n"), /bad entity reference/);
  assertEquals(proxy.requests, []);
  assertEquals(proxy.snapshot(), new Map());
});

Deno.test("the strict parser decodes entities and normalises whitespace as XML does", () => {
  assertEquals(
    parseUpdateBody(
      '<end_point name="a&amp;b&#x3C;&#60;&quot;\tc">' +
        "<operation>add</operation>" +
        "<service name='x'><host>h</host><port>1</port></service></end_point>",
    ),
    { error: "body is not the <end_point> update shape" }, // single quotes are not our shape
  );
  assertEquals(
    parseUpdateBody(
      ' \r\n<end_point name="a&amp;b&#x3C;&#60;&quot;\tc&#9;">' +
        "<operation>delete</operation>\r\n" +
        '<service name="s&apos;"><host>h&#46;x</host><port>65535</port></service></end_point>\n',
    ),
    { op: "delete", endPoint: 'a&b<<" c\t', service: "s'", host: "h.x", port: 65535 },
  );
});

Deno.test("onRequest and nextRequest report an update once it is applied", async () => {
  await using proxy = await StandInAsabru.start();
  using client = Deno.createHttpClient({});
  const seen: string[] = [];
  const stop = proxy.onRequest((r) => seen.push(`${r.op} ${r.service} ${proxy.list("e").length}`));

  const added = proxy.nextRequest((r) => r.op === "add" && r.service === "s2");
  await post(client, proxy.url, body("add", "e", "s1"));
  await post(client, proxy.url, body("add", "e", "s2"));
  const request = await withTimeout(added, 2000, "the add of s2");
  stop();
  await post(client, proxy.url, body("delete", "e", "s1"));

  assertEquals([request.op, request.service, request.applied, request.status], [
    "add",
    "s2",
    true,
    200,
  ]);
  assertEquals(seen, ["add s1 1", "add s2 2"]);
});

Deno.test("close() releases an answer held back by apply-then-hang", async () => {
  const proxy = await StandInAsabru.start();
  using client = Deno.createHttpClient({});
  await proxy.setMode("apply-then-hang");

  const arrived = proxy.nextRequest();
  const answer = post(client, proxy.url, body("add", "e", "s"));
  await withTimeout(arrived, 2000, "the add");
  await withTimeout(proxy.close(), 2000, "close() with a held-back answer");

  // The client was still waiting: it gets the answer that was held back.
  assertEquals((await answer)[0], 200);
  assertEquals(proxy.requests.map((r) => r.status), [200]);
  assert(proxy.list("e").length === 1);
});
