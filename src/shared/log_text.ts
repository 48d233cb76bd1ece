/**
 * Text from outside (ZooKeeper data, a proxy's answer, an error message, the operator's input)
 * made fit for one log line or one problem line: it cannot split or forge a line, and one huge
 * value cannot flood the log. The one place these rules live; every module that puts foreign text
 * into a line uses them.
 *
 * @example
 * ```ts
 * quoted("a\nb"); // "\"a\\nb\""
 * oneLine("  HTTP 500\r\n  oops  "); // "HTTP 500 oops"
 * oneLine("x".repeat(500), 300).length; // 300, ending in "…"
 * escapeControls("a\u0007b"); // "a\\u0007b"
 * ```
 *
 * @module
 */

/** How much of a string {@link quoted} keeps by default. */
export const QUOTE_LIMIT = 120;

/**
 * Control characters: C0, DEL, C1, and the line and paragraph separators (which some log
 * viewers and JSON-in-JS readers break lines at).
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
/** Runs of control characters and spaces. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL_OR_SPACE_RUN = /[\u0000-\u0020\u007f-\u009f\u2028\u2029]+/g;

/** `text` cut to `limit` characters with its length said (`"aaaa… (100000 characters)"`). */
export function shortened(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}… (${text.length} characters)`;
}

/** JSON-quotes a user string for a message, shortened so one bad value cannot flood a line. */
export function quoted(text: string, limit = QUOTE_LIMIT): string {
  if (text.length <= limit) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, limit))}… (${text.length} characters)`;
}

/** Escapes every control character as `\uXXXX`, so the line stays one line and shows them. */
export function escapeControls(line: string): string {
  return line.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Foreign text as one line: each run of control characters and spaces becomes one space, the
 * ends are trimmed, and text longer than `maxLength` is cut to it, ending in `…` (never in half
 * a surrogate pair).
 */
export function oneLine(text: string, maxLength = Infinity): string {
  const line = text.replace(CONTROL_OR_SPACE_RUN, " ").trim();
  if (line.length <= maxLength) return line;
  let end = maxLength - 1;
  const last = line.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${line.slice(0, end)}…`;
}

/**
 * The innermost message of an error chain (Deno's fetch and our HTTP clients put the system's
 * reason in `cause`), as one line of at most `maxLength` characters.
 */
export function innermostMessage(error: unknown, maxLength = Infinity): string {
  let innermost = error;
  while (innermost instanceof Error && innermost.cause instanceof Error) {
    innermost = innermost.cause;
  }
  return oneLine(innermost instanceof Error ? innermost.message : String(innermost), maxLength);
}
