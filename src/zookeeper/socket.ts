/**
 * The one place where a connection to a ZooKeeper server is opened. Plain TCP today; TLS to
 * ZooKeeper (a later goal) is added here and nowhere else.
 *
 * @module
 */
import net from "node:net";
import type { ZkConnectionFailure } from "./session.ts";

/** One member of the ensemble, as named in the connection string. */
export interface ZkServerAddress {
  host: string;
  port: number;
}

/** Opens a socket to one ZooKeeper server, with Nagle's algorithm off (requests are small). */
export function openZkSocket(server: ZkServerAddress): net.Socket {
  const socket = net.connect({ host: server.host, port: server.port });
  socket.setNoDelay(true);
  return socket;
}

/** Errno codes of a name that did not resolve (getaddrinfo's answers). */
const UNRESOLVED = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA"]);
const RESET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);
const TIMEOUT = new Set(["ETIMEDOUT"]);
/** Node's TLS and OpenSSL verification codes (`ERR_TLS_CERT_ALTNAME_INVALID`, `CERT_HAS_EXPIRED`). */
const TLS = /^ERR_(TLS|SSL)_|CERT|^UNABLE_TO_VERIFY/;

/**
 * Sorts a socket's `error` event into the small set of {@link ZkConnectionFailure} kinds; the
 * reason is the runtime's own message (`connect ECONNREFUSED 127.0.0.1:1`,
 * `getaddrinfo ENOTFOUND zk.invalid`), so an operator reads what the system said.
 */
export function describeSocketError(
  error: unknown,
): Pick<ZkConnectionFailure, "kind" | "reason"> {
  const reason = error instanceof Error ? error.message : String(error);
  const code = typeof error === "object" && error !== null && "code" in error
    ? String(error.code)
    : "";
  if (code === "ECONNREFUSED") return { kind: "refused", reason };
  if (UNRESOLVED.has(code)) return { kind: "unresolved", reason };
  if (TIMEOUT.has(code)) return { kind: "timeout", reason };
  if (RESET.has(code)) return { kind: "reset", reason };
  if (TLS.test(code)) return { kind: "tls", reason };
  return { kind: "other", reason };
}
