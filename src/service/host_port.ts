/**
 * `host:port` as a service's znode data carries it: parsed strictly, because the data comes from
 * ZooKeeper, which anyone with write access can fill, and ends up in the proxy's configuration.
 *
 * @module
 */

import * as v from "valibot";

/** A network address: a hostname, an IPv4 address or an IPv6 address (without brackets). */
export interface HostPort {
  /** Hostname, dotted IPv4, or IPv6 without the surrounding brackets. */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
}

/**
 * Parses `host:port` exactly as written, or says in a few words what is wrong with it.
 *
 * Accepted hosts:
 * - a hostname of RFC 1123 labels (letters, digits, `-`; 1–63 characters, not starting or ending
 *   with `-`; 253 characters in all), such as `localhost` or `ch-1.example.com`. Underscores are
 *   accepted too, although RFC 1123 has none: Docker Compose names containers and network
 *   aliases after the project and service (`myproject_clickhouse_1`), and those names resolve on
 *   the Docker network. Non-ASCII names must be given in their `xn--` form. A trailing dot is
 *   refused. A host whose last label is all digits must be a dotted-quad IPv4 address, because
 *   resolvers read forms such as `2130706433` or `127.1` as addresses.
 * - a dotted-quad IPv4 address, each number 0–255 without leading zeros (`010` is octal to some
 *   resolvers).
 * - an IPv6 address in brackets, `[::1]:2181`, including the `::ffff:1.2.3.4` form; zone ids
 *   (`%eth0`) are refused. The returned `host` has the brackets removed; {@link formatHostPort}
 *   puts them back. An IPv6 address without brackets is refused, since its last `:` is ambiguous.
 *
 * The port is 1–65535 in plain decimal: no sign, no leading zeros. Nothing is trimmed: whitespace
 * anywhere is an error.
 *
 * @example
 * ```ts
 * parseHostPort("localhost:2023"); // { host: "localhost", port: 2023 }
 * parseHostPort("[::1]:8123"); // { host: "::1", port: 8123 }
 * parseHostPort("localhost:99999"); // { error: "port must be 1-65535" }
 * ```
 */
export function parseHostPort(text: string): HostPort | { error: string } {
  if (text === "") return { error: "empty" };
  if (/\s/.test(text)) return { error: "contains whitespace" };

  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1) return { error: "missing ']' after the IPv6 address" };
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(":")) return { error: "missing ':port' after ']'" };
    portText = rest.slice(1);
    if (!isIPv6(host)) return { error: "invalid IPv6 address" };
  } else {
    const colon = text.lastIndexOf(":");
    if (colon === -1) return { error: "missing ':port'" };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return { error: "an IPv6 address must be in brackets: [addr]:port" };
    const hostError = validateHost(host);
    if (hostError !== undefined) return { error: hostError };
  }

  const port = parsePort(portText);
  if (typeof port === "string") return { error: port };
  return { host, port };
}

/**
 * {@link parseHostPort} for a service's address, the one the proxy will connect to: on top, the
 * unspecified addresses (`0.0.0.0`, `[::]`) are refused, since they mean "any address" to a
 * server that listens and nothing to a client that connects.
 *
 * @example
 * ```ts
 * parseServiceAddress("0.0.0.0:8123"); // { error: "0.0.0.0 is the unspecified address ..." }
 * ```
 */
export function parseServiceAddress(text: string): HostPort | { error: string } {
  const parsed = parseHostPort(text);
  if ("error" in parsed) return parsed;
  if (UNSPECIFIED.has(parsed.host.toLowerCase())) {
    const shown = parsed.host.includes(":") ? `[${parsed.host}]` : parsed.host;
    return {
      error: `${shown} is the unspecified address: a server listens on it, no one can connect ` +
        "to it (give the node's address)",
    };
  }
  return parsed;
}

const UNSPECIFIED = new Set(["0.0.0.0", "::", "::0", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0"]);

/**
 * Writes an address back as `host:port`, bracketing an IPv6 host: the inverse of
 * {@link parseHostPort}.
 *
 * @example
 * ```ts
 * formatHostPort({ host: "::1", port: 2181 }); // "[::1]:2181"
 * ```
 */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Valibot schema that turns a `host:port` string into a {@link HostPort} (see
 * {@link parseHostPort}). The issue message quotes the input and gives the reason, e.g.
 * `"localhost:0" is not host:port (port must be 1-65535)`.
 */
export const HostPortSchema: v.SchemaWithPipe<
  readonly [v.StringSchema<undefined>, v.RawTransformAction<string, HostPort>]
> = v.pipe(
  v.string(),
  v.rawTransform<string, HostPort>(({ dataset, addIssue, NEVER }) => {
    const parsed = parseHostPort(dataset.value);
    if ("error" in parsed) {
      addIssue({
        message: `${JSON.stringify(dataset.value)} is not host:port (${parsed.error})`,
      });
      return NEVER;
    }
    return parsed;
  }),
);

function parsePort(text: string): number | string {
  if (text === "") return "missing port";
  if (!/^[0-9]+$/.test(text)) return "port must be decimal digits";
  if (text.length > 1 && text.startsWith("0")) return "port must not have leading zeros";
  const port = Number(text);
  if (port < 1 || port > 65535) return "port must be 1-65535";
  return port;
}

/** A valid hostname, checked in one pass (the checks below say what is wrong with the others). */
const HOSTNAME =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
/** A last label that is all digits (or a dotted IPv4 address): not settled by {@link HOSTNAME}. */
const DIGITS_LAST = /(?:^|\.)[0-9]+$/;

/** A label of underscores only (`_`, `a._.b`): no resolver has a name for it. */
const UNDERSCORES_ONLY = /(?:^|\.)_+(?:\.|$)/;

function validateHost(host: string): string | undefined {
  if (
    host.length <= 253 && HOSTNAME.test(host) && !DIGITS_LAST.test(host) &&
    !UNDERSCORES_ONLY.test(host)
  ) {
    return undefined;
  }
  if (host === "") return "missing host";
  if (/^[0-9.]+$/.test(host) && /[0-9]/.test(host)) {
    return isIPv4(host) ? undefined : "invalid IPv4 address (four numbers 0-255, no leading zeros)";
  }
  if (host.length > 253) return "hostname longer than 253 characters";
  const labels = host.split(".");
  for (const label of labels) {
    if (label === "") return "empty label in hostname";
    if (label.length > 63) return "hostname label longer than 63 characters";
    if (!/^[A-Za-z0-9_-]+$/.test(label)) {
      return "hostname may contain only letters, digits, '-', '_' and '.'";
    }
    if (label.startsWith("-") || label.endsWith("-")) {
      return "hostname label starts or ends with '-'";
    }
    if (/^_+$/.test(label)) return "hostname label has no letter or digit";
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    return "hostname's last label is all digits (not an IPv4 address either)";
  }
  return undefined;
}

function isIPv4(text: string): boolean {
  const octets = text.split(".");
  return octets.length === 4 &&
    octets.every((octet) => /^(0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255);
}

function isIPv6(text: string): boolean {
  let hex = text;
  // A trailing dotted quad stands for the last two 16-bit groups.
  const lastColon = text.lastIndexOf(":");
  if (lastColon === -1) return false;
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return false;
    hex = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const isGroup = (group: string) => /^[0-9A-Fa-f]{1,4}$/.test(group);
  const halves = hex.split("::");
  if (halves.length > 2) return false;
  if (halves.length === 1) {
    const groups = hex.split(":");
    return groups.length === 8 && groups.every(isGroup);
  }
  // "::" stands for at least one group of zeros.
  const groups = halves.flatMap((half) => half === "" ? [] : half.split(":"));
  return groups.length <= 7 && groups.every(isGroup);
}
