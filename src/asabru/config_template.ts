/**
 * The deployed proxy's own `config.xml`, read as the template of whole-state delivery
 * (`POST /configuration`): parsed with a real XML parser, validated once at start, and asked what
 * it holds (its end points and their static services).
 *
 * Validation refuses what would make a pushed document crash the proxy or be ambiguous: a file
 * that is not well-formed XML, no `<protocol-server-config>`, no `<END_POINT>`, an end point
 * without a name or `<SERVICES>`, two end points of one name, a static service that is not a
 * sendable `name` + `HOST` + `PORT`. Each is one line naming what is wrong ({@link
 * ConfigTemplateError}).
 *
 * @example
 * ```ts
 * const template = parseConfigTemplate(Deno.readTextFileSync("config.xml"));
 * template.endPointNames; // ["ch_http_node1"]
 * template.staticServices("ch_http_node1"); // [{ service: "ch_http_service1", host: "127.0.0.1", port: 8123 }]
 * ```
 *
 * @module
 */
import type { Element } from "@xmldom/xmldom";
import { childElements, elementsByTag, parseXmlStrictly } from "./_xml_dom.ts";
import { type ServiceRef, validateServiceRef } from "./wire.ts";

/** One service of an end point's list: what a `<SERVICE>` element carries. */
export interface ServiceEntry {
  /** `<SERVICE name>`. */
  service: string;
  /** `<HOST>`: hostname, IPv4 or IPv6 without brackets. */
  host: string;
  /** `<PORT>`, 1–65535. */
  port: number;
}

/** Why a template cannot be used: one line, naming the element or the parse error. */
export class ConfigTemplateError extends Error {
  /** Makes the error; `message` is the one line shown at start. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The element names of the proxy's format that whole-state delivery reads or writes. */
export const TemplateTags = {
  protocolServerConfig: "protocol-server-config",
  endPoint: "END_POINT",
  services: "SERVICES",
  service: "SERVICE",
  host: "HOST",
  port: "PORT",
} as const;

/** A validated template: its text, and per end point its static services, in document order. */
export interface ConfigTemplate {
  /** The template's text as read (every push starts again from it). */
  readonly text: string;
  /** The end points' names, in document order. */
  readonly endPointNames: readonly string[];
  /** The services the template itself lists for `endPoint` (empty for an unknown one). */
  staticServices(endPoint: string): readonly ServiceEntry[];
  /** Whether the template (so the running proxy) has an end point of this name. */
  hasEndPoint(endPoint: string): boolean;
}

/**
 * Says why a service from ZooKeeper cannot go into a pushed document, or `undefined` when it can:
 * its end point is not in the template (the proxy crashes on an end point it does not have), or
 * its name is one of that end point's static services (it would be a second slot of that name).
 */
export function templateRefusal(template: ConfigTemplate, ref: ServiceRef): string | undefined {
  if (!template.hasEndPoint(ref.endPoint)) {
    return `end point ${JSON.stringify(ref.endPoint)} is not in the proxy's configuration ` +
      `template (pushing it would crash the proxy)`;
  }
  if (template.staticServices(ref.endPoint).some((entry) => entry.service === ref.service)) {
    return `the proxy's configuration template already lists a service named ` +
      `${JSON.stringify(ref.service)} under ${JSON.stringify(ref.endPoint)}`;
  }
  return undefined;
}

/**
 * Parses and validates a template.
 *
 * @throws {ConfigTemplateError} naming the first thing wrong.
 */
export function parseConfigTemplate(text: string): ConfigTemplate {
  const parsed = parseXmlStrictly(text);
  if ("problem" in parsed) throw new ConfigTemplateError(parsed.problem);
  const root = parsed.document.documentElement;
  if (!root) throw new ConfigTemplateError("no root element");
  if (elementsByTag(root, TemplateTags.protocolServerConfig).length === 0) {
    throw new ConfigTemplateError(
      `no <${TemplateTags.protocolServerConfig}> (the proxy crashes on a configuration without it)`,
    );
  }
  const endPoints = elementsByTag(root, TemplateTags.endPoint);
  if (endPoints.length === 0) throw new ConfigTemplateError(`no <${TemplateTags.endPoint}>`);
  const byName = new Map<string, ServiceEntry[]>();
  endPoints.forEach((element, index) => {
    const name = element.getAttribute("name") ?? "";
    const where = `<${TemplateTags.endPoint}> number ${index + 1}`;
    if (name === "") throw new ConfigTemplateError(`${where} has no name`);
    if (byName.has(name)) {
      throw new ConfigTemplateError(
        `two <${TemplateTags.endPoint}>s named ${JSON.stringify(name)}`,
      );
    }
    byName.set(name, readStaticServices(element, name));
  });
  return {
    text,
    endPointNames: [...byName.keys()],
    staticServices: (endPoint) => byName.get(endPoint) ?? [],
    hasEndPoint: (endPoint) => byName.has(endPoint),
  };
}

function readStaticServices(endPoint: Element, name: string): ServiceEntry[] {
  const where = `<${TemplateTags.endPoint} name=${JSON.stringify(name)}>`;
  const lists = childElements(endPoint, TemplateTags.services);
  if (lists.length !== 1) {
    throw new ConfigTemplateError(
      `${where} has ${lists.length === 0 ? "no" : "more than one"} <${TemplateTags.services}>`,
    );
  }
  return childElements(lists[0], TemplateTags.service).map((element, index) => {
    const entry = {
      service: element.getAttribute("name") ?? "",
      host: textOf(element, TemplateTags.host),
      port: Number(textOf(element, TemplateTags.port) || NaN),
    };
    const problem = validateServiceRef({ endPoint: name, ...entry });
    if (problem !== undefined) {
      throw new ConfigTemplateError(
        `${where}: <${TemplateTags.service}> number ${index + 1}: ${problem}`,
      );
    }
    return entry;
  });
}

function textOf(parent: Element, tag: string): string {
  const [element] = childElements(parent, tag);
  return element?.textContent?.trim() ?? "";
}
