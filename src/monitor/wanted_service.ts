/**
 * From a mirrored znode to what the proxy should hold: the data must be UTF-8 `host:port`, the
 * names must be carriable in the proxy's XML. Anything else is refused (logged and counted by
 * the caller), never forwarded.
 *
 * @module
 */
import type { Wanted } from "./delivery/decide.ts";
import { validateServiceRef } from "../asabru/wire.ts";
import { parseServiceAddress } from "../service/host_port.ts";
import type { MirroredService } from "./tree_mirror.ts";
import { type ConfigTemplate, templateRefusal } from "../asabru/config_template.ts";

/** The longest data accepted as `host:port` (a hostname is at most 253 bytes). */
const MAX_DATA_BYTES = 300;
/** Keeps a byte order mark (the default drops it silently): data that starts with one is refused. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The proxy entry a mirrored service stands for, or why it cannot be sent. */
export function toWanted(service: MirroredService): { wanted: Wanted } | { invalid: string } {
  if (service.data.length === 0) return { invalid: "empty data (expected host:port)" };
  if (service.data.length > MAX_DATA_BYTES) {
    return { invalid: `data of ${service.data.length} bytes is not host:port` };
  }
  let text: string;
  try {
    text = strictUtf8.decode(service.data);
  } catch {
    return { invalid: "data is not UTF-8" };
  }
  if (text.startsWith("\uFEFF")) {
    return { invalid: "data starts with a UTF-8 byte order mark (U+FEFF) before host:port" };
  }
  const parsed = parseServiceAddress(text);
  if ("error" in parsed) return { invalid: `data ${JSON.stringify(text)}: ${parsed.error}` };
  const ref = { endPoint: service.endPoint, service: service.service, ...parsed };
  const refused = validateServiceRef(ref);
  if (refused) return { invalid: refused };
  return { wanted: { ref, version: service.czxid } };
}

/**
 * The proxy entry a mirrored service stands for, or why it cannot be sent: {@link toWanted}, and
 * with whole-state delivery also the template's refusal (`endPointRefused` names an end point the
 * template lacks, so that refusal is logged once per end point, not per service).
 */
export function wantedByTemplate(
  template: ConfigTemplate | undefined,
  service: MirroredService,
): { wanted: Wanted } | { invalid: string; endPointRefused?: string } {
  const result = toWanted(service);
  if (!template || "invalid" in result) return result;
  const refused = templateRefusal(template, result.wanted.ref);
  if (refused === undefined) return result;
  const endPointRefused = template.hasEndPoint(service.endPoint) ? undefined : service.endPoint;
  return { invalid: refused, endPointRefused };
}

/**
 * What is odd about a service that is sent all the same, or `undefined`: a persistent znode (it
 * stays in the proxy after its node dies; clients register ephemeral ones) or one with children
 * (a level below services, which the mirror does not read). The monitor cannot tell who made it;
 * the operator can, so it is reported and counted.
 */
export function serviceOddity(service: MirroredService): string | undefined {
  if (service.ephemeral) return undefined; // an ephemeral node cannot have children
  const children = service.children > 0
    ? `, with ${service.children} ${
      service.children === 1 ? "child" : "children"
    } (a level below services, ignored)`
    : "";
  return `persistent znode${children}: it stays in the proxy after its node dies (clients register ephemeral ones)`;
}
