import {
  classifyResponse,
  InvalidServiceRefError,
  MAX_MESSAGE_LENGTH,
  renderUpdate,
  type ServiceRef,
  validateServiceRef,
} from "../../src/asabru/wire.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../testing/assert.ts";
import { parseUpdateBody } from "../../testing/stand_in_asabru.ts";

const ref: ServiceRef = {
  endPoint: "ch_http_node1",
  service: "ch_http_service2",
  host: "localhost",
  port: 2023,
};

Deno.test("an update renders as the exact body of DESIGN.md", () => {
  assertEquals(
    renderUpdate("add", ref),
    '<end_point name="ch_http_node1">\n' +
      "  <operation>add</operation>\n" +
      '  <service name="ch_http_service2"><host>localhost</host><port>2023</port></service>\n' +
      "</end_point>",
  );
  assertEquals(
    renderUpdate("delete", { ...ref, host: "10.0.0.7", port: 8123 }),
    '<end_point name="ch_http_node1">\n' +
      "  <operation>delete</operation>\n" +
      '  <service name="ch_http_service2"><host>10.0.0.7</host><port>8123</port></service>\n' +
      "</end_point>",
  );
});

Deno.test("an IPv6 host is written without brackets", () => {
  assertMatch(renderUpdate("add", { ...ref, host: "::1" }), /<host>::1<\/host><port>2023<\/port>/);
  assertMatch(
    renderUpdate("add", { ...ref, host: "fe80::1:2" }),
    /<host>fe80::1:2<\/host>/,
  );
  assertEquals(
    validateServiceRef({ ...ref, host: "[::1]" }),
    'host "[::1]" is invalid (an IPv6 address goes without brackets)',
  );
});

Deno.test("markup characters in names are escaped, so ']]>' cannot appear", () => {
  const body = renderUpdate("add", {
    ...ref,
    endPoint: `a<b>&"c"'d'`,
    service: "x]]>y&amp;",
  });
  assertMatch(body, /^<end_point name="a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;">\n/);
  assertMatch(body, /<service name="x\]\]&gt;y&amp;amp;">/);
  assert(!body.includes("]]>"), "']]>' must not appear raw");
});

Deno.test("tab, LF and CR in names become character references that survive parsing", () => {
  const tricky = { ...ref, endPoint: "a\tb\nc\rd", service: "s\r\nt" };
  const body = renderUpdate("add", tricky);
  assertMatch(body, /name="a&#9;b&#10;c&#13;d"/);
  assertMatch(body, /name="s&#13;&#10;t"/);
  // A raw tab or newline in an attribute would have been read back as a space.
  assertEquals(parseUpdateBody(body), { op: "add", ...tricky });
});

Deno.test("escaped names read back as themselves through a strict XML reading", () => {
  for (
    const name of [
      `<>&"'`,
      "]]>",
      "&lt;",
      "ünïcödé",
      "emoji 🎉",
      "\u0085\u2028",
      "a".repeat(255),
    ]
  ) {
    const sent = { ...ref, endPoint: name, service: name };
    assertEquals(parseUpdateBody(renderUpdate("delete", sent)), { op: "delete", ...sent }, name);
  }
});

Deno.test("names with characters XML cannot carry are refused, not escaped", () => {
  const cases: [string, string][] = [
    ["a\u0000b", "U+0000"],
    ["\u0001", "U+0001"],
    ["a\u000bb", "U+000B"],
    ["\u001f", "U+001F"],
    ["\ufffe", "U+FFFE"],
    ["\uffff", "U+FFFF"],
    ["lone \ud800 high", "U+D800"],
    ["lone \udc00 low", "U+DC00"],
    ["backwards \udc00\ud800", "U+DC00"],
  ];
  for (const [name, codePoint] of cases) {
    assertEquals(
      validateServiceRef({ ...ref, service: name }),
      `service name contains ${codePoint}, which XML cannot carry`,
      JSON.stringify(name),
    );
    assertEquals(
      validateServiceRef({ ...ref, endPoint: name }),
      `end point name contains ${codePoint}, which XML cannot carry`,
      JSON.stringify(name),
    );
    const error = assertThrows(
      () => renderUpdate("add", { ...ref, service: name }),
      InvalidServiceRefError,
    );
    assertMatch((error as InvalidServiceRefError).reason, /which XML cannot carry/);
  }
  // Tab, LF, CR and a well-formed surrogate pair are fine.
  assertEquals(validateServiceRef({ ...ref, service: "a\tb\nc\rd\ud83c\udf89" }), undefined);
});

Deno.test("empty and over-long names are refused", () => {
  assertEquals(validateServiceRef({ ...ref, endPoint: "" }), "end point name is empty");
  assertEquals(validateServiceRef({ ...ref, service: "" }), "service name is empty");
  assertEquals(validateServiceRef({ ...ref, service: "a".repeat(255) }), undefined);
  assertEquals(
    validateServiceRef({ ...ref, service: "a".repeat(256) }),
    "service name is longer than 255 bytes (256)",
  );
  // Measured in UTF-8 bytes: 128 two-byte characters are 256 bytes.
  assertEquals(
    validateServiceRef({ ...ref, endPoint: "é".repeat(128) }),
    "end point name is longer than 255 bytes (256)",
  );
});

Deno.test("bad hosts are refused with parseHostPort's reason", () => {
  const cases: [string, string][] = [
    ["", 'host "" is invalid (missing host)'],
    ["local host", 'host "local host" is invalid (contains whitespace)'],
    ["a<b", `host "a<b" is invalid (hostname may contain only letters, digits, '-', '_' and '.')`],
    ["evil.com:80", 'host "evil.com:80" is invalid (invalid IPv6 address)'],
    [
      "256.1.1.1",
      'host "256.1.1.1" is invalid (invalid IPv4 address (four numbers 0-255, ' +
      "no leading zeros))",
    ],
    ["-ch", `host "-ch" is invalid (hostname label starts or ends with '-')`],
    [
      "x\u0000",
      `host "x\\u0000" is invalid (hostname may contain only letters, digits, '-', '_' and '.')`,
    ],
  ];
  for (const [host, reason] of cases) {
    assertEquals(validateServiceRef({ ...ref, host }), reason, JSON.stringify(host));
  }
  const long = validateServiceRef({ ...ref, host: `${"a".repeat(300)} ` });
  assert(long !== undefined && long.length < 120, `reason is short: ${long}`);
});

Deno.test("ports outside 1-65535 are refused", () => {
  assertEquals(validateServiceRef({ ...ref, port: 99999 }), "port 99999 is not 1-65535");
  assertEquals(validateServiceRef({ ...ref, port: 0 }), "port 0 is not 1-65535");
  assertEquals(validateServiceRef({ ...ref, port: -1 }), "port -1 is not 1-65535");
  assertEquals(validateServiceRef({ ...ref, port: 80.5 }), "port 80.5 is not 1-65535");
  assertEquals(validateServiceRef({ ...ref, port: NaN }), "port NaN is not 1-65535");
  assertEquals(validateServiceRef({ ...ref, port: 1 }), undefined);
  assertEquals(validateServiceRef({ ...ref, port: 65535 }), undefined);
  assertThrows(() => renderUpdate("add", { ...ref, port: 99999 }), InvalidServiceRefError, "99999");
});

Deno.test("an unknown operation is refused", () => {
  assertThrows(
    () => renderUpdate("replace" as "add", ref),
    InvalidServiceRefError,
    'unknown operation "replace"',
  );
});

Deno.test("2xx with status ok JSON, or the legacy text, is ok", () => {
  assertEquals(classifyResponse(200, '{"status":"ok","message":"Service added."}'), {
    kind: "ok",
  });
  assertEquals(classifyResponse(200, '  {"status":"ok"}\n'), { kind: "ok" });
  assertEquals(classifyResponse(201, '{"status":"ok"}'), { kind: "ok" });
  assertEquals(classifyResponse(200, "Configuration Updated Successfully!"), { kind: "ok" });
  assertEquals(classifyResponse(200, "\nConfiguration Updated Successfully!\r\n"), { kind: "ok" });
});

Deno.test("2xx with status error JSON is rejected, with the proxy's message", () => {
  assertEquals(
    classifyResponse(200, `{"status":"error","message":"Endpoint 'x' not found."}`),
    { kind: "rejected", message: "Endpoint 'x' not found." },
  );
  assertEquals(classifyResponse(200, '{"status":"error"}'), {
    kind: "rejected",
    message: "(no message)",
  });
  assertEquals(classifyResponse(200, '{"status":"error","message":"line1\\nline2\\u0000"}'), {
    kind: "rejected",
    message: "line1 line2",
  });
  const long = classifyResponse(
    200,
    JSON.stringify({ status: "error", message: "x".repeat(5000) }),
  );
  assert(long.kind === "rejected");
  assertEquals(long.message.length, MAX_MESSAGE_LENGTH);
  assert(long.message.endsWith("…"));
});

Deno.test("anything else is uncertain: non-2xx, unknown or empty 2xx bodies", () => {
  assertEquals(classifyResponse(500, "Internal Server Error\n"), {
    kind: "uncertain",
    reason: "HTTP 500: Internal Server Error",
  });
  // A non-2xx is uncertain even with an ok-looking body.
  assertEquals(classifyResponse(503, '{"status":"ok"}').kind, "uncertain");
  assertEquals(classifyResponse(502, ""), { kind: "uncertain", reason: "HTTP 502" });
  assertEquals(classifyResponse(302, "").kind, "uncertain");
  assertEquals(classifyResponse(200, ""), {
    kind: "uncertain",
    reason: "HTTP 200 with an empty body",
  });
  assertEquals(classifyResponse(200, "<html>\n<body>hello</body>\n</html>"), {
    kind: "uncertain",
    reason: "HTTP 200 with an unrecognised body: <html> <body>hello</body> </html>",
  });
  for (const body of ['{"status":"maybe"}', "[]", "null", '"ok"', "{", "Configuration Updated"]) {
    assertEquals(classifyResponse(200, body).kind, "uncertain", body);
  }
  const long = classifyResponse(500, "y".repeat(10_000));
  assert(long.kind === "uncertain");
  assertEquals(long.reason.length, MAX_MESSAGE_LENGTH);
  assertEquals(classifyResponse(500, "a\r\nb\n\tc"), {
    kind: "uncertain",
    reason: "HTTP 500: a b c",
  });
});
