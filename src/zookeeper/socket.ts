/**
 * The one place where a connection to a ZooKeeper server is opened: plain TCP or TLS, within a
 * deadline, and the reason a connection failed put into one of a few words a caller can act on.
 *
 * @module
 */
import type { ZkServerAddress } from "./servers.ts";

/** TLS to ZooKeeper (`secureClientPort`): PEM text, not file names. */
export interface ZkTlsOptions {
  /** CA certificates trusted for the server's certificate, in addition to the system's. */
  caCerts?: string[];
  /** The client's certificate chain, for servers with `ssl.clientAuth=need`. */
  cert?: string;
  /** The client certificate's private key. */
  key?: string;
}

/** Why a connection to one server failed, in a word a caller can act on. */
export type ZkConnectionFailureKind =
  | "refused"
  | "timeout"
  | "unresolved"
  | "tls"
  | "auth"
  | "expired"
  | "reset"
  | "other";

/** One failed attempt to reach a server, or a connection to it that ended. */
export interface ZkConnectionFailure {
  /** `host:port` */
  server: string;
  /** What kind of failure it was. */
  kind: ZkConnectionFailureKind;
  /** As the system gave it (or, for protocol-level failures, as we found it). */
  reason: string;
}

/** A failure to connect, with its kind. */
export class ZkConnectError extends Error {
  readonly kind: ZkConnectionFailureKind;
  constructor(kind: ZkConnectionFailureKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ZkConnectError";
    this.kind = kind;
  }
}

/** Opens sockets: {@link openZkSocket}, or a stand-in for tests. */
export type ZkDialer = (server: ZkServerAddress, options: DialOptions) => Promise<Deno.Conn>;

/** How to connect: TLS or not, within how long, until when. */
export interface DialOptions {
  tls?: ZkTlsOptions;
  timeoutMs: number;
  /** Gives up at once when aborted (the connection is being closed). */
  signal?: AbortSignal;
}

/**
 * Connects to one server (TLS included: the handshake is done before this resolves, so a
 * certificate problem is reported here). Rejects with {@link ZkConnectError}.
 */
export async function openZkSocket(
  server: ZkServerAddress,
  options: DialOptions,
): Promise<Deno.Conn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  let onAbort = () => {};
  /** Stops a TCP connect in progress (TLS connects cannot be stopped; they are closed later). */
  const giveUp = new AbortController();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      giveUp.abort();
      reject(
        new ZkConnectError("timeout", `no connection within ${Math.round(options.timeoutMs)} ms`),
      );
    }, options.timeoutMs);
    onAbort = () => {
      timedOut = true;
      giveUp.abort();
      reject(new ZkConnectError("other", "connection closed while connecting"));
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort);
  });
  const connecting = (async () => {
    const { tls } = options;
    if (tls === undefined) {
      const tcp = await Deno.connect({
        hostname: server.host,
        port: server.port,
        signal: giveUp.signal,
      });
      tcp.setNoDelay(true);
      return tcp;
    }
    const secure = await Deno.connectTls({
      hostname: server.host,
      port: server.port,
      caCerts: tls.caCerts,
      ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    });
    try {
      await secure.handshake();
    } catch (error) {
      closeQuietly(secure);
      throw error;
    }
    return secure;
  })();
  try {
    conn = await Promise.race([connecting, deadline]);
    return conn;
  } catch (error) {
    if (timedOut) {
      // Whatever the attempt still gives later is closed at once.
      connecting.then(closeQuietly, () => {});
      throw error;
    }
    throw classifyConnectError(error, options.tls !== undefined);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** Puts a system error from connecting into a {@link ZkConnectError} of the right kind. */
export function classifyConnectError(error: unknown, tls: boolean): ZkConnectError {
  if (error instanceof ZkConnectError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.ConnectionRefused) {
    return new ZkConnectError("refused", message, { cause: error });
  }
  if (error instanceof Deno.errors.TimedOut) {
    return new ZkConnectError("timeout", message, { cause: error });
  }
  if (
    /lookup|resolve|name or service not known|no address/i.test(message) ||
    error instanceof Deno.errors.NotFound
  ) {
    return new ZkConnectError("unresolved", message, { cause: error });
  }
  if (tls) return new ZkConnectError("tls", describeTlsFailure(message), { cause: error });
  if (
    error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.UnexpectedEof
  ) {
    return new ZkConnectError("reset", message, { cause: error });
  }
  return new ZkConnectError("other", message, { cause: error });
}

/** One line that says which TLS check failed, from rustls's message. */
function describeTlsFailure(message: string): string {
  if (/NotValidForName|not valid for|hostname|name mismatch/i.test(message)) {
    return `TLS: the server's certificate does not name this host (${message})`;
  }
  if (/UnknownIssuer|unknown issuer|BadSignature|invalid peer certificate/i.test(message)) {
    return `TLS: the server's certificate is not signed by a trusted CA (ZK_TLS_CA) (${message})`;
  }
  if (
    /CertificateRequired|certificate required|HandshakeFailure|BadCertificate|bad certificate/i
      .test(message)
  ) {
    return `TLS: the server refused the handshake; does it require a client certificate (ZK_TLS_CERT, ZK_TLS_KEY)? (${message})`;
  }
  if (/InvalidContentType|corrupt message|received plaintext|wrong version/i.test(message)) {
    return `TLS: the server does not speak TLS on this port (${message})`;
  }
  return `TLS: ${message}`;
}

/** Closes a connection that may already be closed. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed: nothing to release.
  }
}
