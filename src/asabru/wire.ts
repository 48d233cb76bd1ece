/**
 * The Asabru proxy's control API on the wire, as pure functions: the XML body of one update
 * ({@link renderUpdate}), the check that a service may be sent at all ({@link validateServiceRef}),
 * and what the proxy's answer means ({@link classifyResponse}). No I/O here; the sender
 * (`sender.ts`) puts these on the network.
 *
 * Names, hosts and ports come from ZooKeeper, which anyone with write access can fill: every value
 * is XML-escaped, and a ref that cannot be carried faithfully is refused rather than mangled.
 *
 * @module
 */

import { formatHostPort, parseHostPort } from "../service/host_port.ts";
import { oneLine } from "../shared/log_text.ts";

/** One service as the proxy knows it: `service` at `host:port`, balanced under `endPoint`. */
export interface ServiceRef {
  /** The proxy end point (`<end_point name>`), the znode one level below the root. */
  endPoint: string;
  /** The service's name (`<service name>`), the znode below the end point. */
  service: string;
  /** Hostname, dotted IPv4, or IPv6 *without* brackets (as {@link parseHostPort} returns it). */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
}

/** What an update asks of the proxy: append the service, or remove every entry of its name. */
export type Operation = "add" | "delete";

/** What the proxy's answer to one update means (see {@link classifyResponse}). */
export type ResponseClass =
  | { kind: "ok" }
  | { kind: "rejected"; message: string }
  | { kind: "unauthorized"; message: string }
  | { kind: "uncertain"; reason: string };

/** The deployed proxy's answer to every change it accepts (and to some it ignores). */
export const UPDATED_TEXT = "Configuration Updated Successfully!";

/** The deployed proxy's 500 answers for a body it could not read: nothing was applied. */
export const PARSE_ERROR_TEXTS: readonly string[] = [
  "Error parsing xml document.",
  "Error Parsing XML Element.",
  "Port Must be an Integer value.",
];

/**
 * Whether an answer is in the deployed proxy's text format (its success text, its 500 parse
 * texts, its `Unauthorized`): a proxy that answers so serves one request per connection and
 * removes nothing on `delete` (DESIGN.md, "Deployed").
 */
export function isDeployedTextAnswer(status: number, body: string): boolean {
  const text = body.trim();
  return (status === 200 && text === UPDATED_TEXT) ||
    (status === 500 && PARSE_ERROR_TEXTS.includes(text)) ||
    (status === 401 && text === "Unauthorized");
}

/** The longest end point or service name sent, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

/** The longest message or reason {@link classifyResponse} returns, in characters. */
export const MAX_MESSAGE_LENGTH = 200;

/**
 * Thrown by {@link renderUpdate} for a ref that {@link validateServiceRef} refuses. Callers are
 * expected to validate first; this only guards against forwarding what must not be sent.
 */
export class InvalidServiceRefError extends Error {
  /** Why the ref cannot be sent (the text {@link validateServiceRef} returns). */
  readonly reason: string;

  /** Makes the error for `reason` (one line, as {@link validateServiceRef} words it). */
  constructor(reason: string, options?: ErrorOptions) {
    super(`service ref cannot be sent: ${reason}`, options);
    this.name = new.target.name;
    this.reason = reason;
  }
}

/**
 * Renders the body of one `POST /updateService`. The shape is fixed, byte for byte:
 *
 * ```text
 * <end_point name="NAME">\n
 *   <operation>OP</operation>\n
 *   <service name="SVC"><host>HOST</host><port>PORT</port></service>\n
 * </end_point>
 * ```
 *
 * Two-space indentation, `\n` line ends, no XML declaration, no trailing newline. Attribute values
 * are double-quoted. In every value `&` `<` `>` `"` `'` become `&amp;` `&lt;` `&gt;` `&quot;`
 * `&apos;` (so `]]>` cannot appear either), and tab, LF and CR become `&#9;` `&#10;` `&#13;`:
 * written raw, a parser would turn them into spaces in attributes (attribute-value normalisation)
 * and CR into LF in text (line-end normalisation), so the proxy would see another name.
 *
 * An IPv6 host is written without brackets (`<host>::1</host>`): the proxy keeps host and port in
 * separate fields and hands the host to the resolver as an address, as in its own `config.xml`;
 * `[::1]` is not an address any resolver accepts.
 *
 * @throws {InvalidServiceRefError} when {@link validateServiceRef} refuses `ref`, or `op` is
 * neither `add` nor `delete`.
 *
 * @example
 * ```ts
 * renderUpdate("add", {
 *   endPoint: "ch_http_node1",
 *   service: "ch_http_service2",
 *   host: "localhost",
 *   port: 2023,
 * });
 * // '<end_point name="ch_http_node1">\n  <operation>add</operation>\n  <service name=...'
 * ```
 */
export function renderUpdate(op: Operation, ref: ServiceRef): string {
  if (op !== "add" && op !== "delete") {
    throw new InvalidServiceRefError(`unknown operation ${JSON.stringify(String(op))}`);
  }
  const reason = validateServiceRef(ref);
  if (reason !== undefined) throw new InvalidServiceRefError(reason);
  return `<end_point name="${escapeXml(ref.endPoint)}">\n` +
    `  <operation>${op}</operation>\n` +
    `  <service name="${escapeXml(ref.service)}">` +
    `<host>${escapeXml(ref.host)}</host><port>${ref.port}</port></service>\n` +
    `</end_point>`;
}

/**
 * Says in one line why `ref` must not be sent to the proxy, or returns `undefined` when it may be.
 *
 * Refused:
 * - an empty end point or service name, or one longer than {@link MAX_NAME_BYTES} UTF-8 bytes;
 * - a name holding a character XML 1.0 cannot carry at all, even escaped: C0 controls other than
 *   tab, LF and CR, U+FFFE, U+FFFF, or a lone surrogate;
 * - a port that is not an integer 1–65535;
 * - a host that is not a hostname, a dotted IPv4 or an IPv6 address without brackets, by the rules of
 *   {@link parseHostPort} (checked by parsing `formatHostPort(ref)` back; the result must equal
 *   the ref's host and port).
 *
 * The reason never quotes more than a short, JSON-escaped excerpt of the offending value.
 *
 * @example
 * ```ts
 * validateServiceRef({ endPoint: "e", service: "s", host: "localhost", port: 99999 });
 * // "port 99999 is not 1-65535"
 * ```
 */
export function validateServiceRef(ref: ServiceRef): string | undefined {
  const endPointProblem = nameProblem(ref.endPoint);
  if (endPointProblem !== undefined) return `end point name ${endPointProblem}`;
  const serviceProblem = nameProblem(ref.service);
  if (serviceProblem !== undefined) return `service name ${serviceProblem}`;

  if (typeof ref.port !== "number") return "port is not a number";
  if (!Number.isInteger(ref.port) || ref.port < 1 || ref.port > 65535) {
    return `port ${ref.port} is not 1-65535`;
  }
  if (typeof ref.host !== "string") return "host is not a string";
  if (ref.host.startsWith("[")) {
    return `host ${excerpt(ref.host)} is invalid (an IPv6 address goes without brackets)`;
  }
  const parsed = parseHostPort(formatHostPort(ref));
  if ("error" in parsed) return `host ${excerpt(ref.host)} is invalid (${parsed.error})`;
  if (parsed.host !== ref.host || parsed.port !== ref.port) {
    return `host ${excerpt(ref.host)} is invalid (does not read back as itself)`;
  }
  return undefined;
}

/**
 * Tells what the proxy's answer to one update means:
 *
 * - `ok`: a 2xx whose body is JSON with `"status":"ok"`, or (older proxies) the text
 *   `Configuration Updated Successfully!`, surrounding whitespace ignored. The change is applied.
 * - `rejected`: a 2xx whose body is JSON with `"status":"error"` (the proxy answers 200 even then),
 *   for example `Endpoint 'x' not found.` The proxy refused the change; nothing was applied.
 *   `message` is the proxy's `message`, or a placeholder when it has none.
 * - `unauthorized`: HTTP 401: no valid token; nothing was applied.
 * - `rejected` too: a 500 with one of the deployed proxy's parse texts ({@link PARSE_ERROR_TEXTS});
 *   it read nothing, so it applied nothing.
 * - `uncertain`: anything else, a non-2xx status or a 2xx with a body we do not recognise. We
 *   cannot know whether the proxy applied the change.
 *
 * `message` and `reason` are one line (control characters and line breaks become spaces) of at
 * most {@link MAX_MESSAGE_LENGTH} characters.
 *
 * @example
 * ```ts
 * classifyResponse(200, '{"status":"error","message":"Endpoint \'x\' not found."}');
 * // { kind: "rejected", message: "Endpoint 'x' not found." }
 * classifyResponse(502, "Bad Gateway"); // { kind: "uncertain", reason: "HTTP 502: Bad Gateway" }
 * ```
 */
export function classifyResponse(status: number, body: string): ResponseClass {
  if (status === 401) {
    const detail = oneLine(body);
    return {
      kind: "unauthorized",
      message: bound(`HTTP 401${detail === "" ? "" : `: ${detail}`}`),
    };
  }
  if (status === 500 && PARSE_ERROR_TEXTS.includes(body.trim())) {
    return { kind: "rejected", message: `HTTP 500: ${body.trim()}` };
  }
  if (status < 200 || status > 299) {
    const detail = oneLine(body);
    return {
      kind: "uncertain",
      reason: bound(detail === "" ? `HTTP ${status}` : `HTTP ${status}: ${detail}`),
    };
  }
  const trimmed = body.trim();
  if (trimmed === UPDATED_TEXT) return { kind: "ok" };
  const json = parseJson(trimmed);
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const { status: outcome, message } = json as Record<string, unknown>;
    if (outcome === "ok") return { kind: "ok" };
    if (outcome === "error") {
      const text = typeof message === "string" ? oneLine(message) : "";
      return { kind: "rejected", message: bound(text === "" ? "(no message)" : text) };
    }
  }
  const detail = oneLine(body);
  return {
    kind: "uncertain",
    reason: bound(
      detail === ""
        ? `HTTP ${status} with an empty body`
        : `HTTP ${status} with an unrecognised body: ${detail}`,
    ),
  };
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

function escapeXml(text: string): string {
  return text.replace(/[&<>"'\t\n\r]/g, (char) => ESCAPES[char]);
}

function nameProblem(name: unknown): string | undefined {
  if (typeof name !== "string") return "is not a string";
  if (name === "") return "is empty";
  // The usual name: printable ASCII, one byte per character; nothing more to check.
  if (name.length <= MAX_NAME_BYTES && PRINTABLE_ASCII.test(name)) return undefined;
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (!isXmlChar(code)) {
      return `contains U+${
        code.toString(16).toUpperCase().padStart(4, "0")
      }, which XML cannot carry`;
    }
  }
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes (${bytes})`;
  return undefined;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** XML 1.0 `Char`; iterating a string yields lone surrogates as single code points. */
function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function bound(text: string): string {
  if (text.length <= MAX_MESSAGE_LENGTH) return text;
  // Do not cut a surrogate pair in half.
  let end = MAX_MESSAGE_LENGTH - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** A value quoted for a reason: JSON-escaped (so one line), at most 40 characters of it. */
function excerpt(value: string): string {
  const short = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(short);
}
