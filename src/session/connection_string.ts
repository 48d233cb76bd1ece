/**
 * ZooKeeper connection strings (`ZK_HOST`): `host[:port][,host[:port]...][/chroot]`, validated
 * before anything connects, so a typo is one clear line at start-up and not a silent retry loop.
 *
 * @module
 */
import * as v from "valibot";
import { parseHostPort } from "../service/host_port.ts";
import { validateZnodePath } from "../service/znode_path.ts";

/** ZooKeeper's client port, used when a host names none. */
export const DEFAULT_ZOOKEEPER_PORT = 2181;

/** A parsed connection string. */
export interface ConnectionString {
  servers: { host: string; port: number }[];
  /** The chroot every path is relative to, if any. */
  chroot?: string;
  /** The normalised string, every host with its port, as the session layer takes it. */
  text: string;
}

/** Parses and checks a connection string; returns a one-line reason when it is not valid. */
export function parseConnectionString(text: string): ConnectionString | { error: string } {
  if (text.trim() === "") return { error: "empty" };
  const slash = text.indexOf("/");
  const hostList = slash === -1 ? text : text.slice(0, slash);
  const chroot = slash === -1 ? undefined : text.slice(slash);
  const servers: ConnectionString["servers"] = [];
  for (const item of hostList.split(",")) {
    if (item === "") return { error: "empty host in the list" };
    const withPort = /:\d*$/.test(item) && !item.endsWith("]")
      ? item
      : `${item}:${DEFAULT_ZOOKEEPER_PORT}`;
    const parsed = parseHostPort(withPort);
    if ("error" in parsed) return { error: `host ${JSON.stringify(item)}: ${parsed.error}` };
    servers.push(parsed);
  }
  if (chroot !== undefined && chroot !== "/") {
    const problem = validateZnodePath(chroot);
    if (problem) return { error: `chroot ${JSON.stringify(chroot)}: ${problem}` };
  }
  const hosts = servers.map(({ host, port }) =>
    `${host.includes(":") ? `[${host}]` : host}:${port}`
  );
  const usefulChroot = chroot === "/" ? undefined : chroot;
  return {
    servers,
    ...(usefulChroot ? { chroot: usefulChroot } : {}),
    text: hosts.join(",") + (usefulChroot ?? ""),
  };
}

/** valibot schema: a connection string in, its normalised text out. */
export const ConnectionStringSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed = parseConnectionString(dataset.value);
    if ("error" in parsed) {
      addIssue({ message: `is not a ZooKeeper connection string (${parsed.error})` });
      return NEVER;
    }
    return parsed.text;
  }),
);

/** The chroot of a valid connection string (`zk:2181/cluster3` → `/cluster3`), if it has one. */
export function connectionChroot(text: string): string | undefined {
  const parsed = parseConnectionString(text);
  return "error" in parsed ? undefined : parsed.chroot;
}
