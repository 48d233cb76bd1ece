import * as v from "valibot";
import {
  formatHostPort,
  HostPortSchema,
  parseHostPort,
  parseServiceAddress,
} from "../../src/service/host_port.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

Deno.test("a hostname with a port parses", () => {
  assertEquals(parseHostPort("localhost:2023"), { host: "localhost", port: 2023 });
  assertEquals(parseHostPort("ch-1.example.com:8123"), { host: "ch-1.example.com", port: 8123 });
  assertEquals(parseHostPort("CH1:1"), { host: "CH1", port: 1 });
  assertEquals(parseHostPort("a:65535"), { host: "a", port: 65535 });
  assertEquals(parseHostPort("xn--bcher-kva.example:80"), {
    host: "xn--bcher-kva.example",
    port: 80,
  });
});

Deno.test("a hostname may contain '_', as Docker Compose container names do", () => {
  assertEquals(parseHostPort("myproject_clickhouse_1:8123"), {
    host: "myproject_clickhouse_1",
    port: 8123,
  });
});

Deno.test("a hostname follows RFC 1123 label rules", () => {
  const label63 = "a".repeat(63);
  assertEquals(parseHostPort(`${label63}.example:1`), { host: `${label63}.example`, port: 1 });
  assertEquals(parseHostPort(`${label63}a.example:1`), {
    error: "hostname label longer than 63 characters",
  });
  const host253 = [label63, label63, label63, "a".repeat(61)].join(".");
  assertEquals(host253.length, 253);
  assertEquals(parseHostPort(`${host253}:1`), { host: host253, port: 1 });
  assertEquals(parseHostPort(`${host253}a:1`), { error: "hostname longer than 253 characters" });
  assertEquals(parseHostPort("-ch:1"), { error: "hostname label starts or ends with '-'" });
  assertEquals(parseHostPort("ch-.example:1"), { error: "hostname label starts or ends with '-'" });
  assertEquals(parseHostPort("a..b:1"), { error: "empty label in hostname" });
  assertEquals(parseHostPort("example.com.:1"), { error: "empty label in hostname" });
  for (const host of ["héllo", "a/b", "a@b", "a\u0000b", "a%b"]) {
    assertEquals(parseHostPort(`${host}:1`), {
      error: "hostname may contain only letters, digits, '-', '_' and '.'",
    }, host);
  }
});

Deno.test("a host that ends in a numeric label must be a dotted-quad IPv4 address", () => {
  assertEquals(parseHostPort("host.123:1"), {
    error: "hostname's last label is all digits (not an IPv4 address either)",
  });
  assertEquals(parseHostPort("0x7f.1:1"), {
    error: "hostname's last label is all digits (not an IPv4 address either)",
  });
  for (const host of ["2130706433", "127.1", "1.2.3.4.5"]) {
    assertEquals(parseHostPort(`${host}:1`), {
      error: "invalid IPv4 address (four numbers 0-255, no leading zeros)",
    }, host);
  }
});

Deno.test("an IPv4 address parses; an octet over 255 or with a leading zero is refused", () => {
  assertEquals(parseHostPort("127.0.0.1:2181"), { host: "127.0.0.1", port: 2181 });
  assertEquals(parseHostPort("0.0.0.0:1"), { host: "0.0.0.0", port: 1 });
  assertEquals(parseHostPort("255.255.255.255:1"), { host: "255.255.255.255", port: 1 });
  for (const host of ["256.0.0.1", "1.2.3.999", "01.2.3.4", "1.2.3.00", "1.2.3.", "1.2..4"]) {
    assertEquals(parseHostPort(`${host}:1`), {
      error: "invalid IPv4 address (four numbers 0-255, no leading zeros)",
    }, host);
  }
});

Deno.test("a bracketed IPv6 address parses, returned without its brackets", () => {
  const valid = [
    "::1",
    "::",
    "fe80::1",
    "2001:db8::8a2e:370:7334",
    "2001:0db8:0000:0000:0000:8a2e:0370:7334",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "::ffff:192.0.2.1",
    "64:ff9b::192.0.2.33",
    "1:2:3:4:5:6:1.2.3.4",
    "ABCD::EF",
  ];
  for (const host of valid) {
    assertEquals(parseHostPort(`[${host}]:8123`), { host, port: 8123 }, host);
  }
});

Deno.test("an invalid IPv6 address is refused", () => {
  const invalid = [
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    ":::",
    "1:::2",
    ":1:2:3:4:5:6:7",
    "12345::1",
    "g::1",
    "1:2:3:4:5:6:7::8",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::1.2.3.256",
    "fe80::1%eth0",
    "",
    "127.0.0.1",
  ];
  for (const host of invalid) {
    assertEquals(parseHostPort(`[${host}]:1`), { error: "invalid IPv6 address" }, host);
  }
  assertEquals(parseHostPort("[::1"), { error: "missing ']' after the IPv6 address" });
  assertEquals(parseHostPort("[::1]"), { error: "missing ':port' after ']'" });
  assertEquals(parseHostPort("[::1]x:1"), { error: "missing ':port' after ']'" });
});

Deno.test("an IPv6 address without brackets is refused", () => {
  for (const text of ["::1:2181", "fe80::1:8123", "2001:db8::1:80"]) {
    assertEquals(parseHostPort(text), {
      error: "an IPv6 address must be in brackets: [addr]:port",
    }, text);
  }
});

Deno.test("the port is 1-65535 in plain decimal", () => {
  assertEquals(parseHostPort("h:0"), { error: "port must be 1-65535" });
  assertEquals(parseHostPort("h:65536"), { error: "port must be 1-65535" });
  assertEquals(parseHostPort("h:99999"), { error: "port must be 1-65535" });
  assertEquals(parseHostPort("h:99999999999999999999999"), { error: "port must be 1-65535" });
  assertEquals(parseHostPort("h:abc"), { error: "port must be decimal digits" });
  assertEquals(parseHostPort("h:+1"), { error: "port must be decimal digits" });
  assertEquals(parseHostPort("h:-1"), { error: "port must be decimal digits" });
  assertEquals(parseHostPort("h:1e3"), { error: "port must be decimal digits" });
  assertEquals(parseHostPort("h:0x50"), { error: "port must be decimal digits" });
  assertEquals(parseHostPort("h:٣"), { error: "port must be decimal digits" });
  assertEquals(parseHostPort("h:01"), { error: "port must not have leading zeros" });
  assertEquals(parseHostPort("h:00"), { error: "port must not have leading zeros" });
  assertEquals(parseHostPort("h:"), { error: "missing port" });
  assertEquals(parseHostPort("[::1]:0"), { error: "port must be 1-65535" });
});

Deno.test("host and port are both required", () => {
  assertEquals(parseHostPort(""), { error: "empty" });
  assertEquals(parseHostPort("localhost"), { error: "missing ':port'" });
  assertEquals(parseHostPort(":2023"), { error: "missing host" });
});

Deno.test("nothing is trimmed: whitespace anywhere is an error", () => {
  for (
    const text of [" localhost:1", "localhost:1 ", "local host:1", "h:1\n", "h:\t1", "h\u00a0:1"]
  ) {
    assertEquals(parseHostPort(text), { error: "contains whitespace" }, JSON.stringify(text));
  }
});

Deno.test("formatHostPort writes host:port back, bracketing IPv6", () => {
  assertEquals(formatHostPort({ host: "localhost", port: 2023 }), "localhost:2023");
  assertEquals(formatHostPort({ host: "10.0.0.1", port: 1 }), "10.0.0.1:1");
  assertEquals(formatHostPort({ host: "::1", port: 2181 }), "[::1]:2181");
  for (const text of ["localhost:2023", "[fe80::1]:8123", "127.0.0.1:9000"]) {
    const parsed = parseHostPort(text);
    assert(!("error" in parsed), text);
    assertEquals(formatHostPort(parsed), text);
  }
});

Deno.test("HostPortSchema turns host:port into { host, port } and explains a refusal", () => {
  assertEquals(v.parse(HostPortSchema, "[::1]:8123"), { host: "::1", port: 8123 });
  const refused = v.safeParse(HostPortSchema, "localhost:99999");
  assert(!refused.success);
  assertEquals(refused.issues.map((issue) => issue.message), [
    '"localhost:99999" is not host:port (port must be 1-65535)',
  ]);
  assert(!v.safeParse(HostPortSchema, 2023).success);
});

Deno.test("a label of underscores only, or a lone dot, is no hostname, with the right reason", () => {
  // Issue 20: `_:80` was accepted and sent; `.:80` was called an invalid IPv4 address.
  assertEquals(parseHostPort("_:80"), { error: "hostname label has no letter or digit" });
  assertEquals(parseHostPort("a.__.b:80"), { error: "hostname label has no letter or digit" });
  assertEquals(parseHostPort(".:80"), { error: "empty label in hostname" });
  assertEquals(parseHostPort("..:80"), { error: "empty label in hostname" });
  assertEquals(parseHostPort("_a:80"), { host: "_a", port: 80 });
});

Deno.test("a service's address may not be the unspecified address", () => {
  for (const text of ["0.0.0.0:80", "[::]:80", "[::ffff:0.0.0.0]:80", "[0:0:0:0:0:0:0:0]:80"]) {
    const parsed = parseServiceAddress(text);
    assert("error" in parsed && /is the unspecified address/.test(parsed.error), text);
  }
  assertEquals(parseServiceAddress("10.0.0.1:8123"), { host: "10.0.0.1", port: 8123 });
  assertEquals(parseServiceAddress("_:80"), { error: "hostname label has no letter or digit" });
  // Elsewhere (ZK_HOST, a health check) 0.0.0.0 is the local machine to Linux: accepted.
  assertEquals(parseHostPort("0.0.0.0:2181"), { host: "0.0.0.0", port: 2181 });
});
