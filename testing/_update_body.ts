/**
 * A strict reader of exactly the update body the monitor sends (`renderUpdate` in
 * `src/asabru/wire.ts`): what the documented stand-in accepts, and the deployed stand-in's fast
 * path (its general XML parser costs about 100 µs a body).
 *
 * @module
 */

/** The parts of an update body (see {@link parseUpdateBody}). */
export interface ParsedUpdate {
  /** `<operation>`: `add` or `delete`. */
  op: "add" | "delete";
  /** `<end_point name>`, non-empty. */
  endPoint: string;
  /** `<service name>`, non-empty. */
  service: string;
  /** `<host>`, non-empty (not otherwise validated: the proxy does not either). */
  host: string;
  /** `<port>`, 1–65535 in plain decimal. */
  port: number;
}

/**
 * Parses an update body strictly, as an XML parser would read exactly this shape:
 *
 * ```xml
 * <end_point name="NAME"><operation>add|delete</operation>
 *   <service name="SVC"><host>HOST</host><port>PORT</port></service></end_point>
 * ```
 *
 * Whitespace is allowed between elements only. Line ends are normalised (CR LF and CR to LF) and,
 * inside attribute values, literal tab and LF become spaces, as XML 1.0 prescribes; then the five
 * predefined entities and numeric character references are decoded. Anything else (another
 * element, an unknown or unterminated entity, `]]>` in text, a character XML cannot carry, an
 * empty name or host, a port outside 1–65535) is an error.
 */
export function parseUpdateBody(body: string): ParsedUpdate | { error: string } {
  for (const char of body) {
    const code = char.codePointAt(0)!;
    if (!isXmlChar(code)) {
      return { error: `character ${codePointName(code)} is not allowed in XML` };
    }
  }
  const match = UPDATE_SHAPE.exec(body.replace(/\r\n?/g, "\n"));
  if (match === null) return { error: "body is not the <end_point> update shape" };
  const [, endPointRaw, opRaw, serviceRaw, hostRaw, portRaw] = match;

  const fields: string[] = [];
  for (
    const [raw, isText] of [[endPointRaw, false], [opRaw, true], [serviceRaw, false], [
      hostRaw,
      true,
    ], [portRaw, true]] as const
  ) {
    // Attribute-value normalisation: literal whitespace characters become spaces.
    const decoded = decode(isText ? raw : raw.replace(/[\t\n]/g, " "), isText);
    if (typeof decoded !== "string") return decoded;
    fields.push(decoded);
  }
  const [endPoint, op, service, host, portText] = fields;
  if (op !== "add" && op !== "delete") return { error: `unknown operation ${JSON.stringify(op)}` };
  if (endPoint === "") return { error: "empty end point name" };
  if (service === "") return { error: "empty service name" };
  if (host === "") return { error: "empty host" };
  if (!/^[1-9][0-9]{0,4}$/.test(portText) || Number(portText) > 65535) {
    return { error: `port ${JSON.stringify(portText)} is not 1-65535` };
  }
  return { op, endPoint, service, host, port: Number(portText) };
}

const WS = "[ \\t\\n]*";
const UPDATE_SHAPE = new RegExp(
  `^${WS}<end_point[ \\t\\n]+name="([^"<]*)"${WS}>` +
    `${WS}<operation>([^<]*)</operation>` +
    `${WS}<service[ \\t\\n]+name="([^"<]*)"${WS}>` +
    `${WS}<host>([^<]*)</host>${WS}<port>([^<]*)</port>${WS}</service>` +
    `${WS}</end_point>${WS}$`,
);

const NAMED_ENTITIES: Record<string, string> = {
  lt: "<",
  gt: ">",
  amp: "&",
  quot: '"',
  apos: "'",
};

/** Decodes entity and character references; `text` content must not hold `]]>`. */
function decode(raw: string, isText = false): string | { error: string } {
  if (isText && raw.includes("]]>")) return { error: "']]>' in text content" };
  let out = "";
  let at = 0;
  for (;;) {
    const amp = raw.indexOf("&", at);
    if (amp === -1) return out + raw.slice(at);
    out += raw.slice(at, amp);
    const semicolon = raw.indexOf(";", amp);
    const name = semicolon === -1 ? "" : raw.slice(amp + 1, semicolon);
    const numeric = /^#(?:([0-9]{1,7})|x([0-9a-fA-F]{1,6}))$/.exec(name);
    if (Object.hasOwn(NAMED_ENTITIES, name)) {
      out += NAMED_ENTITIES[name];
    } else if (numeric) {
      const code = numeric[1] !== undefined ? Number(numeric[1]) : parseInt(numeric[2], 16);
      if (!isXmlChar(code)) {
        return { error: `reference to ${codePointName(code)}, which XML cannot carry` };
      }
      out += String.fromCodePoint(code);
    } else {
      return { error: `bad entity reference at ${JSON.stringify(raw.slice(amp, amp + 12))}` };
    }
    at = semicolon + 1;
  }
}

function isXmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff);
}

function codePointName(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}
