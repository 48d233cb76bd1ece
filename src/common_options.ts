/**
 * Options both programs share: where ZooKeeper is, how to authenticate, the status server and
 * logging. Each program spreads these into its own specs.
 *
 * @module
 */
import * as v from "valibot";
import { ConnectionStringSchema } from "./connection_string.ts";
import {
  DurationSchema,
  EnumSchema,
  LogLevelSchema,
  NonEmptyStringSchema,
  type OptionSpecs,
  PortSchema,
} from "./options.ts";

/** `user:password` for ZooKeeper's digest scheme. */
export const DigestAuthSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.check(
    (text) => /^[^:\s]+:\S+$/.test(text),
    "is not user:password (digest credentials, no spaces)",
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
      "Requested ZooKeeper session timeout (the server grants a value within its limits): how long a dead process's registrations survive.",
    default: 10_000,
    defaultText: "10s",
    schema: DurationSchema,
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
