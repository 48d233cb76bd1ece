/** Settings of one throwaway ZooKeeper server, rendered into its `zoo.cfg`. */
export interface ZooCfgSettings {
  /** `tickTime`: ZooKeeper's time unit; heartbeats and ensemble limits count in ticks. */
  tickTimeMs: number;
  /** `minSessionTimeout`: the shortest session timeout granted to clients. */
  minSessionTimeoutMs: number;
  /** `maxSessionTimeout`: the longest session timeout granted to clients. */
  maxSessionTimeoutMs: number;
  /** `dataDir`: snapshots, transaction logs and, for ensemble members, `myid`. */
  dataDir: string;
  /** `clientPort` on 127.0.0.1. */
  clientPort: number;
  /** Ensemble members only: every member's quorum and election port, in member order (id = index + 1). */
  ensemble?: readonly { quorumPort: number; electionPort: number }[];
  /** A TLS client port beside the plain one. */
  tls?: ZooCfgTls;
}

/** TLS for clients (`secureClientPort`), with PEM key and trust stores. */
export interface ZooCfgTls {
  /** `secureClientPort` (on every address: ZooKeeper has no loopback-only setting for it). */
  securePort: number;
  /** A PEM file holding the server's private key and certificate chain. */
  keyStorePem: string;
  /** A PEM file of the CAs whose client certificates are accepted. */
  trustStorePem: string;
  /** `ssl.clientAuth`: `need` (a client certificate is required), `want` or `none`. */
  clientAuth: "need" | "want" | "none";
}

/** Renders a `zoo.cfg` for a server that lives only on loopback and only for a test or a demo. */
export function renderZooCfg(settings: ZooCfgSettings): string {
  const lines = [
    `tickTime=${settings.tickTimeMs}`,
    // Short session timeouts let expiry tests finish in about a second instead of half a minute.
    `minSessionTimeout=${settings.minSessionTimeoutMs}`,
    `maxSessionTimeout=${settings.maxSessionTimeoutMs}`,
    `initLimit=10`,
    `syncLimit=5`,
    `dataDir=${settings.dataDir}`,
    `clientPort=${settings.clientPort}`,
    `clientPortAddress=127.0.0.1`,
    // The admin server would bind port 8080 in every instance, so parallel servers would clash.
    `admin.enableServer=false`,
    // 3.8 allows only `srvr` by default; tests also use `ruok`, `wchs`, `cons`, ...
    `4lw.commands.whitelist=*`,
    // Throwaway data: an fsync per transaction only slows tests down.
    `forceSync=no`,
    `maxClientCnxns=0`,
  ];
  const tls = settings.tls;
  if (tls) {
    lines.push(
      `secureClientPort=${tls.securePort}`,
      // The default NIO factory has no TLS; Netty serves the plain port too.
      `serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory`,
      `ssl.keyStore.location=${tls.keyStorePem}`,
      `ssl.keyStore.type=PEM`,
      `ssl.trustStore.location=${tls.trustStorePem}`,
      `ssl.trustStore.type=PEM`,
      `ssl.clientAuth=${tls.clientAuth}`,
    );
  }
  settings.ensemble?.forEach(({ quorumPort, electionPort }, index) => {
    lines.push(`server.${index + 1}=127.0.0.1:${quorumPort}:${electionPort}`);
  });
  return lines.join("\n") + "\n";
}

/** Session and tick timing of a server, every value in milliseconds. */
export interface Timing {
  /** `tickTime`. */
  tickTimeMs: number;
  /** `minSessionTimeout`. */
  minSessionTimeoutMs: number;
  /** `maxSessionTimeout`. */
  maxSessionTimeoutMs: number;
}

/**
 * Fills in the defaults (200 ms ticks, ZooKeeper's own 2 and 20 ticks for the session timeout
 * bounds) and refuses values that make no sense: not a positive integer, or min above max.
 */
export function resolveTiming(options: Partial<Timing>): Timing {
  const tickTimeMs = options.tickTimeMs ?? 200;
  const timing = {
    tickTimeMs,
    minSessionTimeoutMs: options.minSessionTimeoutMs ?? 2 * tickTimeMs,
    maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? 20 * tickTimeMs,
  };
  for (const [name, value] of Object.entries(timing)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }
  if (timing.minSessionTimeoutMs > timing.maxSessionTimeoutMs) {
    throw new RangeError(
      `minSessionTimeoutMs (${timing.minSessionTimeoutMs}) exceeds maxSessionTimeoutMs ` +
        `(${timing.maxSessionTimeoutMs})`,
    );
  }
  return timing;
}
