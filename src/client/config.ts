/**
 * The client's configuration: its options (one declaration for `--help`, flags, environment and
 * error messages), then its input, read and checked before anything touches ZooKeeper.
 *
 * @module
 */
import { commonOptions } from "../shared/common_options.ts";
import { loadZkTls } from "../session/tls.ts";
import {
  DurationSchema,
  EnumSchema,
  type EnvSource,
  IntegerSchema,
  NonEmptyStringSchema,
  type OptionSpecs,
  type Parsed,
  parseOptions,
  renderHelp,
} from "../shared/options.ts";
import {
  formatProblems,
  parseRegisterFlags,
  planRegistrations,
  type Problem,
  readNodesFile,
  type RegistrationPlan,
} from "./registrations.ts";
import { formatHealthTarget, type HealthTarget, parseHealthTarget } from "./health_check.ts";

/** The client's exit codes (documented in `--help` and the README). */
export const ClientExit = {
  /** Stopped by SIGTERM/SIGINT after removing its registrations. */
  OK: 0,
  /** A failure at run time (for example ZooKeeper refused the credentials). */
  FAILURE: 1,
  /** Invalid configuration or input: flags, environment, nodes.json. Nothing was registered. */
  INVALID_INPUT: 2,
} as const;

/** The client's options. */
export const clientOptions = {
  ...commonOptions,
  nodesFile: {
    flag: "nodes",
    env: "NODES_FILE",
    placeholder: "FILE",
    description:
      "nodes.json: a flat JSON map of znode path to data; leaves are registered as ephemeral services (host:port), their parents as persistent nodes. Read unless --register is given without --nodes.",
    default: "./nodes.json",
    schema: NonEmptyStringSchema,
  },
  register: {
    flag: "register",
    env: "REGISTER",
    placeholder: "PATH=HOST:PORT",
    description:
      "A service to register without a file, e.g. /cluster1/ch_http_node1/ch_http_service2=localhost:2023 (repeat the flag; comma-separated in the variable).",
    schema: NonEmptyStringSchema,
    repeatable: true,
  },
  acl: {
    flag: "acl",
    env: "ZK_ACL",
    placeholder: "ACL",
    description:
      "ACL of the znodes the client creates: creator (only this identity writes or deletes, everyone reads; needs ZK_AUTH) or open. Default: creator with ZK_AUTH, open without.",
    schema: EnumSchema(["creator", "open"] as const),
  },
  healthCheck: {
    flag: "health-check",
    env: "HEALTH_CHECK",
    placeholder: "[PATH=]TARGET",
    description:
      "Register only while healthy: http(s)://host:port/path (2xx), tcp://host:port, or clickhouse://host:port (/ping and /replicas_status answer Ok.). Without PATH= it gates every service.",
    schema: NonEmptyStringSchema,
    repeatable: true,
  },
  healthInterval: {
    flag: "health-interval",
    env: "HEALTH_INTERVAL",
    placeholder: "DURATION",
    description: "Pause between health checks.",
    default: 2000,
    defaultText: "2s",
    schema: DurationSchema,
  },
  healthTimeout: {
    flag: "health-timeout",
    env: "HEALTH_TIMEOUT",
    placeholder: "DURATION",
    description: "Bound of one health check.",
    default: 1000,
    defaultText: "1s",
    schema: DurationSchema,
  },
  healthRise: {
    flag: "health-rise",
    env: "HEALTH_RISE",
    placeholder: "N",
    description: "Successes in a row that make an unhealthy service registered again.",
    default: 2,
    schema: IntegerSchema(1, 100),
  },
  healthFall: {
    flag: "health-fall",
    env: "HEALTH_FALL",
    placeholder: "N",
    description: "Failures in a row that deregister a healthy service.",
    default: 3,
    schema: IntegerSchema(1, 100),
  },
} satisfies OptionSpecs;

/** The parsed options. */
export type ClientOptions = Parsed<typeof clientOptions>;

/** What the client runs with: its options, the registration plan, the health gates. */
export interface ClientConfig {
  /** The parsed options. */
  options: ClientOptions;
  /** The znodes to register, from nodes.json. */
  plan: RegistrationPlan;
  /** Health target per service path (absent: the service is not gated). */
  healthTargets: Map<string, HealthTarget>;
}

/** The outcome of {@link loadClientConfig}. */
export type ClientConfigResult =
  | { kind: "run"; config: ClientConfig }
  | { kind: "help"; text: string }
  | { kind: "invalid"; problems: string[] };

/** `--help` of the client. */
export function clientHelp(): string {
  return renderHelp({
    program: "zk-client",
    summary:
      "Registers ClickHouse services as ephemeral znodes in ZooKeeper and keeps them registered, so the Asabru proxy (through zk-monitor) routes to them while they live.",
    usage: "zk-client [options]   (or MODE=client in the Docker image)",
    specs: clientOptions,
    footer:
      "Exit codes: 0 stopped by SIGTERM/SIGINT after removing its registrations; 1 failure at run time; 2 invalid configuration or input (nothing registered). A second SIGTERM/SIGINT exits at once.",
  });
}

/**
 * Reads the client's options and input: flags, environment, nodes.json and/or `--register`,
 * health checks. Every problem is one line naming the flag, variable or znode path.
 */
export async function loadClientConfig(
  args: readonly string[],
  env: EnvSource,
): Promise<ClientConfigResult> {
  const parsed = parseOptions(clientOptions, args, env);
  if (!parsed.ok) return { kind: "invalid", problems: parsed.problems };
  if (parsed.help) return { kind: "help", text: clientHelp() };
  const options = parsed.value;

  const problems: Problem[] = [];
  const entries: Record<string, string> = {};
  const fileChosen = args.some((arg) => arg === "--nodes" || arg.startsWith("--nodes=")) ||
    Boolean(env.get("NODES_FILE")?.trim());
  if (options.register.length > 0) {
    const flags = parseRegisterFlags(options.register);
    if (flags.ok) Object.assign(entries, flags.value);
    else problems.push(...flags.problems);
  }
  if (options.register.length === 0 || fileChosen) {
    const file = await readNodesFile(resolveFromInitialDirectory(options.nodesFile, env));
    if (file.ok) {
      for (const [path, data] of Object.entries(file.value)) {
        if (Object.hasOwn(entries, path) && entries[path] !== data) {
          problems.push({
            source: "--register (REGISTER)",
            path,
            message: "is in nodes.json too, with other data: list it once",
          });
        }
        entries[path] = data;
      }
    } else {
      problems.push(...file.problems);
    }
  }
  if (problems.length > 0) return { kind: "invalid", problems: formatProblems(problems) };
  const plan = planRegistrations(entries);
  if (!plan.ok) return { kind: "invalid", problems: formatProblems(plan.problems) };

  const lines: string[] = [];
  if (options.acl === "creator" && options.zkAuth === undefined) {
    lines.push("--acl (ZK_ACL): creator needs credentials: set --zk-auth (ZK_AUTH) too");
  }
  const tls = loadZkTls(options);
  if (!tls.ok) lines.push(...tls.problems);
  const healthTargets = new Map<string, HealthTarget>();
  const services = new Set(plan.value.ephemeral.map((service) => service.path));
  for (const entry of options.healthCheck) {
    const perPath = entry.startsWith("/") ? entry.indexOf("=") : -1;
    const path = perPath > 0 ? entry.slice(0, perPath) : undefined;
    const target = parseHealthTarget(perPath > 0 ? entry.slice(perPath + 1) : entry);
    if ("error" in target) {
      lines.push(`--health-check (HEALTH_CHECK): ${JSON.stringify(entry)} ${target.error}`);
      continue;
    }
    if (path !== undefined && !services.has(path)) {
      lines.push(
        `--health-check (HEALTH_CHECK): ${JSON.stringify(path)} is not a service being registered`,
      );
      continue;
    }
    for (const service of path === undefined ? services : [path]) {
      // A per-service check wins over a global one, whatever the order they were given in.
      if (path !== undefined || !healthTargets.has(service)) healthTargets.set(service, target);
    }
  }
  if (lines.length > 0) return { kind: "invalid", problems: lines };
  return { kind: "run", config: { options, plan: plan.value, healthTargets } };
}

/** A one-line description of a service's health gate, for logs. */
export function describeHealthGate(target: HealthTarget | undefined): string {
  return target === undefined ? "none" : formatHealthTarget(target);
}

/**
 * `deno task` runs in the project's directory and says where it was started in `INIT_CWD`: a
 * relative `--nodes` means relative to where the user typed the command.
 */
function resolveFromInitialDirectory(file: string, env: EnvSource): string {
  const initial = env.get("INIT_CWD");
  if (file.startsWith("/") || !initial) return file;
  return `${initial.replace(/\/+$/, "")}/${file.replace(/^\.\//, "")}`;
}
