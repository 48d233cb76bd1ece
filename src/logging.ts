/**
 * Structured logs through LogTape: one line per decision, to stderr, as JSON lines when stderr is
 * not a terminal (collectors parse them) and as readable text when it is.
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";

/** The levels `LOG_LEVEL` accepts. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

/** How log lines are written. */
export type LogFormat = "auto" | "json" | "text";

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
}

/** Routes every `["zkcm", ...]` logger to stderr. Call once at program start. */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const format = options.format === "auto" || options.format === undefined
    ? (Deno.stderr.isTerminal() ? "text" : "json")
    : options.format;
  const formatter = format === "json"
    ? getJsonLinesFormatter({ properties: "flatten" })
    : getTextFormatter({ timestamp: "date-time-timezone", value: (v) => Deno.inspect(v) });
  const write = options.write ?? writeToStderr;
  const sink: Sink = (record: LogRecord) => write(formatter(withPlainStrings(record)));
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["zkcm"], lowestLevel: options.level ?? "info", sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/**
 * Puts string and number values into the message as they are: `registered /cluster1/a`, not
 * `registered "/cluster1/a"` (the values stay, typed, among the properties).
 */
function withPlainStrings(record: LogRecord): LogRecord {
  const parts: unknown[] = [""];
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    if (i % 2 === 0 || typeof part === "string" || typeof part === "number") {
      parts[parts.length - 1] += String(part);
    } else {
      parts.push(part, "");
    }
  }
  return { ...record, message: parts };
}

const encoder = new TextEncoder();

function writeToStderr(line: string): void {
  // Synchronous, so the last lines before an exit are not lost.
  const bytes = encoder.encode(line);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}
