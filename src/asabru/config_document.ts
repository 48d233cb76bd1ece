/**
 * The body of one `POST /configuration`, as a pure function: the proxy's own configuration
 * template with each end point's `<SERVICES>` replaced by the list given. Read, edited and written
 * with an XML DOM (`@xmldom/xmldom`), so every name and host is escaped by the serializer: `&`,
 * `<`, `>` and `"` in attributes, and tab, LF and CR as character references (a parser would
 * otherwise normalise them to spaces and the proxy would see another name).
 *
 * The renderer is the last guard before the proxy: it refuses (throws) what would crash it, an
 * end point the template does not have or an empty list, and any entry
 * {@link validateServiceRef} refuses. An end point whose template `<SERVICES>` is empty and that
 * has no list is left out of the document: pushed empty, it would crash the proxy at its next
 * data-plane request; left out, the proxy is expected to keep its current list for it.
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
import {
  type Comment,
  type Document,
  type Element,
  type Node,
  XMLSerializer,
} from "@xmldom/xmldom";
import { InvalidServiceRefError, validateServiceRef } from "./wire.ts";
import { type ConfigTemplate, type ServiceEntry, TemplateTags } from "./config_template.ts";
import { childElements, elementsByTag, parseXmlStrictly } from "./_xml_dom.ts";

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
 * list, in the given order; end points not in `lists` keep the template's services, or are left
 * out of the document when the template has none for them.
 *
 * @throws {UnsafeConfigurationError} for an end point the template does not have, or an empty
 * list.
 * @throws {InvalidServiceRefError} for an entry {@link validateServiceRef} refuses.
 */
export function renderConfiguration(
  template: ConfigTemplate,
  lists: ReadonlyMap<string, readonly ServiceEntry[]>,
): string {
  return new ConfigDocument(template).render(lists);
}

/** One end point of a {@link ConfigDocument}. */
interface EndPointSlot {
  /** The `<END_POINT>`, and what stands in its place while it is left out of the document. */
  element: Element;
  placeholder: Node;
  /** The indentation text before `element`, left out with it (`undefined`: none). */
  leading?: Node;
  /** Whether the template has no `<SERVICE>` for it: left out while it has no list. */
  emptyInTemplate: boolean;
  /** Whether it is in the document now. */
  present: boolean;
  services: Element;
  /** The template's children of `<SERVICES>`, put back when the end point leaves the lists. */
  original: Node[];
  /** The line break and indentation before a `<SERVICE>`, and before `</SERVICES>`. */
  inner: string;
  outer: string;
  /** The entries it holds now; `undefined`: the template's. */
  current?: readonly ServiceEntry[];
  /** The comment standing for its services while it holds `current` (see ConfigDocument). */
  marker: Node;
  /** Its services as XML, what the marker is replaced with. */
  rendered: string;
}

/**
 * {@link renderConfiguration} for a sequence of pushes: the template is parsed once and each
 * render rebuilds (and validates) only the end points whose list changed since the last one, so
 * a push after one change costs the serialisation, not a rebuild of every service. Its output is
 * always the same as {@link renderConfiguration}'s for the same lists.
 *
 * The services are not kept in the document: a replaced `<SERVICES>` holds one comment, a marker
 * that the serialised template's text has replaced by the end point's services, each serialised
 * by the XML serializer and kept until its list changes. A cold sync of 10,000 services in
 * the DOM cost about 250 ms of CPU in building and serialising alone (bench profile), and every
 * push serialised every service again.
 */
export class ConfigDocument {
  readonly #document: Document;
  readonly #endPoints = new Map<string, EndPointSlot>();
  /** Each slot by its marker's text; the markers' pattern in the serialised document. */
  readonly #byMarker = new Map<string, EndPointSlot>();
  readonly #markers: RegExp;

  /** Parses `template` (already validated). */
  constructor(template: ConfigTemplate) {
    const parsed = parseXmlStrictly(template.text);
    // A template parsed once already (parseConfigTemplate): this cannot fail.
    if ("problem" in parsed) throw new TypeError(`the template does not parse: ${parsed.problem}`);
    this.#document = parsed.document;
    // Unguessable, so no comment of the template itself can pass for a marker.
    const nonce = crypto.randomUUID();
    this.#markers = new RegExp(`<!--(zkcm-services-${nonce}-\\d+)-->`, "g");
    for (const endPoint of elementsByTag(this.#document.documentElement!, TemplateTags.endPoint)) {
      const [services] = childElements(endPoint, TemplateTags.services);
      // Indented as the template is: one service a line, as its own services are (or one level
      // in from <SERVICES>).
      const outer = indentationBefore(services);
      const [first] = childElements(services, TemplateTags.service);
      const previous = endPoint.previousSibling;
      const slot: EndPointSlot = {
        element: endPoint,
        placeholder: this.#document.createTextNode(""),
        leading: previous?.nodeType === 3 && (previous.nodeValue ?? "").trim() === ""
          ? previous
          : undefined,
        emptyInTemplate: first === undefined,
        present: true,
        services,
        original: Array.from(services.childNodes),
        inner: first ? indentationBefore(first) : outer + INDENT_STEP,
        outer,
        marker: this.#document.createComment(`zkcm-services-${nonce}-${this.#byMarker.size}`),
        rendered: "",
      };
      this.#endPoints.set(endPoint.getAttribute("name") ?? "", slot);
      this.#byMarker.set((slot.marker as Comment).data, slot);
      if (slot.emptyInTemplate) leaveOut(slot);
    }
  }

  /**
   * The document with these lists (see {@link renderConfiguration}). When it throws, the
   * document is as it was.
   *
   * @throws {UnsafeConfigurationError} for an end point the template does not have, or an
   * empty list.
   * @throws {InvalidServiceRefError} for an entry {@link validateServiceRef} refuses.
   */
  render(lists: ReadonlyMap<string, readonly ServiceEntry[]>): string {
    const changed: Array<[EndPointSlot, readonly ServiceEntry[] | undefined]> = [];
    for (const [endPoint, entries] of lists) {
      const slot = this.#endPoints.get(endPoint);
      if (!slot) {
        throw new UnsafeConfigurationError(endPoint, "not in the proxy's configuration template");
      }
      if (entries.length === 0) {
        throw new UnsafeConfigurationError(endPoint, "an empty service list crashes the proxy");
      }
      if (slot.current !== undefined && sameEntries(slot.current, entries)) continue;
      for (const entry of entries) {
        const problem = validateServiceRef({ endPoint, ...entry });
        if (problem !== undefined) throw new InvalidServiceRefError(problem);
      }
      changed.push([slot, entries]);
    }
    for (const [endPoint, slot] of this.#endPoints) {
      if (slot.current !== undefined && !lists.has(endPoint)) changed.push([slot, undefined]);
    }
    for (const [slot, entries] of changed) {
      clear(slot.services);
      if (entries === undefined) {
        for (const node of slot.original) slot.services.appendChild(node);
      } else {
        slot.services.appendChild(slot.marker);
        slot.rendered = servicesXml(this.#document, slot, entries);
      }
      slot.current = entries?.map((entry) => ({ ...entry }));
      if (entries === undefined && slot.emptyInTemplate) leaveOut(slot);
      if (entries !== undefined) putBack(slot);
    }
    return new XMLSerializer().serializeToString(this.#document)
      .replace(this.#markers, (_marker, key: string) => this.#byMarker.get(key)!.rendered);
  }
}

/** Takes the end point (and its indentation) out of the document, keeping its place. */
function leaveOut(slot: EndPointSlot): void {
  if (!slot.present) return;
  const parent = slot.element.parentNode!;
  parent.replaceChild(slot.placeholder, slot.element);
  if (slot.leading) parent.removeChild(slot.leading);
  slot.present = false;
}

/** Puts a left-out end point back where the template has it. */
function putBack(slot: EndPointSlot): void {
  if (slot.present) return;
  const parent = slot.placeholder.parentNode!;
  if (slot.leading) parent.insertBefore(slot.leading, slot.placeholder);
  parent.replaceChild(slot.element, slot.placeholder);
  slot.present = true;
}

function sameEntries(a: readonly ServiceEntry[], b: readonly ServiceEntry[]): boolean {
  return a.length === b.length &&
    a.every((entry, index) =>
      entry.service === b[index].service && entry.host === b[index].host &&
      entry.port === b[index].port
    );
}

function clear(element: Element): void {
  while (element.firstChild !== null) element.removeChild(element.firstChild);
}

/**
 * The content of a `<SERVICES>` holding `entries`, one a line. Each service is built as DOM
 * elements of the template's document and written by the XML serializer, which escapes its name
 * and host; the elements are dropped once written, so a push after one change neither rebuilds
 * nor re-serialises the other end points' services. Only the template's own indentation is put
 * between the serialised services.
 */
function servicesXml(
  document: Document,
  { inner, outer }: EndPointSlot,
  entries: readonly ServiceEntry[],
): string {
  const serializer = new XMLSerializer();
  let xml = "";
  for (const entry of entries) {
    const service = document.createElement(TemplateTags.service);
    service.setAttribute("name", entry.service);
    service.appendChild(textElement(document, TemplateTags.host, entry.host));
    service.appendChild(textElement(document, TemplateTags.port, String(entry.port)));
    xml += inner + serializer.serializeToString(service);
  }
  return xml + outer;
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
