/**
 * The proxy's configuration template and the `POST /configuration` document made from it, as pure
 * functions: validation at start (one line naming what is wrong), the services replaced per end
 * point, hostile names and hosts carried exactly (read back with an XML parser), and the renderer
 * refusing what would crash the proxy.
 */
import { DOMParser } from "@xmldom/xmldom";
import { ConfigTemplateError, templateRefusal } from "../../src/asabru/config_template.ts";
import { parseConfigTemplate } from "../../src/asabru/parse_config_template.ts";
import {
  ConfigDocument,
  renderConfiguration,
  UnsafeConfigurationError,
} from "../../src/asabru/config_document.ts";
import { InvalidServiceRefError } from "../../src/asabru/wire.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../testing/assert.ts";

/** The example the proxy's maintainers ship, as the monitor's tests use it. */
const SHIPPED = Deno.readTextFileSync(new URL("../../examples/asabru-config.xml", import.meta.url));

/** A template with two end points in two clusters, one of them without static services. */
const TWO_END_POINTS = `<?xml version="1.0"?>
<clickhouse-proxy-v2>
  <protocol-server-config><protocol-server protocol="HTTP"/></protocol-server-config>
  <CLUSTERS>
    <CLUSTER name="a"><END_POINTS>
      <END_POINT name="ep1"><PROXY_PORT>1</PROXY_PORT>
        <SERVICES>
          <SERVICE name="static1"><HOST>127.0.0.1</HOST><PORT>8123</PORT></SERVICE>
        </SERVICES>
      </END_POINT>
    </END_POINTS></CLUSTER>
    <CLUSTER name="b"><END_POINTS>
      <END_POINT name="ep2"><SERVICES/></END_POINT>
    </END_POINTS></CLUSTER>
  </CLUSTERS>
</clickhouse-proxy-v2>`;

/** The services of each end point in `document`, read back with a real XML parser. */
function servicesIn(document: string): Record<string, Array<[string, string, string]>> {
  const root = new DOMParser().parseFromString(document, "text/xml").documentElement!;
  const result: Record<string, Array<[string, string, string]>> = {};
  for (const endPoint of Array.from(root.getElementsByTagName("END_POINT"))) {
    result[endPoint.getAttribute("name")!] = Array.from(endPoint.getElementsByTagName("SERVICE"))
      .map((service) => [
        service.getAttribute("name")!,
        service.getElementsByTagName("HOST")[0].textContent!,
        service.getElementsByTagName("PORT")[0].textContent!,
      ]);
  }
  return result;
}

Deno.test("template: the shipped example reads as one end point with one static service", () => {
  const template = parseConfigTemplate(SHIPPED);
  assertEquals(template.endPointNames, ["ch_http_node1"]);
  assertEquals(template.staticServices("ch_http_node1"), [
    { service: "ch_http_service1", host: "127.0.0.1", port: 8123 },
  ]);
  assertEquals(template.staticServices("elsewhere"), []);
  assert(!template.hasEndPoint("elsewhere"));
});

Deno.test("template: each defect is one line naming it", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["not XML", "this is not xml", /^not well-formed XML: .*root element/],
    ["a mismatched tag", "<a><b></a>", /^not well-formed XML: .*mismatch/],
    ["empty", "", /^not well-formed XML/],
    ["an unknown entity", "<a>&nope;</a>", /entity/i],
    [
      "no protocol-server-config",
      TWO_END_POINTS.replace(/<protocol-server-config>.*<\/protocol-server-config>/, ""),
      /^no <protocol-server-config>/,
    ],
    ["no end point", SHIPPED.replace(/<END_POINT [\s\S]*<\/END_POINT>/, ""), /^no <END_POINT>$/],
    [
      "an end point without a name",
      TWO_END_POINTS.replace('name="ep2"', ""),
      /^<END_POINT> number 2 has no name$/,
    ],
    [
      "an empty end point name",
      TWO_END_POINTS.replace('name="ep2"', 'name=""'),
      /^<END_POINT> number 2 has no name$/,
    ],
    [
      "two end points of one name",
      TWO_END_POINTS.replace('name="ep2"', 'name="ep1"'),
      /^two <END_POINT>s named "ep1"$/,
    ],
    [
      "an end point without SERVICES",
      TWO_END_POINTS.replace("<SERVICES/>", ""),
      /^<END_POINT name="ep2"> has no <SERVICES>$/,
    ],
    [
      "a static service without a name",
      TWO_END_POINTS.replace(' name="static1"', ""),
      /^<END_POINT name="ep1">: <SERVICE> number 1: service name is empty$/,
    ],
    [
      "a static service with an empty host",
      TWO_END_POINTS.replace("<HOST>127.0.0.1</HOST>", "<HOST> </HOST>"),
      /^<END_POINT name="ep1">: <SERVICE> number 1: host "" is invalid/,
    ],
    [
      "a static service with a bad port",
      TWO_END_POINTS.replace("<PORT>8123</PORT>", "<PORT>http</PORT>"),
      /^<END_POINT name="ep1">: <SERVICE> number 1: port NaN is not 1-65535$/,
    ],
  ];
  for (const [what, text, expected] of cases) {
    const error = assertThrows(() => parseConfigTemplate(text), ConfigTemplateError);
    assert(
      !error.message.includes("\n"),
      `${what}: one line, got ${JSON.stringify(error.message)}`,
    );
    assertMatch(error.message, expected, what);
  }
});

Deno.test("document: each end point's services replaced, the rest of the template kept", () => {
  const template = parseConfigTemplate(TWO_END_POINTS);
  const document = renderConfiguration(
    template,
    new Map([
      ["ep1", [
        { service: "static1", host: "127.0.0.1", port: 8123 },
        { service: "svc2", host: "10.0.0.2", port: 9000 },
      ]],
    ]),
  );
  assertEquals(servicesIn(document), {
    ep1: [["static1", "127.0.0.1", "8123"], ["svc2", "10.0.0.2", "9000"]],
  }, "ep2, empty in the template and without a list, is left out (empty, it crashes the proxy)");
  const withEp2 = renderConfiguration(
    template,
    new Map([["ep2", [{ service: "s", host: "h", port: 1 }]]]),
  );
  assertEquals(servicesIn(withEp2), {
    ep1: [["static1", "127.0.0.1", "8123"]],
    ep2: [["s", "h", "1"]],
  });
  // Everything outside the lists is the template's, byte for byte.
  assert(document.startsWith('<?xml version="1.0"?>\n<clickhouse-proxy-v2>\n  <protocol-server'));
  assert(document.includes('<END_POINT name="ep1"><PROXY_PORT>1</PROXY_PORT>\n        <SERVICES>'));
  assert(document.includes('<CLUSTER name="b">'));
  // Indented as the template is: one service a line, one level in from <SERVICES>.
  assert(
    document.includes(
      '<SERVICES>\n          <SERVICE name="static1"><HOST>127.0.0.1</HOST><PORT>8123</PORT>' +
        '</SERVICE>\n          <SERVICE name="svc2">',
    ),
    document,
  );
  // The same lists give the same document (whole-state pushes are idempotent).
  assertEquals(
    renderConfiguration(template, new Map([["ep1", [{ service: "x", host: "h", port: 1 }]]])),
    renderConfiguration(template, new Map([["ep1", [{ service: "x", host: "h", port: 1 }]]])),
  );
});

Deno.test("document: hostile names and hosts read back exactly as they were", () => {
  const template = parseConfigTemplate(SHIPPED);
  const hostileNames = [
    `a"b`,
    "a'b",
    "<end_point>",
    "&amp;",
    "]]>",
    "tab\there",
    "line\nbreak",
    "carriage\rreturn",
    '"/><SERVICE name="injected"><HOST>evil</HOST><PORT>1</PORT></SERVICE><SERVICE name="',
    '</SERVICES></END_POINT><END_POINT name="other"><SERVICES>',
    "<!-- comment -->",
    "<?pi?>",
    "ünïcødé ✓ 𝄞",
  ];
  const entries = hostileNames.map((service, index) => ({
    service,
    host: index % 2 ? "::1" : "host-1.example",
    port: 1000 + index,
  }));
  const document = renderConfiguration(template, new Map([["ch_http_node1", entries]]));
  assertEquals(
    servicesIn(document),
    {
      ch_http_node1: entries.map((entry) =>
        [entry.service, entry.host, String(entry.port)] as [string, string, string]
      ),
    },
  );
  assert(!document.includes("injected</"), "no element injected");
});

Deno.test("document: refuses what would crash the proxy or is not sendable", () => {
  const template = parseConfigTemplate(TWO_END_POINTS);
  const one = [{ service: "s", host: "h", port: 1 }];
  assertThrows(
    () => renderConfiguration(template, new Map([["nope", one]])),
    UnsafeConfigurationError,
    "not in the proxy's configuration template",
  );
  assertThrows(
    () => renderConfiguration(template, new Map([["ep2", []]])),
    UnsafeConfigurationError,
    "an empty service list",
  );
  for (
    const bad of [
      { service: "", host: "h", port: 1 },
      { service: "s", host: "", port: 1 },
      {
        service: "s",
        host: "h",
        port: 0,
      },
      { service: "s\u0001", host: "h", port: 1 },
      { service: "s", host: "a b", port: 1 },
    ]
  ) {
    assertThrows(
      () => renderConfiguration(template, new Map([["ep1", [bad]]])),
      InvalidServiceRefError,
    );
  }
});

Deno.test("template refusal: an unknown end point, a name the template already has", () => {
  const template = parseConfigTemplate(TWO_END_POINTS);
  const ref = { endPoint: "ep1", service: "svc", host: "h", port: 1 };
  assertEquals(templateRefusal(template, ref), undefined);
  assertMatch(
    templateRefusal(template, { ...ref, endPoint: "ep9" }) ?? "",
    /^end point "ep9" is not in the proxy's configuration template/,
  );
  assertMatch(
    templateRefusal(template, { ...ref, service: "static1" }) ?? "",
    /already lists a service named "static1" under "ep1"/,
  );
});

Deno.test("document, reused across pushes: each render equals a fresh one", () => {
  const template = parseConfigTemplate(TWO_END_POINTS);
  const reused = new ConfigDocument(template);
  const entry = (n: number) => ({ service: `s${n}`, host: `h${n}`, port: 1000 + n });
  // A seeded walk: lists grow, shrink, repeat, and end points leave them (back to the template).
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let step = 0; step < 60; step++) {
    const lists = new Map<string, { service: string; host: string; port: number }[]>();
    for (const endPoint of ["ep1", "ep2"]) {
      if (random() < 0.25) continue;
      const size = 1 + Math.floor(random() * 4);
      lists.set(endPoint, Array.from({ length: size }, () => entry(Math.floor(random() * 6))));
    }
    assertEquals(reused.render(lists), renderConfiguration(template, lists), `step ${step}`);
  }
  // A list changed in place after a render is still rendered anew.
  const list = [entry(1)];
  reused.render(new Map([["ep1", list]]));
  list.push(entry(2));
  assertEquals(
    reused.render(new Map([["ep1", list]])),
    renderConfiguration(template, new Map([["ep1", list]])),
  );
  // A refused render leaves the document as it was.
  const before = reused.render(new Map([["ep1", [entry(1)]]]));
  assertThrows(() => reused.render(new Map([["ep1", [entry(2)]], ["ep2", []]])));
  assertEquals(reused.render(new Map([["ep1", [entry(1)]]])), before);
});
