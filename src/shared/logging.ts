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
import { setImmediate } from "node:timers";
import { shortened } from "./log_text.ts";

/** The levels `LOG_LEVEL` accepts. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;

/** How log lines are written. */
export type LogFormat = "auto" | "json" | "text";

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** The lowest level written (`LOG_LEVEL`). */
  level?: LogLevel;
  /** `text` or `json` lines (`LOG_FORMAT`); default: text on a TTY, else JSON. */
  format?: LogFormat;
  /**
   * Where lines go; default stderr, where lines of one turn of the event loop are written together
   * (a burst of changes is a line each), warnings and worse at once with whatever waited.
   */
  write?: (line: string, urgent: boolean) => void;
}

/** Routes every `["zkcm", ...]` logger to stderr. Call once at program start. */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const format = options.format === "auto" || options.format === undefined
    ? (Deno.stderr.isTerminal() ? "text" : "json")
    : options.format;
  const write = options.write ?? writeToStderr;
  let sink: Sink;
  if (format === "json") {
    const formatter = getJsonLinesFormatter({ properties: "flatten" });
    sink = (logged: LogRecord) => {
      const record = capped(logged);
      write(jsonLine(record) ?? formatter(withPlainStrings(record)), URGENT.has(record.level));
    };
  } else {
    const formatter = getTextFormatter({
      timestamp: "date-time-timezone",
      value: (v) => Deno.inspect(v),
    });
    sink = (logged: LogRecord) =>
      write(formatter(withPlainStrings(capped(logged))), URGENT.has(logged.level));
  }
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["zkcm"], lowestLevel: options.level ?? "info", sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** The longest string logged as a value; longer ones are cut and their length said. */
export const MAX_LOGGED_CHARS = 500;
/** The most items of a list logged as a value; the rest are counted. */
export const MAX_LOGGED_ITEMS = 20;

/**
 * The record with every value bounded: a string of more than {@link MAX_LOGGED_CHARS} characters
 * becomes its start and its length (`"aaaa… (100000 characters)"`), a list of more than
 * {@link MAX_LOGGED_ITEMS} items its first items and a count. Values come from ZooKeeper and the
 * operator: one 100,000-character znode name must not make a 200 KB line. The record itself is
 * returned when nothing needs cutting (the usual case, at no cost but a look at each value).
 */
export function capped(record: LogRecord): LogRecord {
  let properties: Record<string, unknown> | undefined;
  for (const key in record.properties) {
    const value = record.properties[key];
    const bounded = cappedValue(value);
    if (bounded !== value) (properties ??= { ...record.properties })[key] = bounded;
  }
  let message: unknown[] | undefined;
  for (let i = 1; i < record.message.length; i += 2) {
    const value = record.message[i];
    const bounded = cappedValue(value);
    if (bounded !== value) (message ??= [...record.message])[i] = bounded;
  }
  if (properties === undefined && message === undefined) return record;
  return {
    ...record,
    properties: properties ?? record.properties,
    message: message ?? record.message,
  };
}

function cappedValue(value: unknown): unknown {
  if (typeof value === "string") {
    return shortened(value, MAX_LOGGED_CHARS);
  }
  if (Array.isArray(value)) {
    const items = value.length > MAX_LOGGED_ITEMS ? value.slice(0, MAX_LOGGED_ITEMS) : value;
    const bounded = items.map(cappedValue);
    if (items === value && bounded.every((item, i) => item === value[i])) return value;
    if (items !== value) bounded.push(`… (${value.length} items)`);
    return bounded;
  }
  return value;
}

/**
 * The JSON line LogTape's formatter writes (`properties: "flatten"`, with {@link withPlainStrings}),
 * made without its per-key replacer when every value is a string, number, boolean, null or
 * undefined: the usual record, at a fraction of the cost (a line per change to a proxy, thousands
 * in a burst). `undefined` for any other record, which LogTape's formatter then writes.
 */
export function jsonLine(record: LogRecord): string | undefined {
  const { properties } = record;
  for (const key in properties) {
    if (!isPlain(properties[key])) return undefined;
  }
  let message = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    if (i % 2 === 0 || typeof part === "string" || typeof part === "number") message += part;
    else return undefined;
  }
  const json = JSON.stringify({
    "@timestamp": isoTime(record.timestamp),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message,
    logger: record.category.join("."),
    ...properties,
  });
  return json.replace(
    C1_CONTROLS,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  ) +
    "\n";
}

const C1_CONTROLS = /[\u007f-\u009f]/g;

function isPlain(value: unknown): boolean {
  const type = typeof value;
  return value === null || type === "string" || type === "number" || type === "boolean" ||
    type === "undefined";
}

let lastTime = NaN;
let lastIso = "";

/** Lines of one millisecond share their timestamp text. */
function isoTime(time: number): string {
  if (time !== lastTime) {
    lastTime = time;
    lastIso = new Date(time).toISOString();
  }
  return lastIso;
}

/**
 * Puts string and number values into the message as they are: `registered /cluster1/a`, not
 * `registered "/cluster1/a"` (the values stay, typed, among the properties).
 */
export function withPlainStrings(record: LogRecord): LogRecord {
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

const URGENT = new Set<LogLevel>(["warning", "error", "fatal"]);
const encoder = new TextEncoder();
let waiting: string[] = [];

function writeToStderr(line: string, urgent: boolean): void {
  if (waiting.push(line) === 1 && !urgent) {
    setImmediate(flushLogs);
    if (!exitHooked) {
      exitHooked = true;
      // The last lines before an exit (Deno.exit, the end of the program, an uncaught error).
      globalThis.addEventListener("unload", flushLogs);
      globalThis.addEventListener("error", flushLogs);
      globalThis.addEventListener("unhandledrejection", flushLogs);
    }
  }
  if (urgent) flushLogs();
}
let exitHooked = false;

/** Writes the log lines still waiting for the end of this turn of the event loop, now. */
function flushLogs(): void {
  if (waiting.length === 0) return;
  // Synchronous, so nothing is lost when the process ends right after.
  const bytes = encoder.encode(waiting.length === 1 ? waiting[0] : waiting.join(""));
  waiting = [];
  let written = 0;
  try {
    while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
  } catch {
    // stderr is gone (its reader died) or refuses: the lines are lost, the program goes on.
  }
}
