/**
 * How the deployed Asabru proxy reads its two XML bodies (DESIGN.md, "Deployed"), with a real XML
 * parser (fast-xml-parser): an `/updateService` update and a whole `config.xml` for
 * `/configuration`. Each reading ends in what the proxy does with it: apply, answer one of its
 * 500 texts, or crash.
 *
 * @module
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { StandInEntry } from "./_round_robin_table.ts";
import { parseUpdateBody } from "./_update_body.ts";

/** The proxy's 500 answers for an update it cannot read (nothing applied). */
export const PARSE_ERRORS = {
  document: "Error parsing xml document.",
  element: "Error Parsing XML Element.",
  port: "Port Must be an Integer value.",
} as const;

/** What the proxy makes of an `/updateService` body. */
export type UpdateReading =
  | { kind: "update"; op: string; endPoint: string; service: string; host: string; port: number }
  | { kind: "error"; answer: string }
  | { kind: "crash"; reason: string };

/** What the proxy makes of a `/configuration` body. */
export type ConfigurationReading =
  | { kind: "configuration"; endPoints: Map<string, StandInEntry[]> }
  | { kind: "unparseable"; reason: string }
  | { kind: "error"; answer: string }
  | { kind: "crash"; reason: string };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true,
  isArray: (name) => ["service", "CLUSTER", "END_POINT", "SERVICE"].includes(name),
});

/**
 * Reads an update. Only the first element of the body counts: two requests written in one go
 * leave the second one (its request line and head included) after it, unread.
 *
 * - not XML, or not an `<end_point>`: `Error parsing xml document.`;
 * - no `<operation>`, `<host>` or `<port>`: `Error Parsing XML Element.`;
 * - a port that is not an integer: `Port Must be an Integer value.`;
 * - an end point or service without a name, no `<service>`, an empty host: a crash.
 */
export function readUpdate(body: string): UpdateReading {
  // The exact shape the monitor sends, read strictly first: the general parser costs about 100 µs
  // a body, and the deployed proxy's pace must not be the stand-in's parser's. Anything else goes
  // to the general parser, which decides what the proxy answers.
  const exact = parseUpdateBody(body);
  if (!("error" in exact)) return { kind: "update", ...exact };
  const document = parseFirstElement(body);
  if (document === undefined) return { kind: "error", answer: PARSE_ERRORS.document };
  const endPoint = document.end_point;
  if (!isRecord(endPoint)) return { kind: "error", answer: PARSE_ERRORS.document };
  const name = endPoint["@name"];
  if (typeof name !== "string" || name === "") {
    return { kind: "crash", reason: "an <end_point> without a name" };
  }
  const operation = endPoint.operation;
  if (typeof operation !== "string") return { kind: "error", answer: PARSE_ERRORS.element };
  const services = endPoint.service;
  const service = Array.isArray(services) ? services[0] : undefined;
  if (!isRecord(service)) return { kind: "crash", reason: "an update without a <service>" };
  const read = readService(service, "service", "host", "port");
  if ("kind" in read) return read;
  return { kind: "update", op: operation.trim(), endPoint: name, ...read };
}

/**
 * Reads a whole configuration: every `CLUSTERS/CLUSTER/END_POINTS/END_POINT` with its
 * `SERVICES/SERVICE` list. A body that is not XML is `unparseable` (the proxy answers 200 and
 * changes nothing); a document without `<protocol-server-config>` crashes the proxy, as do an
 * unnamed end point or service and an empty host.
 */
export function readConfiguration(body: string): ConfigurationReading {
  const document = parseFirstElement(body);
  if (document === undefined) return { kind: "unparseable", reason: "not an XML document" };
  const root = Object.values(document).find(isRecord);
  if (root === undefined || !("protocol-server-config" in root)) {
    return { kind: "crash", reason: "a configuration without <protocol-server-config>" };
  }
  const endPoints = new Map<string, StandInEntry[]>();
  for (const cluster of arrayAt(root.CLUSTERS, "CLUSTER")) {
    for (const endPoint of arrayAt(cluster.END_POINTS, "END_POINT")) {
      const name = endPoint["@name"];
      if (typeof name !== "string" || name === "") {
        return { kind: "crash", reason: "an END_POINT without a name" };
      }
      const entries: StandInEntry[] = [];
      for (const service of arrayAt(endPoint.SERVICES, "SERVICE")) {
        const read = readService(service, "SERVICE", "HOST", "PORT");
        if ("kind" in read) return read;
        entries.push(read);
      }
      endPoints.set(name, entries);
    }
  }
  return { kind: "configuration", endPoints };
}

function readService(
  service: Record<string, unknown>,
  element: string,
  hostElement: string,
  portElement: string,
): StandInEntry | { kind: "error"; answer: string } | { kind: "crash"; reason: string } {
  const name = service["@name"];
  if (typeof name !== "string" || name === "") {
    return { kind: "crash", reason: `a <${element}> without a name` };
  }
  const host = service[hostElement];
  const port = service[portElement];
  if (typeof host !== "string" || typeof port !== "string") {
    return { kind: "error", answer: PARSE_ERRORS.element };
  }
  if (host.trim() === "") return { kind: "crash", reason: `an empty <${hostElement}>` };
  if (!/^\s*[0-9]{1,9}\s*$/.test(port)) return { kind: "error", answer: PARSE_ERRORS.port };
  return { service: name, host, port: Number(port) };
}

/** The body up to the end of its first element, parsed; `undefined` when it is not XML. */
function parseFirstElement(body: string): Record<string, unknown> | undefined {
  const start = /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*<([A-Za-z_][\w.:-]*)/.exec(body);
  if (!start) return undefined;
  const closing = `</${start[1]}>`;
  const end = body.indexOf(closing);
  const first = end === -1 ? body : body.slice(0, end + closing.length);
  if (XMLValidator.validate(first) !== true) return undefined;
  try {
    const parsed: unknown = parser.parse(first);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The records of `parent[child]` (an empty element is text, not a record: none). */
function arrayAt(parent: unknown, child: string): Record<string, unknown>[] {
  if (!isRecord(parent)) return [];
  const children = parent[child];
  return Array.isArray(children) ? children.filter(isRecord) : [];
}
