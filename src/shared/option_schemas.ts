/**
 * Reusable schemas for the `OptionSpec`s of `options.ts` (re-exported there, so that a program's
 * options import one module). Each takes the raw string of a flag or variable and converts it.
 *
 * Every message is a predicate about the value (`"is not a port (1-65535)"`): `parseOptions`
 * puts the flag, the variable and the quoted value in front of it.
 *
 * Durations follow one convention: an option whose name ends in `_MS` takes a plain integer of
 * milliseconds ({@link PositiveMsSchema}); any other duration takes a number with a unit
 * ({@link DurationSchema}: `250ms`, `2s`, `1m`, `1h`).
 *
 * @module
 */
import * as v from "valibot";
import type { LogLevel } from "@logtape/logtape";
import { LOG_LEVELS } from "./logging.ts";

/** Matches a non-negative integer written in decimal digits, without sign, space or exponent. */
const DIGITS = /^\d+$/;

/**
 * A whole number from `min` to `max` written in decimal digits (surrounding spaces ignored), e.g.
 * a count or a size.
 *
 * @example
 * ```ts
 * const ConcurrencySchema = IntegerSchema(1, 64); // "abc" → 'is not an integer from 1 to 64'
 * ```
 */
export function IntegerSchema(
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
  what = `an integer from ${min} to ${max}`,
): v.GenericSchema<string, number> {
  return v.pipe(
    v.string(),
    v.trim(),
    v.check((text) => DIGITS.test(text) && inRange(Number(text), min, max), `is not ${what}`),
    v.transform(Number),
  );
}

/** A TCP port, `1` to `65535`, e.g. `STATUS_PORT`. */
export const PortSchema: v.GenericSchema<string, number> = IntegerSchema(
  1,
  65535,
  "a port (1-65535)",
);

/**
 * A positive number of milliseconds written as a plain integer: the convention of every option
 * whose name ends in `_MS` (`SESSION_TIMEOUT_MS=10000`). Units are not accepted there, so that
 * `10s` in a `_MS` variable is an error rather than a surprise.
 */
export const PositiveMsSchema: v.GenericSchema<string, number> = IntegerSchema(
  1,
  Number.MAX_SAFE_INTEGER,
  "a positive whole number of milliseconds",
);

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration with a unit (`250ms`, `2s`, `1.5s`, `1m`, `1h`) to whole milliseconds, or
 * `undefined` when the text is not one. The unit is required: a bare number is ambiguous (options
 * that take plain milliseconds end in `_MS` and use {@link PositiveMsSchema}).
 *
 * @example
 * ```ts
 * durationMs("1.5s"); // 1500
 * durationMs("500"); // undefined
 * ```
 */
export function durationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (match === null) return undefined;
  const exact = Number(match[1]) * UNIT_MS[match[2]];
  const ms = Math.round(exact); // 2.3 * 1000 is 2299.9999999999995 in floating point
  return Math.abs(exact - ms) < 1e-6 && Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

/** A positive duration with a unit, converted to milliseconds by {@link durationMs}. */
export const DurationSchema: v.GenericSchema<string, number> = v.pipe(
  v.string(),
  v.check(
    (text) => durationMs(text) !== undefined,
    "is not a duration (a positive number with a unit: 250ms, 2s, 1m, 1h)",
  ),
  v.transform((text) => durationMs(text)!),
);

/** An absolute `http:` or `https:` URL, kept as written (surrounding spaces removed). */
export const UrlSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.trim(),
  v.check(isHttpUrl, "is not an http:// or https:// URL"),
);

/** Any text that is not empty once surrounding spaces are removed; the value is trimmed. */
export const NonEmptyStringSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.trim(),
  v.check((text) => text !== "", "is empty"),
);

/**
 * A switch's value: `1`, `true`, `yes` are `true`; `0`, `false`, `no` are `false`; any case.
 * The schema of every option with `boolean: true`.
 */
export const BooleanSchema: v.GenericSchema<string, boolean> = v.pipe(
  v.string(),
  v.check(
    (text) => BOOLEAN_WORDS.has(text.trim().toLowerCase()),
    "is not a switch value (1, true, yes, 0, false, no)",
  ),
  v.transform((text) => BOOLEAN_WORDS.get(text.trim().toLowerCase())!),
);

const BOOLEAN_WORDS = new Map([
  ["1", true],
  ["true", true],
  ["yes", true],
  ["0", false],
  ["false", false],
  ["no", false],
]);

/**
 * One of a fixed list of words, exactly as listed (case matters).
 *
 * @example
 * ```ts
 * const ModeSchema = EnumSchema(["monitor", "client"]); // "x" → 'is not one of monitor, client'
 * ```
 */
export function EnumSchema<const T extends readonly [string, ...string[]]>(
  values: T,
): v.GenericSchema<string, T[number]> {
  const allowed = new Set<string>(values);
  return v.pipe(
    v.string(),
    v.check((text) => allowed.has(text), `is not one of ${values.join(", ")}`),
    v.transform((text) => text as T[number]),
  );
}

/**
 * A LogTape level: `trace`, `debug`, `info`, `warning`, `error` or `fatal` (`configureLogging`'s),
 * in any case (`DEBUG` is what many deployments write), surrounding spaces ignored.
 */
export const LogLevelSchema: v.GenericSchema<string, LogLevel> = v.pipe(
  v.string(),
  v.transform((text) => text.trim().toLowerCase()),
  v.check(
    (text) => (LOG_LEVELS as readonly string[]).includes(text),
    `is not a log level (${LOG_LEVELS.join(", ")}; any case)`,
  ),
  v.transform((text) => text as LogLevel),
);

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
}

function inRange(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}
