/**
 * The JSON lines the programs write: the fast path writes exactly what LogTape's own formatter
 * writes for the same record (after `withPlainStrings`, as the sink does), and leaves every other
 * record to it.
 */
import { getJsonLinesFormatter, getLogger, type LogRecord } from "@logtape/logtape";
import {
  configureLogging,
  jsonLine,
  MAX_LOGGED_CHARS,
  MAX_LOGGED_ITEMS,
  withPlainStrings,
} from "../../src/shared/logging.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

const logtape = getJsonLinesFormatter({ properties: "flatten" });

function record(
  message: unknown[],
  properties: Record<string, unknown>,
  level = "info",
): LogRecord {
  return {
    category: ["zkcm", "delivery"],
    level: level as LogRecord["level"],
    message,
    rawMessage: "template",
    timestamp: 1_764_000_000_123,
    properties,
  };
}

Deno.test("plain records come out as LogTape writes them", () => {
  const records = [
    record(["sent add ep/svc to http://proxy/updateService"], {
      proxy: "http://proxy/updateService",
      key: "ep/svc",
      op: "add",
      port: 8123,
      ms: 0,
      flag: true,
      none: null,
      missing: undefined,
    }),
    record(['a C1 control \u0085, a quote ", a newline \n, U+2028 \u2028, é'], {
      text: "\u009f\t",
    }),
    record(["warned"], {}, "warning"),
    record(["huge ", 1e21, " and odd ", NaN, ""], { n: -0, inf: Infinity }),
  ];
  for (const r of records) assertEquals(jsonLine(r), logtape(withPlainStrings(r)));
});

Deno.test("records with other values are left to LogTape", () => {
  assertEquals(jsonLine(record(["x"], { id: 10n })), undefined);
  assertEquals(jsonLine(record(["x"], { error: new Error("e") })), undefined);
  assertEquals(jsonLine(record(["x"], { list: ["a"] })), undefined);
  assertEquals(jsonLine(record(["value ", { a: 1 }, ""], {})), undefined);
});

Deno.test("a log reader that went away loses the lines, not the program", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const logging = new URL("../../src/shared/logging.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { getLogger } from "@logtape/logtape";
import { configureLogging } from ${JSON.stringify(logging)};
await configureLogging({ level: "info", format: "json" });
const log = getLogger(["zkcm", "test"]);
// Wait until the reader of stderr has gone, then log through a few turns of the event loop.
await Deno.stdin.readable.pipeTo(new WritableStream());
for (let i = 0; i < 3; i++) {
  log.info("line {i}", { i });
  await new Promise((resolve) => setTimeout(resolve, 10));
}
console.log("alive");
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        script,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await child.stderr.cancel(); // the log reader dies
    await child.stdin.close(); // then the program logs
    const { code, stdout } = await child.output();
    assertEquals([code, new TextDecoder().decode(stdout)], [0, "alive\n"]);
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("logged values are capped: a 100,000-character name gives a short line with its length", async () => {
  const lines: string[] = [];
  await configureLogging({ level: "info", format: "json", write: (line) => lines.push(line) });
  try {
    const name = "n".repeat(100_000);
    const log = getLogger(["zkcm", "test"]);
    log.warn("not sending {key}: {reason}", { key: `ep/${name}`, reason: "too long" });
    log.info("registering {count} services", {
      count: 1000,
      services: Array.from({ length: 1000 }, (_, i) => `/c/n/s${i}=h:${i + 1}`),
    });
    log.info("short {key}", { key: "ep/svc" });
    assertEquals(lines.length, 3);
    const [warned, listed, short] = lines.map((line) => JSON.parse(line));
    assert(lines[0].length < 3 * MAX_LOGGED_CHARS, `${lines[0].length} characters`);
    assert(warned.key.endsWith("… (100003 characters)"), warned.key.slice(-40));
    assert(warned.message.includes("… (100003 characters): too long"), warned.message.slice(-60));
    assertEquals(listed.services.length, MAX_LOGGED_ITEMS + 1);
    assertEquals(listed.services.at(-1), "… (1000 items)");
    assertEquals(short.message, "short ep/svc");
  } finally {
    await configureLogging({ level: "info", format: "json", write: () => {} });
  }
});
