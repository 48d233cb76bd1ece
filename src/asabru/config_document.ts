/**
 * The body of one `POST /configuration`, as a pure function: the proxy's own configuration
 * template with each end point's `<SERVICES>` replaced by the list given. Read, edited and written
 * with an XML DOM (`@xmldom/xmldom`), so every name and host is escaped by the serializer: `&`,
 * `<`, `>` and `"` in attributes, and tab, LF and CR as character references (a parser would
 * otherwise normalise them to spaces and the proxy would see another name).
 *
 * The renderer is the last guard before the proxy: it refuses (throws) what would crash it, an
 * end point the template does not have or an empty list, and any entry
 * {@link validateServiceRef} refuses.
 *
 * @example
 * ```ts
 * const template = parseConfigTemplate(Deno.readTextFileSync("config.xml"));
 * const body = renderConfiguration(template, new Map([
 *   ["ch_http_node1", [{ service: "ch_http_service2", host: "localhost", port: 2023 }]],
 * ]));
 * ```
 *
 * @module
 */
import { type Document, type Element, type Node, XMLSerializer } from "@xmldom/xmldom";
import { InvalidServiceRefError, validateServiceRef } from "./wire.ts";
import {
  childElements,
  type ConfigTemplate,
  elementsByTag,
  parseXml,
  type ServiceEntry,
  TemplateTags,
} from "./config_template.ts";

/** Thrown for a document that must not be pushed: it would crash the proxy. */
export class UnsafeConfigurationError extends Error {
  /** The end point concerned. */
  readonly endPoint: string;

  /** Makes the error for `endPoint`, `reason` saying why. */
  constructor(endPoint: string, reason: string) {
    super(`end point ${JSON.stringify(endPoint)}: ${reason}`);
    this.name = new.target.name;
    this.endPoint = endPoint;
  }
}

/** One level of indentation, for a template without a service to copy it from. */
const INDENT_STEP = "    ";

/**
 * Renders the template with the `<SERVICES>` of every end point in `lists` replaced by that
 * list, in the given order; end points not in `lists` keep the template's services.
 *
 * @throws {UnsafeConfigurationError} for an end point the template does not have, or an empty
 * list.
 * @throws {InvalidServiceRefError} for an entry {@link validateServiceRef} refuses.
 */
export function renderConfiguration(
  template: ConfigTemplate,
  lists: ReadonlyMap<string, readonly ServiceEntry[]>,
): string {
  for (const [endPoint, entries] of lists) {
    if (!template.hasEndPoint(endPoint)) {
      throw new UnsafeConfigurationError(endPoint, "not in the proxy's configuration template");
    }
    if (entries.length === 0) {
      throw new UnsafeConfigurationError(endPoint, "an empty service list crashes the proxy");
    }
    for (const entry of entries) {
      const problem = validateServiceRef({ endPoint, ...entry });
      if (problem !== undefined) throw new InvalidServiceRefError(problem);
    }
  }
  const document = parseXml(template.text);
  const root = document.documentElement!;
  for (const endPoint of elementsByTag(root, TemplateTags.endPoint)) {
    const entries = lists.get(endPoint.getAttribute("name") ?? "");
    if (entries === undefined) continue;
    const [services] = childElements(endPoint, TemplateTags.services);
    replaceServices(document, services, entries);
  }
  return new XMLSerializer().serializeToString(document);
}

function replaceServices(
  document: Document,
  services: Element,
  entries: readonly ServiceEntry[],
): void {
  const outer = indentationBefore(services);
  const [first] = childElements(services, TemplateTags.service);
  const inner = first ? indentationBefore(first) : outer + INDENT_STEP;
  while (services.firstChild !== null) services.removeChild(services.firstChild);
  for (const entry of entries) {
    services.appendChild(document.createTextNode(inner));
    const service = document.createElement(TemplateTags.service);
    service.setAttribute("name", entry.service);
    service.appendChild(textElement(document, TemplateTags.host, entry.host));
    service.appendChild(textElement(document, TemplateTags.port, String(entry.port)));
    services.appendChild(service);
  }
  services.appendChild(document.createTextNode(outer));
}

function textElement(document: Document, tag: string, text: string): Element {
  const element = document.createElement(tag);
  element.appendChild(document.createTextNode(text));
  return element;
}

/** The line break and indentation before `element` in the template ("\n" when there is none). */
function indentationBefore(element: Node): string {
  const previous = element.previousSibling;
  const text = previous?.nodeType === 3 ? previous.nodeValue ?? "" : "";
  const lastLine = /\n[ \t]*$/.exec(text);
  return lastLine ? lastLine[0] : "\n";
}
