/**
 * The proxy configuration the benchmark's monitors push in whole-state mode (`--whole-state`):
 * the shipped example (`examples/asabru-config.xml`) with one end point per benchmark end point,
 * each holding one static service named {@link STATIC_SERVICE} (so no end point is ever left
 * without a service, and the receiver can leave it out of its counts).
 *
 * @module
 */
import { XMLSerializer } from "@xmldom/xmldom";
import { TemplateTags } from "../src/asabru/config_template.ts";
import { childElements, parseXmlStrictly } from "../src/asabru/_xml_dom.ts";
import { STATIC_SERVICE } from "./receiver.ts";
import { endPointName } from "./tree_layout.ts";

const EXAMPLE = new URL("../examples/asabru-config.xml", import.meta.url);

/**
 * Writes the template for end points `ep000`…(`endPoints` of them) and `extra` to `directory`;
 * returns its path.
 */
export async function writeBenchTemplate(
  directory: string,
  endPoints: number,
  extra: readonly string[],
): Promise<string> {
  const parsed = parseXmlStrictly(await Deno.readTextFile(EXAMPLE));
  if ("problem" in parsed) throw new Error(`${EXAMPLE.pathname}: ${parsed.problem}`);
  const { document } = parsed;
  const [prototype] = Array.from(document.getElementsByTagName(TemplateTags.endPoint));
  const parent = prototype.parentNode!;
  const names = [...Array.from({ length: endPoints }, (_, index) => endPointName(index)), ...extra];
  for (const [index, name] of names.entries()) {
    const endPoint = prototype.cloneNode(true) as typeof prototype;
    endPoint.setAttribute("name", name);
    const [port] = childElements(endPoint, "PROXY_PORT");
    port.textContent = String(20_000 + index);
    const [services] = childElements(endPoint, TemplateTags.services);
    for (const service of childElements(services, TemplateTags.service)) {
      service.setAttribute("name", STATIC_SERVICE);
    }
    parent.insertBefore(endPoint, prototype);
  }
  parent.removeChild(prototype);
  const path = `${directory}/asabru-config.xml`;
  await Deno.writeTextFile(path, new XMLSerializer().serializeToString(document));
  return path;
}
