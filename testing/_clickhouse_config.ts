/**
 * The `config.xml` and `users.xml` of one throwaway ClickHouse server (Debian's 18.16): loopback
 * only, every file in one directory, nothing read from or written to `/etc` or `/var`.
 *
 * @module
 */

/** Where a throwaway server listens and keeps its files. */
export interface ClickHouseConfigSettings {
  /** The directory holding both files, the data (`data/`) and the logs. */
  directory: string;
  /** `http_port`: the HTTP interface (`/ping`, `/replicas_status`, queries). */
  httpPort: number;
  /** `tcp_port`: the native protocol; ClickHouse always opens it. */
  tcpPort: number;
  /**
   * Replicated tables only: the ZooKeeper servers (`host:port,...`) and the `interserver_http_port`
   * replicas fetch parts from. Without it the server opens no interserver port and has no
   * ZooKeeper.
   */
  replication?: { zookeeper: string; interserverPort: number };
  /** `<merge_tree>` settings, e.g. `{ min_absolute_delay_to_close: 1 }`. */
  mergeTree?: Readonly<Record<string, string | number>>;
}

/** Renders `config.xml`; its `users_config` is the `users.xml` of {@link renderUsersXml}. */
export function renderConfigXml(settings: ClickHouseConfigSettings): string {
  const { directory } = settings;
  const data = `${directory}/data`;
  const lines = [
    `<?xml version="1.0"?>`,
    `<yandex>`,
    `  <logger>`,
    `    <level>information</level>`,
    `    <log>${xml(directory)}/server.log</log>`,
    `    <errorlog>${xml(directory)}/server.err.log</errorlog>`,
    `  </logger>`,
    // Without listen_host ClickHouse binds ::1 and 127.0.0.1; one address is enough and always there.
    `  <listen_host>127.0.0.1</listen_host>`,
    `  <http_port>${settings.httpPort}</http_port>`,
    `  <tcp_port>${settings.tcpPort}</tcp_port>`,
    `  <path>${xml(data)}/</path>`,
    `  <tmp_path>${xml(data)}/tmp/</tmp_path>`,
    `  <user_files_path>${xml(data)}/user_files/</user_files_path>`,
    `  <format_schema_path>${xml(data)}/format_schemas/</format_schema_path>`,
    `  <users_config>${xml(directory)}/users.xml</users_config>`,
    `  <default_profile>default</default_profile>`,
    `  <default_database>default</default_database>`,
    // Debian's config asks for 5 GiB; a test server reads a few rows.
    `  <mark_cache_size>16777216</mark_cache_size>`,
  ];
  const { replication, mergeTree } = settings;
  if (replication) {
    lines.push(
      `  <interserver_http_port>${replication.interserverPort}</interserver_http_port>`,
      // Otherwise replicas announce `hostname -f`, which may not resolve to loopback.
      `  <interserver_http_host>127.0.0.1</interserver_http_host>`,
      `  <zookeeper>`,
      ...replication.zookeeper.split(",").map((server) => {
        const separator = server.lastIndexOf(":");
        const host = server.slice(0, separator);
        const port = server.slice(separator + 1);
        return `    <node><host>${xml(host)}</host><port>${xml(port)}</port></node>`;
      }),
      `  </zookeeper>`,
    );
  }
  if (mergeTree) {
    lines.push(`  <merge_tree>`);
    for (const [name, value] of Object.entries(mergeTree)) {
      if (!/^[a-z_]+$/.test(name)) throw new RangeError(`not a merge_tree setting name: ${name}`);
      lines.push(`    <${name}>${xml(String(value))}</${name}>`);
    }
    lines.push(`  </merge_tree>`);
  }
  lines.push(`</yandex>`);
  return lines.join("\n") + "\n";
}

/** Renders `users.xml`: one user, `default`, without a password, from 127.0.0.1 only. */
export function renderUsersXml(): string {
  return [
    `<?xml version="1.0"?>`,
    `<yandex>`,
    `  <profiles><default></default></profiles>`,
    `  <users>`,
    `    <default>`,
    `      <password></password>`,
    `      <networks><ip>127.0.0.1</ip></networks>`,
    `      <profile>default</profile>`,
    `      <quota>default</quota>`,
    `    </default>`,
    `  </users>`,
    `  <quotas><default></default></quotas>`,
    `</yandex>`,
  ].join("\n") + "\n";
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
