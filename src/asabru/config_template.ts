/**
 * The deployed proxy's own `config.xml`, read as the template of whole-state delivery
 * (`POST /configuration`): what a parsed template holds (its end points and their static
 * services), and which services it refuses. Parsing (with a real XML parser, validated once at
 * start) is {@link parseConfigTemplate} in `parse_config_template.ts`, apart so that a monitor
 * without a template never loads the XML DOM (it adds megabytes to the idle process).
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
import type { ServiceRef } from "./wire.ts";

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
