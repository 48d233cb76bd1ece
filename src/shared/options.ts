/**
 * The configuration framework of both programs: each program declares its options once, as a
 * record of {@link OptionSpec}s (each with a valibot schema), and `--help`, command-line parsing,
 * environment parsing and error messages all come from that one declaration, so they cannot drift
 * apart.
 *
 * Flags and environment variables mean the same; a flag wins over its variable. An empty (or
 * blank) variable counts as unset, since container tooling often cannot unset a variable, only
 * empty it.
 *
 * Schema messages are written as a predicate about the value (`"is not a port (1-65535)"`), so
 * that a problem reads as one sentence: `--status-port (STATUS_PORT): "abc" is not a port
 * (1-65535)`. A message that does not start with a lower-case letter (valibot's defaults, such as
 * `Invalid length: ...`) is put after a colon instead. The reusable schemas (ports, durations,
 * URLs, ...) live in `option_schemas.ts` and are re-exported here.
 *
 * @example
 * ```ts
 * const clientOptions = {
 *   zkHost: {
 *     flag: "zk-host",
 *     env: "ZK_HOST",
 *     description: "ZooKeeper connection string",
 *     schema: NonEmptyStringSchema,
 *     required: true,
 *   },
 *   statusPort: { flag: "status-port", env: "STATUS_PORT", description: "...", schema: PortSchema },
 *   dryRun: {
 *     flag: "dry-run",
 *     description: "...",
 *     schema: BooleanSchema,
 *     boolean: true,
 *     default: false,
 *   },
 * } satisfies OptionSpecs;
 *
 * const parsed = parseOptions(clientOptions, Deno.args, Deno.env);
 * if (!parsed.ok) for (const line of parsed.problems) log.error(line);
 * else if (parsed.help) console.log(renderHelp({ program: "client", summary, usage, specs }));
 * else parsed.value.zkHost; // string
 * ```
 *
 * @module
 */
import * as v from "valibot";
import { escapeControls, quoted } from "./log_text.ts";

export * from "./option_schemas.ts";

/** One option of a program: a flag, usually an environment variable, and how to read its value. */
export interface OptionSpec<T> {
  /** The flag's name without dashes: `"zk-host"` is `--zk-host`. Lower case, digits and `-`. */
  flag: string;
  /** The environment variable of the same meaning, e.g. `"ZK_HOST"`. */
  env?: string;
  /** One sentence for `--help`. */
  description: string;
  /** The value's name in `--help`: `--zk-host HOSTS`. Default `VALUE`. */
  placeholder?: string;
  /** How `--help` shows the default, when `String(default)` would not say it well. */
  defaultText?: string;
  /** The value when neither the flag nor the variable is given (a repeatable option: `[default]`). */
  default?: T;
  /** Neither flag nor variable given, and no default: a problem rather than `undefined`. */
  required?: boolean;
  /** Validates the raw string and converts it to the option's value. */
  schema: v.GenericSchema<string, T>;
  /** The flag may be given several times, the variable holds a comma-separated list; value `T[]`. */
  repeatable?: boolean;
  /**
   * A switch: `--dry-run` means `"true"`, `--no-dry-run` `"false"`, `--dry-run=no` also works; the
   * variable takes `1/true/yes/0/false/no`. Use {@link BooleanSchema} as its schema.
   */
  boolean?: boolean;
  /** The value is never echoed: not in problems, not as a default in `--help`. */
  secret?: boolean;
  /** How a refused value is quoted in its problem, when not as given (a URL without password). */
  show?: (raw: string) => string;
}

/** A program's options, keyed by the name its code uses. */
// deno-lint-ignore no-explicit-any -- each entry has its own value type
export type OptionSpecs = Record<string, OptionSpec<any>>;

/** The value type an option's schema produces. */
export type OptionValue<S> = S extends
  { schema: infer Schema extends v.GenericSchema<string, unknown> } ? v.InferOutput<Schema>
  : never;

/**
 * The parsed options: each key of the specs mapped to its value, an array for a repeatable option,
 * or `T | undefined` when the option has neither a default nor `required: true`.
 */
export type Parsed<S extends OptionSpecs> = {
  -readonly [K in keyof S]: S[K] extends { repeatable: true } ? OptionValue<S[K]>[]
    : S[K] extends { default: unknown } | { required: true } ? OptionValue<S[K]>
    : OptionValue<S[K]> | undefined;
};

/** Where environment variables come from: `Deno.env`, or a `Map` in tests. */
export interface EnvSource {
  /** The variable's value, or `undefined` when unset. */
  get(name: string): string | undefined;
}

/**
 * What {@link parseOptions} found: the values; or that help was asked for (then nothing else is
 * checked, so that `--help` works whatever the environment holds); or every problem, one line each.
 */
export type ParseResult<S extends OptionSpecs> =
  | { ok: true; help: false; value: Parsed<S> }
  | { ok: true; help: true; value?: undefined }
  | { ok: false; problems: string[] };

/**
 * Parses command-line arguments and environment variables against a program's option specs.
 *
 * - `--name value` and `--name=value`; a value that starts with `-` must use the `=` form.
 * - Switches (`boolean: true`): `--name`, `--no-name`, `--name=yes`.
 * - A repeatable option collects every `--name`; its variable is split at commas (items trimmed,
 *   empty items dropped). Flags given replace the variable's list, they do not add to it.
 * - A flag wins over its variable; an empty variable is unset.
 * - `-h`/`--help` anywhere: `{ ok: true, help: true }`, nothing else is checked.
 * - Unknown flags, positional arguments, a missing value, a non-repeatable flag given twice, a
 *   missing required option and every value its schema refuses are problems. All are collected,
 *   each exactly one line naming the flag and the variable; secret values are never echoed.
 *
 * @throws TypeError when the specs themselves are wrong (a programming error): a bad or
 *   duplicate flag name, a duplicate variable, `help` as a flag.
 *
 * @example
 * ```ts
 * parseOptions(specs, ["--status-port", "abc"], new Map());
 * // { ok: false, problems: ['--status-port (STATUS_PORT): "abc" is not a port (1-65535)'] }
 * ```
 */
export function parseOptions<S extends OptionSpecs>(
  specs: S,
  args: readonly string[],
  env: EnvSource,
): ParseResult<S> {
  const scanned = scanArguments(specs, args);
  if (scanned.help) return { ok: true, help: true };

  const problems = scanned.problems;
  const value: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    let raws = scanned.flagValues.get(key);
    if (raws !== undefined && !spec.repeatable && raws.length > 1) {
      problems.push(escapeControls(`${labelOf(spec)}: given ${raws.length} times; give it once`));
      continue;
    }
    if (raws === undefined && spec.env !== undefined) {
      const text = env.get(spec.env);
      if (text !== undefined && text.trim() !== "") {
        raws = spec.repeatable ? splitList(text) : [text];
      }
    }
    if (raws === undefined || raws.length === 0) {
      if (spec.default !== undefined) value[key] = spec.repeatable ? [spec.default] : spec.default;
      else if (spec.required) {
        problems.push(escapeControls(`${labelOf(spec)}: is required but not set`));
      } else value[key] = spec.repeatable ? [] : undefined;
      continue;
    }
    const outputs: unknown[] = [];
    for (const raw of raws) {
      const result = v.safeParse(spec.schema, raw, { abortPipeEarly: true });
      if (result.success) {
        outputs.push(result.output);
      } else {
        problems.push(optionProblem(spec, raw, result.issues[0].message));
      }
    }
    value[key] = spec.repeatable ? outputs : outputs[0];
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, help: false, value: value as Parsed<S> };
}

/** What {@link renderHelp} shows. */
export interface HelpOptions {
  /** The program's name, first on the first line. */
  program: string;
  /** One sentence on what the program does. */
  summary: string;
  /** The usage line after `Usage: `, e.g. `client [options]`. */
  usage: string;
  /** The program's options. */
  specs: OptionSpecs;
  /** Text after the options (examples, links); wrapped like the rest. */
  footer?: string;
}

const HELP_WIDTH = 100;
const MAX_FLAG_COLUMN = 34;
const MAX_ENV_COLUMN = 26;

/**
 * Renders `--help` from a program's option specs: every option with its flag, its variable, its
 * default (or `required`) and its description, in aligned columns wrapped at 100 characters.
 *
 * @example
 * ```ts
 * renderHelp({ program: "client", summary: "Registers ...", usage: "client [options]", specs });
 * // client: Registers ...
 * //
 * // Usage: client [options]
 * //
 * // Options (each flag has the environment variable beside it, of the same meaning; a flag wins):
 * //   --zk-host HOSTS      ZK_HOST      ZooKeeper connection string. (required)
 * //   --[no-]dry-run       DRY_RUN      Log what would be sent instead of sending it.
 * //   -h, --help                        Show this help and exit.
 * ```
 */
export function renderHelp(options: HelpOptions): string {
  const rows = Object.values(options.specs).map((spec) => ({
    flag: spec.boolean
      ? `--[no-]${spec.flag}`
      : `--${spec.flag} ${spec.placeholder ?? "VALUE"}${spec.repeatable ? " ..." : ""}`,
    env: spec.env ?? "",
    text: [spec.description, ...annotationsOf(spec)].join(" "),
  }));
  rows.push({ flag: "-h, --help", env: "", text: "Show this help and exit." });

  const flagColumn = Math.min(MAX_FLAG_COLUMN, Math.max(...rows.map((row) => row.flag.length)));
  const envColumn = Math.min(MAX_ENV_COLUMN, Math.max(...rows.map((row) => row.env.length)));
  const envPart = (env: string) => envColumn === 0 ? "" : `${env.padEnd(envColumn)}  `;
  const indent = 2 + flagColumn + 2 + (envColumn === 0 ? 0 : envColumn + 2);
  const lines = [
    ...wrap(`${options.program}: ${options.summary}`, HELP_WIDTH, ""),
    "",
    ...wrap(`Usage: ${options.usage}`, HELP_WIDTH, "  ", ""),
    "",
    "Options (each flag has the environment variable beside it, of the same meaning; a flag wins):",
  ];
  for (const row of rows) {
    const left = `  ${row.flag.padEnd(flagColumn)}  ${envPart(row.env)}`;
    const text = wrap(row.text, HELP_WIDTH, " ".repeat(indent));
    if (left.length === indent) {
      lines.push(left + text[0].trimStart(), ...text.slice(1));
    } else {
      lines.push(`  ${row.flag}  ${row.env}`.trimEnd(), ...text);
    }
  }
  if (Object.values(options.specs).some((spec) => spec.boolean && spec.env !== undefined)) {
    lines.push("", "Switch variables take 1, true, yes or 0, false, no.");
  }
  if (options.footer !== undefined) {
    lines.push("");
    for (const paragraph of options.footer.split("\n")) {
      const lead = /^\s*/.exec(paragraph)![0]; // an indented example stays indented
      lines.push(...(paragraph.trim() === "" ? [""] : wrap(paragraph, HELP_WIDTH, lead)));
    }
  }
  return lines.map((line) => line.trimEnd()).join("\n") + "\n";
}

/** The flags' raw values by option key, in order, and the problems of the arguments' syntax. */
interface ScannedArguments {
  flagValues: Map<string, string[]>;
  problems: string[];
  help: boolean;
}

function scanArguments(specs: OptionSpecs, args: readonly string[]): ScannedArguments {
  const keyByFlag = indexSpecs(specs);
  const scanned: ScannedArguments = { flagValues: new Map(), problems: [], help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      // `deno task monitor -- --help` passes the `--` on (Deno 2): first, it separates nothing.
      if (i === 0) continue;
      for (const rest of args.slice(i + 1)) scanned.problems.push(strayArgument(rest));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      scanned.help = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-") {
      scanned.problems.push(strayArgument(arg));
      continue;
    }
    const equals = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, equals === -1 ? undefined : equals) : "";
    const inline = equals === -1 ? undefined : arg.slice(equals + 1);
    let key = keyByFlag.get(name);
    let negated = false;
    if (key === undefined && name.startsWith("no-")) {
      const positive = keyByFlag.get(name.slice(3));
      if (positive !== undefined && specs[positive].boolean) {
        key = positive;
        negated = true;
      }
    }
    if (key === undefined) {
      // Without its value, which may be a secret meant for a flag spelled wrong.
      const shown = equals === -1 ? arg : arg.slice(0, equals);
      scanned.problems.push(escapeControls(`${shown}: unknown option (see --help)`));
      continue;
    }
    const spec = specs[key];
    let raw: string;
    if (negated) {
      if (inline !== undefined) {
        scanned.problems.push(escapeControls(`--${name}: takes no value`));
        continue;
      }
      raw = "false";
    } else if (inline !== undefined) {
      raw = inline;
    } else if (spec.boolean) {
      raw = "true";
    } else {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        scanned.problems.push(
          escapeControls(
            `${labelOf(spec)}: needs a value (one starting with "-": --${spec.flag}=VALUE)`,
          ),
        );
        continue;
      }
      raw = next;
      i++;
    }
    const values = scanned.flagValues.get(key) ?? [];
    values.push(raw);
    scanned.flagValues.set(key, values);
  }
  return scanned;
}

const FLAG_NAME = /^[a-z0-9][a-z0-9-]*$/;

function indexSpecs(specs: OptionSpecs): Map<string, string> {
  const keyByFlag = new Map<string, string>();
  const envs = new Set<string>();
  for (const [key, spec] of Object.entries(specs)) {
    if (!FLAG_NAME.test(spec.flag) || spec.flag === "help" || spec.flag.startsWith("no-")) {
      throw new TypeError(`option ${key}: bad flag name ${JSON.stringify(spec.flag)}`);
    }
    if (keyByFlag.has(spec.flag)) {
      throw new TypeError(`option ${key}: duplicate flag --${spec.flag}`);
    }
    keyByFlag.set(spec.flag, key);
    if (spec.env !== undefined) {
      if (envs.has(spec.env)) throw new TypeError(`option ${key}: duplicate variable ${spec.env}`);
      envs.add(spec.env);
    }
  }
  return keyByFlag;
}

function labelOf(spec: OptionSpec<unknown>): string {
  return spec.env === undefined ? `--${spec.flag}` : `--${spec.flag} (${spec.env})`;
}

/**
 * The one line {@link parseOptions} gives for a value its schema refused (`--flag (ENV): "raw"
 * is not ...`), also for a check made after it: an asynchronous one, such as the proxy's
 * configuration template (its XML parser is loaded only when one is given).
 */
export function optionProblem(spec: OptionSpec<unknown>, raw: string, message: string): string {
  return escapeControls(`${labelOf(spec)}: ${describeIssue(spec, raw, message)}`);
}

function describeIssue(spec: OptionSpec<unknown>, raw: string, issueMessage: string): string {
  let message = issueMessage;
  let subject = quoted(spec.show ? spec.show(raw) : raw);
  if (spec.secret) {
    subject = "value (hidden)";
    // A message may quote its input (valibot's defaults do): drop it rather than risk an echo.
    // Our own messages (a lower-case predicate) never echo, and a short secret (`:`, `user:`)
    // is found in many a sentence about it: there only a quoted echo counts.
    const ours = /^[a-z]/.test(message);
    if (raw !== "" && (message.includes(JSON.stringify(raw)) || (!ours && message.includes(raw)))) {
      message = "is not valid";
    }
  }
  return /^[a-z]/.test(message) ? `${subject} ${message}` : `${subject}: ${message}`;
}

function strayArgument(arg: string): string {
  return escapeControls(
    `${quoted(arg)}: unexpected argument (only options are accepted; see --help)`,
  );
}

function splitList(text: string): string[] {
  return text.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

function annotationsOf(spec: OptionSpec<unknown>): string[] {
  const notes: string[] = [];
  if (spec.repeatable) {
    notes.push(
      spec.env === undefined
        ? "(repeatable)"
        : "(repeatable; the variable takes a comma-separated list)",
    );
  }
  const defaultText = spec.defaultText ??
    (spec.default === undefined || spec.secret || spec.default === false
      ? undefined // a switch that is off unless given needs no note
      : String(spec.default));
  if (defaultText !== undefined) notes.push(`(default: ${defaultText})`);
  else if (spec.required) notes.push("(required)");
  return notes;
}

/** Wraps `text` at spaces so that each line, `indent` included, fits in `width` if it can. */
function wrap(text: string, width: number, indent: string, firstIndent = indent): string[] {
  const lines: string[] = [];
  let line = firstIndent;
  let empty = true;
  for (const word of text.split(/\s+/).filter((word) => word !== "")) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = empty ? line + word : `${line} ${word}`;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}
