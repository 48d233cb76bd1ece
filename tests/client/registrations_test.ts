import {
  formatProblem,
  formatProblems,
  MAX_ENTRIES,
  MAX_NODES_FILE_BYTES,
  parseNodesJson,
  parseRegisterFlags,
  planRegistrations,
  type Problem,
  readErrorProblem,
  readNodesFile,
  type Result,
  splitRegisterEnv,
} from "../../src/client/registrations.ts";
import { duplicateTopLevelKeys } from "../../src/client/_duplicate_json_keys.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

const DESIGN_SAMPLE = `{
  "/cluster1": "",
  "/cluster1/ch_http_node1": "",
  "/cluster1/ch_http_node1/ch_http_service2": "localhost:2023"
}`;

/** The formatted problem lines of a failed result; fails the test on success. */
function linesOf<T>(result: Result<T>): string[] {
  assert(!result.ok, `expected problems, got ${Deno.inspect(result)}`);
  const lines = formatProblems(result.problems);
  for (const line of lines) assert(!/[\r\n\u2028\u2029]/.test(line), `not one line: ${line}`);
  return lines;
}

async function withTempDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "zkcm_registrations_" });
  try {
    await use(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// --- the plan ------------------------------------------------------------------------------------

Deno.test("the DESIGN.md sample: two persistent parents and one ephemeral service", () => {
  const parsed = parseNodesJson(DESIGN_SAMPLE, "nodes.json");
  assert(parsed.ok);
  assertEquals(planRegistrations(parsed.value, "nodes.json"), {
    ok: true,
    value: {
      persistent: [
        { path: "/cluster1", data: "", listed: true },
        { path: "/cluster1/ch_http_node1", data: "", listed: true },
      ],
      ephemeral: [
        {
          path: "/cluster1/ch_http_node1/ch_http_service2",
          data: "localhost:2023",
          host: "localhost",
          port: 2023,
        },
      ],
    },
  });
});

Deno.test("missing ancestors are planned persistent with empty data", () => {
  const plan = planRegistrations({ "/c/n/s": "localhost:2023" });
  assert(plan.ok);
  assertEquals(plan.value.persistent, [
    { path: "/c", data: "", listed: false },
    { path: "/c/n", data: "", listed: false },
  ]);
  assertEquals(plan.value.ephemeral.map((service) => service.path), ["/c/n/s"]);
});

Deno.test("a listed parent is persistent and keeps its listed data", () => {
  const plan = planRegistrations(new Map([["/c/n/s", "h:1"], ["/c/n", "end point notes"]]));
  assert(plan.ok);
  assertEquals(plan.value.persistent, [
    { path: "/c", data: "", listed: false },
    { path: "/c/n", data: "end point notes", listed: true },
  ]);
});

Deno.test("parents come first (by depth, then path); services are ordered by path", () => {
  const plan = planRegistrations({
    "/z/n2/s1": "h:1",
    "/a/n1/s2": "h:2",
    "/a/n1/s1": "[::1]:3",
    "/z/n1/s1": "10.0.0.1:4",
  });
  assert(plan.ok);
  assertEquals(plan.value.persistent.map((node) => node.path), [
    "/a",
    "/z",
    "/a/n1",
    "/z/n1",
    "/z/n2",
  ]);
  assertEquals(plan.value.ephemeral, [
    { path: "/a/n1/s1", data: "[::1]:3", host: "::1", port: 3 },
    { path: "/a/n1/s2", data: "h:2", host: "h", port: 2 },
    { path: "/z/n1/s1", data: "10.0.0.1:4", host: "10.0.0.1", port: 4 },
    { path: "/z/n2/s1", data: "h:1", host: "h", port: 1 },
  ]);
});

Deno.test("every leaf is a service, so its data must be host:port", () => {
  assertEquals(linesOf(planRegistrations({ "/c": "" }, "nodes.json")), [
    'nodes.json: "/c": data "" is not host:port (empty)',
  ]);
  assertEquals(linesOf(planRegistrations({ "/c/n/s": "host:99999" }, "nodes.json")), [
    'nodes.json: "/c/n/s": data "host:99999" is not host:port (port must be 1-65535)',
  ]);
});

Deno.test("bad ports in service data are each named with the path", () => {
  const plan = planRegistrations({
    "/c/n/p0": "h:0",
    "/c/n/p65536": "h:65536",
    "/c/n/p99999": "h:99999",
    "/c/n/pabc": "h:abc",
    "/c/n/pplus": "h:+1",
    "/c/n/pzero": "h:01",
  }, "nodes.json");
  assertEquals(linesOf(plan), [
    'nodes.json: "/c/n/p0": data "h:0" is not host:port (port must be 1-65535)',
    'nodes.json: "/c/n/p65536": data "h:65536" is not host:port (port must be 1-65535)',
    'nodes.json: "/c/n/p99999": data "h:99999" is not host:port (port must be 1-65535)',
    'nodes.json: "/c/n/pabc": data "h:abc" is not host:port (port must be decimal digits)',
    'nodes.json: "/c/n/pplus": data "h:+1" is not host:port (port must be decimal digits)',
    'nodes.json: "/c/n/pzero": data "h:01" is not host:port (port must not have leading zeros)',
  ]);
});

Deno.test("service data: bracketed IPv6 is accepted, unbracketed refused, IPv4 checked", () => {
  const plan = planRegistrations({
    "/c/n/v6": "[fe80::1]:8123",
    "/c/n/bare": "fe80::1:8123",
    "/c/n/v4": "10.0.0.256:8123",
  }, "nodes.json");
  assertEquals(linesOf(plan), [
    'nodes.json: "/c/n/bare": data "fe80::1:8123" is not host:port ' +
    "(an IPv6 address must be in brackets: [addr]:port)",
    'nodes.json: "/c/n/v4": data "10.0.0.256:8123" is not host:port ' +
    "(invalid IPv4 address (four numbers 0-255, no leading zeros))",
  ]);
});

Deno.test("a plan validates its paths again, and nothing to register is a problem", () => {
  assertEquals(linesOf(planRegistrations({ "relative": "h:1", "/ok/s": "h:1" }, "REGISTER")), [
    `REGISTER: "relative": must be absolute (start with '/')`,
  ]);
  assertEquals(linesOf(planRegistrations({}, "nodes.json", "/etc/nodes.json")), [
    'nodes.json "/etc/nodes.json": nothing to register',
  ]);
});

// --- nodes.json ----------------------------------------------------------------------------------

Deno.test("nodes.json: every invalid path is reported, one line each", () => {
  const text = JSON.stringify({
    "cluster1": "",
    "/cluster1/../x": "",
    "/zookeeper/x": "",
    "/cluster1/": "",
    "/cluster1//n": "",
    "/cluster1/a\u0001b": "",
    "/": "",
    "/cluster1/ok/s": "localhost:1",
  });
  assertEquals(linesOf(parseNodesJson(text, "nodes.json")), [
    `nodes.json: "cluster1": must be absolute (start with '/')`,
    `nodes.json: "/cluster1/../x": '.' or '..' segment`,
    `nodes.json: "/zookeeper/x": the /zookeeper subtree is reserved`,
    `nodes.json: "/cluster1/": trailing '/'`,
    `nodes.json: "/cluster1//n": empty segment ('//')`,
    `nodes.json: "/cluster1/a\\u0001b": control or reserved character U+0001`,
    `nodes.json: "/": the root '/' cannot be registered`,
  ]);
});

Deno.test("nodes.json: data must be a string", () => {
  const text = '{"/c/a": 2023, "/c/b": null, "/c/c": {"host": "h"}, "/c/d": ["h:1"], "/c/e": true}';
  assertEquals(linesOf(parseNodesJson(text, "nodes.json")), [
    'nodes.json: "/c/a": data must be a string, not a number (2023)',
    'nodes.json: "/c/b": data must be a string, not null',
    'nodes.json: "/c/c": data must be a string, not an object',
    'nodes.json: "/c/d": data must be a string, not an array',
    'nodes.json: "/c/e": data must be a string, not a boolean (true)',
  ]);
});

Deno.test("nodes.json: a bad path and bad data in one entry are both reported", () => {
  assertEquals(linesOf(parseNodesJson('{"x": 1}', "nodes.json")), [
    `nodes.json: "x": must be absolute (start with '/')`,
    'nodes.json: "x": data must be a string, not a number (1)',
  ]);
});

Deno.test("nodes.json: invalid JSON, a non-object top level, an empty object are refused", () => {
  const invalid = linesOf(parseNodesJson('{"/c": "",}', "nodes.json"));
  assertEquals(invalid.length, 1);
  assert(invalid[0].startsWith("nodes.json: is not valid JSON ("), invalid[0]);
  assertEquals(linesOf(parseNodesJson('["/c"]', "nodes.json")), [
    "nodes.json: must be a JSON object mapping znode path to data, not an array",
  ]);
  assertEquals(linesOf(parseNodesJson('"/c"', "nodes.json")), [
    "nodes.json: must be a JSON object mapping znode path to data, not a string",
  ]);
  assertEquals(linesOf(parseNodesJson("null", "nodes.json")), [
    "nodes.json: must be a JSON object mapping znode path to data, not null",
  ]);
  assertEquals(linesOf(parseNodesJson("{}", "nodes.json")), ["nodes.json: has no entries"]);
  assertEquals(linesOf(parseNodesJson(" \n", "nodes.json")), ["nodes.json: is empty"]);
});

Deno.test("nodes.json: valid text gives the entries as listed", () => {
  assertEquals(parseNodesJson(DESIGN_SAMPLE), {
    ok: true,
    value: {
      "/cluster1": "",
      "/cluster1/ch_http_node1": "",
      "/cluster1/ch_http_node1/ch_http_service2": "localhost:2023",
    },
  });
});

// --- --register and REGISTER ---------------------------------------------------------------------

Deno.test("--register PATH=DATA splits at the first '='", () => {
  assertEquals(parseRegisterFlags(["/c/n/s=localhost:2023", "/c/n=a=b", "/c="]), {
    ok: true,
    value: { "/c/n/s": "localhost:2023", "/c/n": "a=b", "/c": "" },
  });
  assertEquals(parseRegisterFlags([]), { ok: true, value: {} });
});

Deno.test("--register: a value without '=', a bad path, a conflicting repeat are reported", () => {
  const result = parseRegisterFlags([
    "/c/n/s",
    "../x=h:1",
    "/c/n/t=h:1",
    "/c/n/t=h:1",
    "/c/n/t=h:2",
  ]);
  assertEquals(linesOf(result), [
    '--register: "/c/n/s" is not PATH=DATA',
    `--register: "../x": must be absolute (start with '/')`,
    '--register: "/c/n/t": listed twice with different data ("h:1" and "h:2")',
  ]);
});

Deno.test("REGISTER is comma-separated; spaces around items and empty items are ignored", () => {
  assertEquals(splitRegisterEnv("/c/n/a=h1:1, /c/n/b=h2:2,"), ["/c/n/a=h1:1", "/c/n/b=h2:2"]);
  assertEquals(splitRegisterEnv(""), []);
  assertEquals(splitRegisterEnv(" , "), []);
  assertEquals(linesOf(parseRegisterFlags(splitRegisterEnv("/c/n/a=h:1,oops"), "REGISTER")), [
    'REGISTER: "oops" is not PATH=DATA',
  ]);
});

// --- reading the file ----------------------------------------------------------------------------

Deno.test("readNodesFile reads and parses a nodes.json", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nodes.json`;
    await Deno.writeTextFile(file, DESIGN_SAMPLE);
    assertEquals(await readNodesFile(file), parseNodesJson(DESIGN_SAMPLE));
  });
});

Deno.test("readNodesFile: parse problems name the file too", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nodes.json`;
    await Deno.writeTextFile(file, '{"/c/../x": ""}');
    assertEquals(linesOf(await readNodesFile(file)), [
      `nodes.json ${JSON.stringify(file)}: "/c/../x": '.' or '..' segment`,
    ]);
  });
});

Deno.test("readNodesFile: a missing file is one problem naming it", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nodes.json`;
    assertEquals(linesOf(await readNodesFile(file)), [
      `nodes.json ${JSON.stringify(file)}: not found`,
    ]);
    const underAFile = `${dir}/plain/nodes.json`;
    await Deno.writeTextFile(`${dir}/plain`, "");
    assertEquals(linesOf(await readNodesFile(underAFile)), [
      `nodes.json ${JSON.stringify(underAFile)}: not found (a parent is not a directory)`,
    ]);
  });
});

Deno.test("readNodesFile: a directory or a device is not a nodes file", async () => {
  await withTempDir(async (dir) => {
    assertEquals(linesOf(await readNodesFile(dir)), [
      `nodes.json ${JSON.stringify(dir)}: is a directory, not a file`,
    ]);
  });
  assertEquals(linesOf(await readNodesFile("/dev/null")), [
    'nodes.json "/dev/null": is not a regular file',
  ]);
});

Deno.test("readNodesFile: an empty file, a blank file, a non-UTF-8 file", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nodes.json`;
    await Deno.writeTextFile(file, "");
    assertEquals(linesOf(await readNodesFile(file)), [
      `nodes.json ${JSON.stringify(file)}: is empty`,
    ]);
    await Deno.writeTextFile(file, "\n  \n");
    assertEquals(linesOf(await readNodesFile(file)), [
      `nodes.json ${JSON.stringify(file)}: is empty`,
    ]);
    await Deno.writeFile(file, new Uint8Array([0x7b, 0xff, 0x7d]));
    assertEquals(linesOf(await readNodesFile(file)), [
      `nodes.json ${JSON.stringify(file)}: is not valid UTF-8`,
    ]);
  });
});

Deno.test("readNodesFile: a file of mode 000 is permission denied, except to root", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nodes.json`;
    await Deno.writeTextFile(file, DESIGN_SAMPLE);
    await Deno.chmod(file, 0o000);
    const result = await readNodesFile(file);
    if (Deno.uid() === 0) {
      // Root reads through mode 000; the mapping itself is proven by the next test.
      assertEquals(result, parseNodesJson(DESIGN_SAMPLE));
    } else {
      assertEquals(linesOf(result), [`nodes.json ${JSON.stringify(file)}: permission denied`]);
    }
  });
});

Deno.test("a read error maps to one problem naming the file", () => {
  const file = "/x/nodes.json";
  const messageOf = (error: unknown) => formatProblem(readErrorProblem(error, file));
  assertEquals(
    messageOf(new Deno.errors.PermissionDenied("Permission denied (os error 13)")),
    'nodes.json "/x/nodes.json": permission denied',
  );
  assertEquals(
    messageOf(new Deno.errors.NotFound("gone")),
    'nodes.json "/x/nodes.json": not found',
  );
  assertEquals(
    messageOf(new Deno.errors.IsADirectory("Is a directory (os error 21)")),
    'nodes.json "/x/nodes.json": is a directory, not a file',
  );
  assertEquals(
    messageOf(new Deno.errors.NotCapable("Requires read access")),
    'nodes.json "/x/nodes.json": read access not granted (--allow-read)',
  );
  assertEquals(
    messageOf(new Error("Input/output error\n(os error 5)")),
    'nodes.json "/x/nodes.json": cannot be read (Input/output error\\u000a(os error 5))',
  );
});

// --- formatting ----------------------------------------------------------------------------------

Deno.test("a problem is one line naming the input, the file, the path and the field", () => {
  const problem: Problem = {
    source: "nodes.json",
    file: "/etc/zkcm/nodes.json",
    path: "/c/n/s",
    field: "data",
    message: "\"x\" is not host:port (missing ':port')",
  };
  assertEquals(
    formatProblem(problem),
    `nodes.json "/etc/zkcm/nodes.json": "/c/n/s": data "x" is not host:port (missing ':port')`,
  );
  assertEquals(formatProblem({ source: "--register", message: "oops" }), "--register: oops");
});

Deno.test("user text cannot break a problem line or flood it", () => {
  const line = formatProblem({
    source: "nodes.json",
    file: "/tmp/evil\nINFO forged line",
    path: "/c/\u2028n",
    message: "raw \r\n\u0085 characters",
  });
  assertEquals(
    line,
    'nodes.json "/tmp/evil\\nINFO forged line": "/c/\\u2028n": ' +
      "raw \\u000d\\u000a\\u0085 characters",
  );
  const long = linesOf(planRegistrations({ "/c/n/s": `h:${"9".repeat(1000)}` }, "nodes.json"));
  assertEquals(long.length, 1);
  assert(long[0].length < 300, long[0]);
  assert(long[0].includes("… (1002 characters)"), long[0]);
});

// --- issue 20: what a fault-finding user tried ----------------------------------------------------

Deno.test("nodes.json: a path listed twice is refused, as --register refuses it", () => {
  const text = '{"/c/n/s": "a:1", "/c/n/t": "b:2", "/c/n/s": "a:1", "/c/n/\\u0074": "c:3"}';
  assertEquals(linesOf(parseNodesJson(text)), [
    'nodes.json: "/c/n/s": listed twice (JSON keeps only the last; list each path once)',
    'nodes.json: "/c/n/t": listed twice (JSON keeps only the last; list each path once)',
  ]);
  // Keys of nested values are not top-level paths (nested values are refused on their own).
  assertEquals(duplicateTopLevelKeys('{"/a": {"/a": [{"/a": 1}]}, "/b": "x:1"}'), []);
  assertEquals(duplicateTopLevelKeys('{"/a\\"": "", "/a\\"" : ""}'), ['/a"']);
});

Deno.test("nodes.json: more entries than one client registers are refused, before any check", () => {
  const entries: Record<string, string> = {};
  for (let i = 0; i <= MAX_ENTRIES; i++) entries[`/c/n/s${i}`] = "bad data";
  const lines = linesOf(parseNodesJson(JSON.stringify(entries)));
  assertEquals(lines, [
    `nodes.json: has ${
      MAX_ENTRIES + 1
    } entries, more than one client registers (at most ${MAX_ENTRIES})`,
  ]);
  delete entries["/c/n/s0"];
  for (const path of Object.keys(entries)) entries[path] = "h:1";
  assert(parseNodesJson(JSON.stringify(entries)).ok, "the limit itself is accepted");
});

Deno.test("readNodesFile: a file over the size limit is refused without being read", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/nodes.json`;
    using handle = await Deno.open(file, { create: true, write: true });
    await handle.truncate(MAX_NODES_FILE_BYTES + 1); // sparse: nothing to read anyway
    assertEquals(linesOf(await readNodesFile(file)), [
      `nodes.json ${JSON.stringify(file)}: is ${MAX_NODES_FILE_BYTES + 1} bytes, more than the ` +
      `limit of ${MAX_NODES_FILE_BYTES} (32 MiB)`,
    ]);
  });
});

Deno.test("service data: `_`, `0.0.0.0` and `[::]` are refused; `.` with its reason", () => {
  const lines = linesOf(planRegistrations({
    "/c/n/a": "_:80",
    "/c/n/b": "0.0.0.0:80",
    "/c/n/c": "[::]:80",
    "/c/n/d": ".:80",
  }));
  assertEquals(lines.length, 4);
  assert(lines[0].endsWith("(hostname label has no letter or digit)"), lines[0]);
  assert(/0\.0\.0\.0 is the unspecified address/.test(lines[1]), lines[1]);
  assert(/\[::\] is the unspecified address/.test(lines[2]), lines[2]);
  assert(lines[3].endsWith("(empty label in hostname)"), lines[3]);
});
