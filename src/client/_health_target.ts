/**
 * Where a health check goes ({@link HealthTarget}), read from and written as a URL. Re-exported by
 * `health_check.ts`.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../service/host_port.ts";

/**
 * What to check:
 * - `http`: `GET url`; healthy when the answer is 2xx (redirects are not followed).
 * - `tcp`: healthy when a TCP connection to `host:port` can be made (it is closed at once).
 * - `clickhouse`: ClickHouse's HTTP interface at `baseUrl` (`http://host:port`); healthy when
 *   `GET /ping` and `GET /replicas_status` answer 200 `Ok.`. ClickHouse lists the delays there
 *   instead while a replica lags by `min_absolute_delay_to_close` or more (a MergeTree setting, off
 *   by default), so a catching-up replica stays out.
 */
export type HealthTarget =
  | { kind: "http"; url: string }
  | { kind: "tcp"; host: string; port: number }
  | { kind: "clickhouse"; baseUrl: string };

/** ClickHouse's HTTP port, for `clickhouse://host` without a port. */
export const CLICKHOUSE_HTTP_PORT = 8123;

const SCHEMES = "http://, https://, tcp:// or clickhouse://";

/**
 * Parses a health target from its URL form, or says in one line what is wrong with it:
 * - `http://host[:port]/path` and `https://...`: an HTTP check;
 * - `tcp://host:port`: a TCP connect check (the port is required);
 * - `clickhouse://host[:port]`: a ClickHouse check on its HTTP interface (port 8123 by default).
 *
 * Hosts and ports follow {@link parseHostPort} (IPv6 in brackets). User names and passwords in the
 * URL are refused; `tcp://` and `clickhouse://` take no path, query or fragment.
 *
 * @example
 * ```ts
 * parseHealthTarget("clickhouse://ch1"); // { kind: "clickhouse", baseUrl: "http://ch1:8123" }
 * parseHealthTarget("tcp://ch1:9000"); // { kind: "tcp", host: "ch1", port: 9000 }
 * parseHealthTarget("tcp://ch1"); // { error: "tcp:// needs a port: tcp://host:port" }
 * ```
 */
export function parseHealthTarget(text: string): HealthTarget | { error: string } {
  if (text === "") return { error: "empty" };
  // deno-lint-ignore no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(text)) {
    return { error: "contains whitespace or control characters" };
  }
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(text);
  if (!match) return { error: `missing scheme: expected ${SCHEMES}` };
  const scheme = match[1].toLowerCase();
  const authority = match[2];
  const rest = match[3];
  if (!["http", "https", "tcp", "clickhouse"].includes(scheme)) {
    return { error: `unsupported scheme "${scheme}": expected ${SCHEMES}` };
  }
  if (authority.includes("@")) return { error: "user names and passwords are not supported" };
  if (authority === "") return { error: "missing host" };

  const hasPort = authority.startsWith("[") ? authority.includes("]:") : authority.includes(":");
  if (scheme === "tcp" && !hasPort) return { error: "tcp:// needs a port: tcp://host:port" };
  const defaultPort = { http: 80, https: 443, tcp: 0, clickhouse: CLICKHOUSE_HTTP_PORT }[scheme]!;
  const address = parseHostPort(hasPort ? authority : `${authority}:${defaultPort}`);
  if ("error" in address) return { error: address.error };

  if (scheme === "http" || scheme === "https") {
    try {
      return { kind: "http", url: new URL(text).href };
    } catch {
      return { error: "not a valid URL" };
    }
  }
  if (rest !== "" && rest !== "/") {
    return { error: `${scheme}:// takes no path, query or fragment` };
  }
  if (scheme === "tcp") return { kind: "tcp", host: address.host, port: address.port };
  return { kind: "clickhouse", baseUrl: `http://${formatHostPort(address)}` };
}

/**
 * The URL form of a target, as {@link parseHealthTarget} reads it: for logs and status pages.
 *
 * @example
 * ```ts
 * formatHealthTarget({ kind: "clickhouse", baseUrl: "http://ch1:8123" }); // "clickhouse://ch1:8123"
 * ```
 */
export function formatHealthTarget(target: HealthTarget): string {
  switch (target.kind) {
    case "http":
      return target.url;
    case "tcp":
      return `tcp://${formatHostPort(target)}`;
    case "clickhouse":
      return target.baseUrl.replace(/^http:/, "clickhouse:");
  }
}
