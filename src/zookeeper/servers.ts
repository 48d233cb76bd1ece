/**
 * The connection string (`host:port[,host:port...][/chroot]`): the ensemble's members, IPv6 in
 * brackets, and the chroot every path is relative to.
 *
 * @module
 */

/** One member of the ensemble, as named in the connection string. */
export interface ZkServerAddress {
  /** A hostname or an address; IPv6 without brackets. */
  host: string;
  /** The TCP port. */
  port: number;
}

/** A connection string taken apart. */
export interface ZkEnsemble {
  /** The servers, in the order written. */
  servers: ZkServerAddress[];
  /** The chroot without a trailing slash, `""` for none. */
  chroot: string;
}

/** ZooKeeper's client port, used when a member names none. */
const DEFAULT_PORT = 2181;

/**
 * Parses a connection string. Validation with one clear line per mistake is the caller's job (the
 * project's options do it); this only takes a valid string apart.
 *
 * @example
 * ```ts
 * parseConnectionString("[::1]:2182,zk2/apps");
 * // { servers: [{ host: "::1", port: 2182 }, { host: "zk2", port: 2181 }], chroot: "/apps" }
 * ```
 */
export function parseConnectionString(connectionString: string): ZkEnsemble {
  const slash = connectionString.indexOf("/");
  const hosts = slash === -1 ? connectionString : connectionString.slice(0, slash);
  const chroot = slash === -1 ? "" : connectionString.slice(slash).replace(/\/+$/, "");
  const servers = hosts.split(",").filter(Boolean).map((item): ZkServerAddress => {
    const bracketed = item.match(/^\[([^\]]+)\](?::(\d+))?$/);
    if (bracketed) return { host: bracketed[1], port: Number(bracketed[2] ?? DEFAULT_PORT) };
    const colon = item.lastIndexOf(":");
    return colon === -1
      ? { host: item, port: DEFAULT_PORT }
      : { host: item.slice(0, colon), port: Number(item.slice(colon + 1)) };
  });
  return { servers, chroot };
}

/** `host:port`, IPv6 in brackets: how logs and state changes name a member. */
export function formatServer(server: ZkServerAddress): string {
  return server.host.includes(":")
    ? `[${server.host}]:${server.port}`
    : `${server.host}:${server.port}`;
}

/** A shuffled copy (Fisher–Yates), so clients of one ensemble spread over its members. */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
