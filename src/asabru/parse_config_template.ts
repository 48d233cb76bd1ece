/**
 * Parses and validates the proxy's `config.xml` into a {@link ConfigTemplate}, with a real XML
 * parser (`@xmldom/xmldom`, through `_xml_dom.ts`). Apart from `config_template.ts` so that the
 * DOM is only loaded where a template is used: `loadMonitorConfig` imports this module only when
 * `ASABRU_CONFIG_TEMPLATE` is set.
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
 * ```
 *
 * @module
 */
import type { Element } from "@xmldom/xmldom";
import { childElements, elementsByTag, parseXmlStrictly } from "./_xml_dom.ts";
import { validateServiceRef } from "./wire.ts";
import {
  type ConfigTemplate,
  ConfigTemplateError,
  type ServiceEntry,
  TemplateTags,
} from "./config_template.ts";

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
