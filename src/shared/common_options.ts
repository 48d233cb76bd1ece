/**
 * Options both programs share: where ZooKeeper is, how to authenticate, the status server and
 * logging. Each program spreads these into its own specs.
 *
 * @module
 */
import * as v from "valibot";
import { ConnectionStringSchema } from "../session/connection_string.ts";
import {
  BooleanSchema,
  DurationSchema,
  EnumSchema,
  LogLevelSchema,
  NonEmptyStringSchema,
  type OptionSpecs,
  PortSchema,
} from "./options.ts";

/**
 * Why `text` is not `user:password` for ZooKeeper's digest scheme, in words that never repeat the
 * value (it is a secret), or `undefined` when it is.
 */
export function digestAuthProblem(text: string): string | undefined {
  if (/\s/.test(text)) return "is not user:password: it contains whitespace";
  const colon = text.indexOf(":");
  if (colon === -1) return "is not user:password: there is no ':' between user and password";
  if (colon === 0) return "is not user:password: the user before ':' is empty";
  if (colon === text.length - 1) return "is not user:password: the password after ':' is empty";
  return undefined;
}

/** `user:password` for ZooKeeper's digest scheme (the password may contain `:`). */
export const DigestAuthSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = digestAuthProblem(dataset.value);
    if (problem !== undefined) addIssue({ message: problem });
  }),
);

/**
 * The shortest `ZK_SESSION_TIMEOUT` accepted. ZooKeeper grants at least two of its ticks (4 s with
 * its default `tickTime` of 2 s), so a shorter request is only ever raised by the server; but the
 * client library sizes its connection attempts from the requested value (the timeout divided by
 * the number of servers) and our watchdog leaves a server silent for 2/3 of it, so below about a
 * second a connection attempt or a short pause (a garbage collection, a busy machine) already
 * counts as a dead server and the session never settles. 1 s is also the smallest a test
 * ensemble with `tickTime=200` and three servers keeps working with.
 */
export const MIN_SESSION_TIMEOUT_MS = 1000;

const SessionTimeoutSchema: v.GenericSchema<string, number> = v.pipe(
  DurationSchema,
  v.check(
    (ms) => ms >= MIN_SESSION_TIMEOUT_MS,
    "is below 1s: connection attempts and the watchdog are sized from it, so a shorter session never settles (ZooKeeper itself grants at least 2 ticks, 4s by default)",
  ),
);

/** The options of {@link commonOptions}, typed. */
export const commonOptions = {
  zkHost: {
    flag: "zk-host",
    env: "ZK_HOST",
    placeholder: "HOSTS",
    description:
      "ZooKeeper connection string: host:port[,host:port...][/chroot] (port defaults to 2181).",
    default: "127.0.0.1:2181",
    schema: ConnectionStringSchema,
  },
  zkAuth: {
    flag: "zk-auth",
    env: "ZK_AUTH",
    placeholder: "USER:PASSWORD",
    description:
      "Digest credentials, sent on every connection and session; unset: no authentication.",
    schema: DigestAuthSchema,
    secret: true,
  },
  sessionTimeoutMs: {
    flag: "session-timeout",
    env: "ZK_SESSION_TIMEOUT",
    placeholder: "DURATION",
    description:
      "Requested ZooKeeper session timeout, at least 1s (the server grants a value within its limits): how long a dead process's registrations survive.",
    default: 10_000,
    defaultText: "10s",
    schema: SessionTimeoutSchema,
  },
  zkTls: {
    flag: "zk-tls",
    env: "ZK_TLS",
    description:
      "Connect to ZooKeeper over TLS (its secureClientPort), trusting the system's CAs; implied by --zk-tls-ca, --zk-tls-cert and --zk-tls-key.",
    schema: BooleanSchema,
    boolean: true,
    default: false,
  },
  zkTlsCa: {
    flag: "zk-tls-ca",
    env: "ZK_TLS_CA",
    placeholder: "FILE",
    description:
      "PEM file of CA certificates trusted for ZooKeeper's certificate (besides the system's); turns TLS on.",
    schema: NonEmptyStringSchema,
  },
  zkTlsCert: {
    flag: "zk-tls-cert",
    env: "ZK_TLS_CERT",
    placeholder: "FILE",
    description:
      "PEM file of the client certificate (chain) for servers with ssl.clientAuth=need; needs --zk-tls-key; turns TLS on.",
    schema: NonEmptyStringSchema,
  },
  zkTlsKey: {
    flag: "zk-tls-key",
    env: "ZK_TLS_KEY",
    placeholder: "FILE",
    description: "PEM file of the client certificate's private key; needs --zk-tls-cert.",
    schema: NonEmptyStringSchema,
    secret: true,
  },
  statusPort: {
    flag: "status-port",
    env: "STATUS_PORT",
    placeholder: "PORT",
    description: "Serve /healthz, /readyz and /metrics on this port; unset: no status server.",
    schema: PortSchema,
  },
  statusHost: {
    flag: "status-host",
    env: "STATUS_HOST",
    placeholder: "ADDRESS",
    description: "Address the status server listens on.",
    default: "0.0.0.0",
    schema: NonEmptyStringSchema,
  },
  statusToken: {
    flag: "status-token",
    env: "STATUS_TOKEN",
    placeholder: "TOKEN",
    description:
      "The operator's secret: POST /v1/resync and /v1/guard/release need it as Authorization: Bearer TOKEN; unset (and no file): they are refused.",
    schema: NonEmptyStringSchema,
    secret: true,
  },
  statusTokenFile: {
    flag: "status-token-file",
    env: "STATUS_TOKEN_FILE",
    placeholder: "FILE",
    description: "A file whose first line is the operator's secret (instead of STATUS_TOKEN).",
    schema: NonEmptyStringSchema,
  },
  logLevel: {
    flag: "log-level",
    env: "LOG_LEVEL",
    placeholder: "LEVEL",
    description: "Lowest level logged: trace, debug, info, warning, error or fatal.",
    default: "info" as const,
    schema: LogLevelSchema,
  },
  logFormat: {
    flag: "log-format",
    env: "LOG_FORMAT",
    placeholder: "FORMAT",
    description: "auto (JSON lines unless stderr is a terminal), json or text.",
    default: "auto" as const,
    schema: EnumSchema(["auto", "json", "text"] as const),
  },
} satisfies OptionSpecs;
