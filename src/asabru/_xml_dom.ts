/**
 * The few DOM helpers the proxy's configuration needs (`@xmldom/xmldom`): a strict parse, and
 * elements by name. Private to `config_template.ts` and `config_document.ts`.
 *
 * @module
 */
import { type Document, DOMParser, type Element, type Node } from "@xmldom/xmldom";
import { oneLine } from "../shared/log_text.ts";

/**
 * Parses `text` as XML with every warning and error of the parser treated as fatal (a document
 * the parser had to repair is not the one the proxy reads): the document, or the parser's first
 * complaint (one line, with its position).
 */
export function parseXmlStrictly(text: string): { document: Document } | { problem: string } {
  let complaint: string | undefined;
  const parser = new DOMParser({
    onError: (level, message) => {
      complaint ??= `${level === "warning" ? "" : "not well-formed XML: "}${oneLine(message)}`;
      // A thrown error stops the parser (it becomes its ParseError): nothing half-read is used.
      throw new Error(complaint);
    },
  });
  try {
    return { document: parser.parseFromString(text, "text/xml") };
  } catch (error) {
    return { problem: complaint ?? `not well-formed XML: ${oneLine(String(error))}` };
  }
}

/** The element children of `parent` named `tag` (direct children only). */
export function childElements(parent: Node, tag: string): Element[] {
  const found: Element[] = [];
  for (let child = parent.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === 1 && (child as Element).tagName === tag) found.push(child as Element);
  }
  return found;
}

/** Every element named `tag` under `root`, in document order. */
export function elementsByTag(root: Element, tag: string): Element[] {
  return Array.from(root.getElementsByTagName(tag));
}
