/**
 * From a mirrored znode to what the proxy should hold: the data must be UTF-8 `host:port`, the
 * names must be carriable in the proxy's XML. Anything else is refused (logged and counted by
 * the caller), never forwarded.
 *
 * @module
 */
import type { Wanted } from "../delivery/decide.ts";
import { validateServiceRef } from "../asabru/wire.ts";
import { parseHostPort } from "../host_port.ts";
import type { MirroredService } from "./tree_mirror.ts";

/** The longest data accepted as `host:port` (a hostname is at most 253 bytes). */
const MAX_DATA_BYTES = 300;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

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
  const parsed = parseHostPort(text);
  if ("error" in parsed) return { invalid: `data ${JSON.stringify(text)}: ${parsed.error}` };
  const ref = { endPoint: service.endPoint, service: service.service, ...parsed };
  const refused = validateServiceRef(ref);
  if (refused) return { invalid: refused };
  return { wanted: { ref, version: service.czxid } };
}
