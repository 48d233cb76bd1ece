import * as v from "valibot";
import {
  BooleanSchema,
  durationMs,
  DurationSchema,
  EnumSchema,
  IntegerSchema,
  LogLevelSchema,
  NonEmptyStringSchema,
  type OptionSpecs,
  parseOptions,
  type ParseResult,
  PortSchema,
  PositiveMsSchema,
  renderHelp,
  UrlSchema,
} from "../../src/shared/options.ts";
import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";

/** A program's options much like the monitor's: one of every kind. */
const specs = {
  zkHost: {
    flag: "zk-host",
    env: "ZK_HOST",
    description: "ZooKeeper connection string, host:port[,host:port...][/chroot].",
    placeholder: "HOSTS",
    schema: NonEmptyStringSchema,
    required: true,
  },
  statusPort: {
    flag: "status-port",
    env: "STATUS_PORT",
    description: "Serve /healthz, /readyz and /metrics on this port.",
    placeholder: "PORT",
    schema: PortSchema,
  },
  asabruApiUrl: {
    flag: "asabru-api-url",
    env: "ASABRU_API_URL",
    description: "The proxy's update URL; unset: dry-run.",
    placeholder: "URL",
    schema: UrlSchema,
    repeatable: true,
  },
  sessionTimeoutMs: {
    flag: "session-timeout-ms",
    env: "SESSION_TIMEOUT_MS",
    description: "Requested ZooKeeper session timeout in milliseconds.",
    placeholder: "MS",
    schema: PositiveMsSchema,
    default: 10_000,
  },
  resyncInterval: {
    flag: "resync-interval",
    env: "RESYNC_INTERVAL",
    description: "Full resync every so often (250ms, 2s, 1m, 1h); unset: never.",
    placeholder: "DURATION",
    schema: DurationSchema,
  },
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    description: "Lowest level logged.",
    placeholder: "LEVEL",
    schema: LogLevelSchema,
    default: "info",
  },
  dryRun: {
    flag: "dry-run",
    env: "DRY_RUN",
    description: "Log what would be sent to the proxy instead of sending it.",
    schema: BooleanSchema,
    boolean: true,
    default: false,
  },
  zkAuth: {
    flag: "zk-auth",
    env: "ZK_AUTH",
    description: "Digest credentials user:password.",
    placeholder: "USER:PASSWORD",
    schema: v.pipe(v.string(), v.regex(/^[^:]+:.+$/, "is not user:password")),
    secret: true,
  },
} satisfies OptionSpecs;

const ENOUGH = ["--zk-host", "zk:2181"];

function parse(args: string[], env: Record<string, string> = {}): ParseResult<typeof specs> {
  return parseOptions(specs, args, new Map(Object.entries(env)));
}

function valueOf(args: string[], env: Record<string, string> = {}) {
  const result = parse(args, env);
  assert(result.ok && !result.help, `expected values, got ${Deno.inspect(result)}`);
  return result.value;
}

function problemsOf(args: string[], env: Record<string, string> = {}): string[] {
  const result = parse(args, env);
  assert(!result.ok, `expected problems, got ${Deno.inspect(result)}`);
  for (const line of result.problems) {
    assert(!/[\r\n\u2028\u2029]/.test(line), `not one line: ${line}`);
  }
  return result.problems;
}

// --- values ----------------------------------------------------------------------------------------

Deno.test("defaults fill what neither flag nor variable gives; no default is undefined", () => {
  assertEquals(valueOf(ENOUGH), {
    zkHost: "zk:2181",
    statusPort: undefined,
    asabruApiUrl: [],
    sessionTimeoutMs: 10_000,
    resyncInterval: undefined,
    logLevel: "info",
    dryRun: false,
    zkAuth: undefined,
  });
});

Deno.test("variables are read and converted by the schemas", () => {
  const value = valueOf([], {
    ZK_HOST: "zk1:2181,zk2:2181/ch",
    STATUS_PORT: "9090",
    SESSION_TIMEOUT_MS: "4000",
    RESYNC_INTERVAL: "1.5s",
    LOG_LEVEL: "debug",
    DRY_RUN: "yes",
    ZK_AUTH: "user:pw",
  });
  assertEquals(value.zkHost, "zk1:2181,zk2:2181/ch");
  assertEquals(value.statusPort, 9090);
  assertEquals(value.sessionTimeoutMs, 4000);
  assertEquals(value.resyncInterval, 1500);
  assertEquals(value.logLevel, "debug");
  assertEquals(value.dryRun, true);
  assertEquals(value.zkAuth, "user:pw");
});

Deno.test("a flag wins over its variable; other variables still apply", () => {
  const value = valueOf(["--status-port", "9091", "--zk-host=flag:1"], {
    ZK_HOST: "env:1",
    STATUS_PORT: "9090",
    LOG_LEVEL: "warning",
  });
  assertEquals([value.zkHost, value.statusPort, value.logLevel], ["flag:1", 9091, "warning"]);
});

Deno.test("--name value and --name=value mean the same; = allows a value starting with -", () => {
  assertEquals(valueOf(["--zk-host", "a:1"]).zkHost, "a:1");
  assertEquals(valueOf(["--zk-host=a:1"]).zkHost, "a:1");
  assertEquals(valueOf([...ENOUGH, "--zk-auth=-user:pw"]).zkAuth, "-user:pw");
  assertEquals(valueOf(["--zk-host=a=b"]).zkHost, "a=b", "split at the first =");
});

Deno.test("an empty or blank variable is unset", () => {
  const value = valueOf(ENOUGH, { STATUS_PORT: "", LOG_LEVEL: "  ", ASABRU_API_URL: "" });
  assertEquals([value.statusPort, value.logLevel, value.asabruApiUrl], [undefined, "info", []]);
  assertEquals(problemsOf([], { ZK_HOST: " " }), ["--zk-host (ZK_HOST): is required but not set"]);
});

Deno.test("a repeatable flag collects; its variable is comma-separated; flags replace it", () => {
  const env = { ASABRU_API_URL: " http://p1:8080/updateService, ,https://p2/updateService," };
  assertEquals(valueOf(ENOUGH, env).asabruApiUrl, [
    "http://p1:8080/updateService",
    "https://p2/updateService",
  ]);
  assertEquals(
    valueOf([...ENOUGH, "--asabru-api-url", "http://a/", "--asabru-api-url=http://b/"], env)
      .asabruApiUrl,
    ["http://a/", "http://b/"],
  );
});

Deno.test("switches: --name, --no-name, --name=VALUE and the variable's words", () => {
  assertEquals(valueOf([...ENOUGH, "--dry-run"]).dryRun, true);
  assertEquals(valueOf([...ENOUGH, "--no-dry-run"], { DRY_RUN: "1" }).dryRun, false);
  assertEquals(valueOf([...ENOUGH, "--dry-run=no"]).dryRun, false);
  for (const word of ["1", "true", "YES", "Yes"]) {
    assertEquals(valueOf(ENOUGH, { DRY_RUN: word }).dryRun, true, word);
  }
  for (const word of ["0", "false", "No"]) {
    assertEquals(valueOf(ENOUGH, { DRY_RUN: word }).dryRun, false, word);
  }
  assertEquals(problemsOf([...ENOUGH], { DRY_RUN: "maybe" }), [
    '--dry-run (DRY_RUN): "maybe" is not a switch value (1, true, yes, 0, false, no)',
  ]);
  assertEquals(problemsOf([...ENOUGH, "--no-dry-run=yes"]), ["--no-dry-run: takes no value"]);
  assertEquals(problemsOf([...ENOUGH, "--dry-run", "yes"]), [
    '"yes": unexpected argument (only options are accepted; see --help)',
  ]);
});

Deno.test("help: -h or --help anywhere, and nothing else is checked", () => {
  assertEquals(parse(["--help"]), { ok: true, help: true });
  assertEquals(parse(["--bogus", "-h", "stray"], { STATUS_PORT: "abc" }), { ok: true, help: true });
});

// --- problems --------------------------------------------------------------------------------------

Deno.test("one problem: exactly one line naming the flag and the variable", () => {
  assertEquals(problemsOf([...ENOUGH, "--status-port", "abc"]), [
    '--status-port (STATUS_PORT): "abc" is not a port (1-65535)',
  ]);
  assertEquals(problemsOf(ENOUGH, { STATUS_PORT: "65536" }), [
    '--status-port (STATUS_PORT): "65536" is not a port (1-65535)',
  ]);
});

Deno.test("every problem is collected, each on its own line", () => {
  assertEquals(
    problemsOf(
      ["--status-port=0", "--bogus=x", "stray", "--asabru-api-url", "ftp://p/", "--log-level"],
      {
        SESSION_TIMEOUT_MS: "10s",
        RESYNC_INTERVAL: "500",
        ASABRU_API_URL: "ignored, since the flag wins",
      },
    ),
    [
      "--bogus: unknown option (see --help)",
      '"stray": unexpected argument (only options are accepted; see --help)',
      '--log-level (LOG_LEVEL): needs a value (one starting with "-": --log-level=VALUE)',
      "--zk-host (ZK_HOST): is required but not set",
      '--status-port (STATUS_PORT): "0" is not a port (1-65535)',
      '--asabru-api-url (ASABRU_API_URL): "ftp://p/" is not an http:// or https:// URL',
      '--session-timeout-ms (SESSION_TIMEOUT_MS): "10s" is not a positive whole number of milliseconds',
      '--resync-interval (RESYNC_INTERVAL): "500" is not a duration (a positive number with a unit: 250ms, 2s, 1m, 1h)',
    ],
  );
});

Deno.test("a bad item of a repeatable variable is named; the good ones are not", () => {
  assertEquals(problemsOf(ENOUGH, { ASABRU_API_URL: "http://ok/,nope,http://also-ok/" }), [
    '--asabru-api-url (ASABRU_API_URL): "nope" is not an http:// or https:// URL',
  ]);
});

Deno.test("a flag that may not repeat, given twice, is a problem", () => {
  assertEquals(problemsOf(["--zk-host", "a:1", "--zk-host", "b:1"]), [
    "--zk-host (ZK_HOST): given 2 times; give it once",
  ]);
});

Deno.test("unknown options: single dash, a misspelt flag without its value, after --", () => {
  assertEquals(problemsOf([...ENOUGH, "-x", "--zk-ath=user:secret", "--", "--zk-host"]), [
    "-x: unknown option (see --help)",
    "--zk-ath: unknown option (see --help)",
    '"--zk-host": unexpected argument (only options are accepted; see --help)',
  ]);
});

Deno.test("a leading -- (from `deno task monitor -- ...`) is skipped, a later one ends the options", () => {
  assertEquals(valueOf(["--", ...ENOUGH]).zkHost, "zk:2181");
  assertEquals(parse(["--", "--help"]), { ok: true, help: true });
  assertEquals(problemsOf(["--", ...ENOUGH, "--", "--zk-host"]), [
    '"--zk-host": unexpected argument (only options are accepted; see --help)',
  ]);
});

Deno.test("a secret value is never echoed, even by a message that quotes its input", () => {
  const lines = problemsOf([...ENOUGH, "--zk-auth", "hunter2"]);
  assertEquals(lines, ["--zk-auth (ZK_AUTH): value (hidden) is not user:password"]);

  const quoting = {
    token: {
      flag: "token",
      env: "TOKEN",
      description: "An API token.",
      schema: v.pipe(v.string(), v.regex(/^tk_/)), // valibot's default message quotes the input
      secret: true,
    },
  } satisfies OptionSpecs;
  const result = parseOptions(quoting, [], new Map([["TOKEN", "s3cr3t-value"]]));
  assertEquals(result, { ok: false, problems: ["--token (TOKEN): value (hidden) is not valid"] });
});

Deno.test("valibot's default messages follow a colon; control characters are escaped", () => {
  const plain = {
    name: { flag: "name", description: "A name.", schema: v.pipe(v.string(), v.maxLength(3)) },
  } satisfies OptionSpecs;
  assertEquals(parseOptions(plain, ["--name=a\nbcd"], new Map()), {
    ok: false,
    problems: ['--name: "a\\nbcd": Invalid length: Expected <=3 but received 5'],
  });
  assertEquals(parseOptions(plain, ["x\u2028y"], new Map()), {
    ok: false,
    problems: ['"x\\u2028y": unexpected argument (only options are accepted; see --help)'],
  });
});

Deno.test("a long bad value is shortened", () => {
  const [line] = problemsOf([...ENOUGH, `--status-port=${"9".repeat(500)}`]);
  assert(line.length < 250, line);
  assert(line.endsWith(`… (500 characters) is not a port (1-65535)`), line);
});

Deno.test("wrong specs are a programming error", () => {
  const bad = (flag: string) => ({ x: { flag, description: "", schema: NonEmptyStringSchema } });
  for (const flag of ["Zk", "--zk", "help", "no-thing", "", "a b"]) {
    assertThrows(() => parseOptions(bad(flag), [], new Map()), TypeError, "bad flag name");
  }
  const twice = {
    a: { flag: "a", env: "A", description: "", schema: NonEmptyStringSchema },
    b: { flag: "a", description: "", schema: NonEmptyStringSchema },
  };
  assertThrows(() => parseOptions(twice, [], new Map()), TypeError, "duplicate flag --a");
  const sameEnv = {
    a: { flag: "a", env: "A", description: "", schema: NonEmptyStringSchema },
    b: { flag: "b", env: "A", description: "", schema: NonEmptyStringSchema },
  };
  assertThrows(() => parseOptions(sameEnv, [], new Map()), TypeError, "duplicate variable A");
});

// --- schemas ---------------------------------------------------------------------------------------

Deno.test("schemas: the values they accept and what they make of them", () => {
  const ok = <T>(schema: v.GenericSchema<string, T>, text: string) => {
    const result = v.safeParse(schema, text);
    assert(result.success, `${Deno.inspect(text)} refused: ${result.issues?.[0].message}`);
    return result.output;
  };
  const refused = (schema: v.GenericSchema<string, unknown>, text: string) => {
    const result = v.safeParse(schema, text);
    assert(!result.success, `${Deno.inspect(text)} accepted`);
    return result.issues[0].message;
  };
  assertEquals([ok(PortSchema, "1"), ok(PortSchema, "65535"), ok(PortSchema, " 80 ")], [
    1,
    65535,
    80,
  ]);
  for (const text of ["0", "65536", "-1", "1e3", "0x50", "80.0", "", "eighty"]) {
    assertEquals(refused(PortSchema, text), "is not a port (1-65535)", text);
  }
  assertEquals(ok(IntegerSchema(1, 64), "64"), 64);
  assertEquals(refused(IntegerSchema(1, 64), "65"), "is not an integer from 1 to 64");
  assertEquals(ok(PositiveMsSchema, "250"), 250);
  assertEquals(refused(PositiveMsSchema, "0"), "is not a positive whole number of milliseconds");

  const durations: [string, number][] = [
    ["250ms", 250],
    ["2s", 2000],
    ["2.3s", 2300],
    ["1.5m", 90_000],
    ["1h", 3_600_000],
  ];
  for (const [text, ms] of durations) assertEquals(ok(DurationSchema, text), ms, text);
  for (const text of ["500", "0s", "1.5ms", "2 s", "1d", "-1s", "s"]) {
    assertEquals(durationMs(text), undefined, text);
    refused(DurationSchema, text);
  }

  assertEquals(
    ok(UrlSchema, " https://proxy:8443/updateService "),
    "https://proxy:8443/updateService",
  );
  for (const text of ["proxy:8080/updateService", "ftp://p/", "http://", "file:///x", ""]) {
    assertEquals(refused(UrlSchema, text), "is not an http:// or https:// URL", text);
  }
  assertEquals(ok(NonEmptyStringSchema, "  /cluster1 "), "/cluster1");
  assertEquals(refused(NonEmptyStringSchema, " \t"), "is empty");
  assertEquals(ok(LogLevelSchema, "warning"), "warning");
  // Case is not the user's business (issue 20: LOG_LEVEL=DEBUG was refused).
  assertEquals([ok(LogLevelSchema, "DEBUG"), ok(LogLevelSchema, " Info ")], ["debug", "info"]);
  assertEquals(
    refused(LogLevelSchema, "warn"),
    "is not a log level (trace, debug, info, warning, error, fatal; any case)",
  );
  const mode = EnumSchema(["monitor", "client"]);
  assertEquals(ok(mode, "client"), "client");
  assertEquals(refused(mode, "Client"), "is not one of monitor, client");
  assertEquals([ok(BooleanSchema, "TRUE"), ok(BooleanSchema, " no ")], [true, false]);
});

// --- help ------------------------------------------------------------------------------------------

Deno.test("help lists every flag, variable and default, aligned, within 100 columns", () => {
  const help = renderHelp({
    program: "zkcm-monitor",
    summary: "Watches a ZooKeeper root and tells the Asabru proxy about every service that " +
      "appears or disappears, so that no request is routed to a dead node.",
    usage: "monitor [options]",
    specs,
    footer: "Example:\n  ZK_HOST=zk:2181 ZK_ROOT_NODE=/cluster1 monitor --dry-run",
  });
  const lines = help.split("\n");
  for (const line of lines) assert(line.length <= 100, `too long (${line.length}): ${line}`);
  for (const spec of Object.values(specs)) {
    assert(help.includes(`--${spec.flag}`), `--${spec.flag} missing`);
    assert(help.includes(spec.env), `${spec.env} missing`);
  }
  assert(help.includes("(default: 10000)"));
  assert(help.includes("(default: info)"));
  assert(help.includes("(required)"));
  assert(help.includes("-h, --help"));
  assert(help.endsWith("  ZK_HOST=zk:2181 ZK_ROOT_NODE=/cluster1 monitor --dry-run\n"));

  // Every option row starts its variable, and its description, in the same column.
  const rows = lines.filter((line) => /^ {2}--/.test(line));
  assertEquals(rows.length, Object.keys(specs).length);
  const envColumns = new Set(
    Object.values(specs).map((spec) => {
      const row = rows.find((line) => line.includes(`${spec.flag} `))!;
      return row.indexOf(` ${spec.env} `);
    }),
  );
  assertEquals(envColumns.size, 1, "variables aligned");
  const zkHost = lines.findIndex((line) => line.startsWith("  --zk-host"));
  assertEquals(lines.slice(zkHost, zkHost + 2), [
    "  --zk-host HOSTS             ZK_HOST             ZooKeeper connection string,",
    `${" ".repeat(50)}host:port[,host:port...][/chroot]. (required)`,
  ]);
});

Deno.test("help shows a switch as --[no-]name and hides a secret's default", () => {
  const help = renderHelp({
    program: "p",
    summary: "s",
    usage: "p",
    specs: {
      dry: { flag: "dry-run", description: "Dry.", schema: BooleanSchema, boolean: true },
      key: {
        flag: "key",
        description: "Key.",
        schema: NonEmptyStringSchema,
        default: "s3cr3t",
        secret: true,
      },
    },
  });
  assertEquals(
    help,
    [
      "p: s",
      "",
      "Usage: p",
      "",
      "Options (each flag has the environment variable beside it, of the same meaning; a flag wins):",
      "  --[no-]dry-run  Dry.",
      "  --key VALUE     Key.",
      "  -h, --help      Show this help and exit.",
      "",
    ].join("\n"),
  );
});
