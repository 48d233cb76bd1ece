/**
 * The monitor's configuration: one declaration of its options for `--help`, flags, environment
 * and error messages.
 *
 * @module
 */
import * as v from "valibot";
import { commonOptions } from "../shared/common_options.ts";
import { loadZkTls } from "../session/tls.ts";
import {
  BooleanSchema,
  DurationSchema,
  EnumSchema,
  type EnvSource,
  IntegerSchema,
  NonEmptyStringSchema,
  optionProblem,
  type OptionSpecs,
  type Parsed,
  parseOptions,
  renderHelp,
} from "../shared/options.ts";
import { duplicateProxies, ProxyUrlSchema, redactUrl } from "./proxy_url.ts";
import { validateZnodePath } from "../service/znode_path.ts";
import { type ConfigTemplate, ConfigTemplateError } from "../asabru/config_template.ts";

/** The monitor's exit codes (documented in `--help` and the README). */
export const MonitorExit = {
  /** Stopped by SIGTERM/SIGINT. */
  OK: 0,
  /** A failure at run time (ZooKeeper refused the credentials, the status port is taken...). */
  FAILURE: 1,
  /** Invalid configuration. */
  INVALID_INPUT: 2,
} as const;

const RootNodeSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const problem = validateZnodePath(dataset.value);
    if (problem) {
      addIssue({ message: `is not a znode path to watch (${problem})` });
      return NEVER;
    }
    return dataset.value;
  }),
);

const BearerTokenSchema: v.GenericSchema<string, string> = v.pipe(
  v.string(),
  v.check(
    (text) => /^[A-Za-z0-9\-._~+/]+=*$/.test(text),
    "is not a bearer token (letters, digits and -._~+/ only)",
  ),
);

/** A readable proxy configuration file as read: {@link loadMonitorConfig} parses it. */
export interface ConfigTemplateFile {
  path: string;
  text: string;
}

/**
 * A readable proxy configuration file, the template of whole-state delivery. Only read here: its
 * XML parser (megabytes of resident memory) is loaded by {@link loadMonitorConfig}, and only when
 * a template is given.
 */
const ConfigTemplateFileSchema: v.GenericSchema<string, ConfigTemplateFile> = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return { path: dataset.value, text: Deno.readTextFileSync(dataset.value) };
    } catch (error) {
      addIssue({
        message: `cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      });
      return NEVER;
    }
  }),
);

/** The monitor's options. */
export const monitorOptions = {
  ...commonOptions,
  rootNode: {
    flag: "root",
    env: "ZK_ROOT_NODE",
    placeholder: "PATH",
    description:
      "Root znode of one cluster: its children are proxy end points, their children services (host:port).",
    default: "/cluster1",
    schema: RootNodeSchema,
  },
  proxyUrls: {
    flag: "asabru-url",
    env: "ASABRU_API_URL",
    placeholder: "URL",
    description:
      "The proxy's update URL, e.g. http://proxy:8080/updateService (repeat the flag; comma-separated in the variable, for several proxies). Unset: dry run, each change is logged instead of sent.",
    schema: ProxyUrlSchema,
    show: redactUrl,
    repeatable: true,
  },
  proxyToken: {
    flag: "asabru-token",
    env: "ASABRU_API_TOKEN",
    placeholder: "TOKEN",
    description: "Sent to the proxy as Authorization: Bearer TOKEN.",
    schema: BearerTokenSchema,
    secret: true,
  },
  configTemplate: {
    flag: "asabru-config-template",
    env: "ASABRU_CONFIG_TEMPLATE",
    placeholder: "FILE",
    description:
      "Whole-state delivery: the config.xml the proxy runs with. Every change pushes it to POST /configuration (at ASABRU_API_URL's origin) with each end point's services = the file's + ZooKeeper's valid ones, so removals take effect on the deployed proxy (whose /updateService delete removes nothing). Unset: one /updateService request per change.",
    schema: ConfigTemplateFileSchema,
  },
  proxyTimeout: {
    flag: "asabru-timeout",
    env: "ASABRU_TIMEOUT",
    placeholder: "DURATION",
    description:
      "Bound of one request to the proxy; past it the outcome is unknown and the service is deleted before it is added again.",
    default: 5000,
    defaultText: "5s",
    schema: DurationSchema,
  },
  concurrency: {
    flag: "delivery-concurrency",
    env: "DELIVERY_CONCURRENCY",
    placeholder: "N",
    description: "Requests in flight to one proxy at most (different services).",
    default: 32,
    schema: IntegerSchema(1, 1024),
  },
  proxyConnections: {
    flag: "asabru-connections",
    env: "ASABRU_CONNECTIONS",
    placeholder: "N",
    description:
      "Kept-alive connections to each http: proxy at most; more requests in flight are pipelined on them (HTTP/1.1 pipelining: fewer system calls at both ends, but a request that times out closes its connection, and those behind it are sent again as delete + add). Set it to the delivery concurrency to never pipeline.",
    default: 4,
    schema: IntegerSchema(1, 1024),
  },
  proxyTransport: {
    flag: "asabru-transport",
    env: "ASABRU_TRANSPORT",
    placeholder: "MODE",
    description:
      "How requests reach an http: proxy. keep-alive: kept-alive connections (the documented proxy); one-shot: one request per connection, the write side shut after it, at most 4 connections at once (the deployed proxy answers once and closes, and waits 10 ms for a client that does not shut its side); auto: keep-alive until the proxy answers in the deployed proxy's text format, one-shot from then on.",
    default: "auto",
    schema: EnumSchema(["auto", "keep-alive", "one-shot"] as const),
  },
  proxyUsername: {
    flag: "asabru-username",
    env: "ASABRU_USERNAME",
    placeholder: "NAME",
    description:
      "With --asabru-password: log in at the proxy's /auth/login (same origin as the update URL) for a bearer token, reused until shortly before its exp and renewed after a 401. Instead of ASABRU_API_TOKEN.",
    schema: NonEmptyStringSchema,
  },
  proxyPassword: {
    flag: "asabru-password",
    env: "ASABRU_PASSWORD",
    placeholder: "PASSWORD",
    description: "The password of --asabru-username (never logged nor shown).",
    schema: NonEmptyStringSchema,
    secret: true,
  },
  restartRecovery: {
    flag: "restart-recovery",
    env: "RESTART_RECOVERY",
    description:
      "When a proxy answers again after refused or broken connections, it may have restarted and forgotten every service added at run time: resync it (logged, counted in zkcm_delivery_restart_recoveries_total).",
    schema: BooleanSchema,
    boolean: true,
    default: true,
  },
  retryMax: {
    flag: "retry-max",
    env: "RETRY_MAX",
    placeholder: "DURATION",
    description: "Longest back-off between retries to a proxy (exponential from 250ms, jittered).",
    default: 30_000,
    defaultText: "30s",
    schema: DurationSchema,
  },
  resyncInterval: {
    flag: "resync-interval",
    env: "RESYNC_INTERVAL",
    placeholder: "DURATION",
    description:
      "Full resync (delete + add of every service, paced) this often; unset: only on SIGHUP and POST /v1/resync, since each change rebuilds the proxy's balancer.",
    schema: DurationSchema,
  },
  resyncRate: {
    flag: "resync-rate",
    env: "RESYNC_RATE",
    placeholder: "N",
    description: "Operations per second per proxy during a full resync.",
    default: 500,
    schema: IntegerSchema(1, 100_000),
  },
  readyMaxPending: {
    flag: "ready-max-pending",
    env: "READY_MAX_PENDING",
    placeholder: "DURATION",
    description: "/readyz fails while a change has waited longer than this for a proxy.",
    default: 30_000,
    defaultText: "30s",
    schema: DurationSchema,
  },
  electionPath: {
    flag: "election-path",
    env: "ZK_ELECTION_PATH",
    placeholder: "PATH",
    description:
      "Where monitors of one root elect the one that writes to the proxies (the others stand by with a warm mirror). Default: the root's path + -election, beside the root.",
    schema: RootNodeSchema,
  },
  monitorId: {
    flag: "monitor-id",
    env: "MONITOR_ID",
    placeholder: "ID",
    description: "This monitor's name in the election, logs and /v1/events. Default: HOSTNAME:pid.",
    schema: NonEmptyStringSchema,
  },
  massDeleteGuard: {
    flag: "mass-delete-guard",
    env: "MASS_DELETE_GUARD",
    description:
      "Hold deletes when many services of an end point vanish at once (a registry problem, not dead nodes) and send them only if the services do not come back.",
    schema: BooleanSchema,
    boolean: true,
    default: false,
  },
  massDeletePercent: {
    flag: "mass-delete-percent",
    env: "MASS_DELETE_PERCENT",
    placeholder: "N",
    description:
      "With the guard: at least this percentage of an end point's services (and at least 2) within the window is a mass delete.",
    default: 50,
    schema: IntegerSchema(1, 100),
  },
  massDeleteWindow: {
    flag: "mass-delete-window",
    env: "MASS_DELETE_WINDOW",
    placeholder: "DURATION",
    description:
      "With the guard: deletes wait this long to be counted together (so each delete is delayed by up to this much).",
    default: 2000,
    defaultText: "2s",
    schema: DurationSchema,
  },
  massDeleteLimbo: {
    flag: "mass-delete-limbo",
    env: "MASS_DELETE_LIMBO",
    placeholder: "DURATION",
    description: "With the guard: how long held deletes wait for their services to come back.",
    default: 60_000,
    defaultText: "60s",
    schema: DurationSchema,
  },
  minServices: {
    flag: "min-services",
    env: "MIN_SERVICES",
    placeholder: "N",
    description:
      "With the guard: never delete the last N services of an end point (held until they return or POST /v1/guard/release); 0: no floor.",
    default: 0,
    schema: IntegerSchema(0, 100_000),
  },
  localZookeeper: {
    flag: "local-zookeeper",
    description:
      "Start a throwaway local ZooKeeper (Debian's zookeeper package or ZOOKEEPER_HOME) and watch it, for trying the monitor out; its data is deleted at exit. Never implied.",
    schema: BooleanSchema,
    boolean: true,
    default: false,
  },
  zookeeperHome: {
    flag: "zookeeper-home",
    env: "ZOOKEEPER_HOME",
    placeholder: "DIR",
    description:
      "With --local-zookeeper: an Apache ZooKeeper distribution to run instead of Debian's.",
    schema: NonEmptyStringSchema,
  },
} satisfies OptionSpecs;

/** The parsed options, the proxy's configuration template parsed too. */
export type MonitorOptions = Omit<Parsed<typeof monitorOptions>, "configTemplate"> & {
  configTemplate?: ConfigTemplate;
};

/** The outcome of {@link loadMonitorConfig}. */
export type MonitorConfigResult =
  | { kind: "run"; options: MonitorOptions }
  | { kind: "help"; text: string }
  | { kind: "invalid"; problems: string[] };

/** `--help` of the monitor. */
export function monitorHelp(): string {
  return renderHelp({
    program: "zk-monitor",
    summary:
      "Mirrors a ZooKeeper root and keeps the Asabru proxy's service list equal to it: every service that appears is added, every one that disappears is deleted.",
    usage: "zk-monitor [options]   (or MODE=monitor in the Docker image)",
    specs: monitorOptions,
    footer:
      "Signals: SIGHUP resyncs every proxy; SIGTERM/SIGINT stop (a second one exits at once). Exit codes: 0 stopped by a signal; 1 failure at run time; 2 invalid configuration.",
  });
}

/**
 * Reads the monitor's options from flags and environment. Asynchronous for one reason: a
 * configuration template is parsed with an XML parser loaded only then (checked after the other
 * options, so its problem comes alone).
 */
export async function loadMonitorConfig(
  args: readonly string[],
  env: EnvSource,
): Promise<MonitorConfigResult> {
  const parsed = parseOptions(monitorOptions, args, env);
  if (!parsed.ok) return { kind: "invalid", problems: parsed.problems };
  if (parsed.help) return { kind: "help", text: monitorHelp() };
  const { configTemplate: templateFile, ...given } = parsed.value;
  const template = templateFile && await parseTemplateFile(templateFile);
  if (typeof template === "string") return { kind: "invalid", problems: [template] };
  const options: MonitorOptions = { ...given, configTemplate: template };
  const loginProblem = proxyLoginProblem(options);
  if (loginProblem) return { kind: "invalid", problems: [loginProblem] };
  const zkHostGiven = args.some((arg) => arg === "--zk-host" || arg.startsWith("--zk-host=")) ||
    Boolean(env.get("ZK_HOST")?.trim());
  if (options.localZookeeper && zkHostGiven) {
    return {
      kind: "invalid",
      problems: [
        "--local-zookeeper: cannot be combined with --zk-host (ZK_HOST); choose one ZooKeeper",
      ],
    };
  }
  const tls = loadZkTls(options);
  const problems = [
    ...duplicateProxies(options.proxyUrls, "--asabru-url (ASABRU_API_URL)"),
    ...electionPathProblems(options.rootNode, options.electionPath),
    ...(tls.ok ? [] : tls.problems),
  ];
  if (problems.length > 0) return { kind: "invalid", problems };
  return { kind: "run", options };
}

/** The template `file` holds, or the one line saying why it is not a configuration to push. */
async function parseTemplateFile(file: ConfigTemplateFile): Promise<ConfigTemplate | string> {
  const { parseConfigTemplate } = await import("../asabru/parse_config_template.ts");
  try {
    return parseConfigTemplate(file.text);
  } catch (error) {
    if (!(error instanceof ConfigTemplateError)) throw error;
    return optionProblem(
      monitorOptions.configTemplate,
      file.path,
      `is not a configuration to push: ${error.message}`,
    );
  }
}

/**
 * The election's candidates must not be mirrored as services, nor the services listed as
 * candidates: the election path and the root may not contain each other.
 */
function electionPathProblems(root: string, electionPath: string | undefined): string[] {
  if (electionPath === undefined) return []; // root + "-election": beside the root
  const inside = (path: string, ancestor: string) =>
    path === ancestor || path.startsWith(`${ancestor}/`);
  if (inside(electionPath, root)) {
    return [
      `--election-path (ZK_ELECTION_PATH): ${JSON.stringify(electionPath)} is inside the watched ` +
      `root ${JSON.stringify(root)} (ZK_ROOT_NODE): the monitors' candidates would be mirrored ` +
      `as services; put it beside the root (default ${JSON.stringify(`${root}-election`)})`,
    ];
  }
  if (inside(root, electionPath)) {
    return [
      `--election-path (ZK_ELECTION_PATH): ${JSON.stringify(electionPath)} contains the watched ` +
      `root ${JSON.stringify(root)} (ZK_ROOT_NODE); put it beside the root (default ` +
      `${JSON.stringify(`${root}-election`)})`,
    ];
  }
  return [];
}

/** The login options that cannot work together, as one line; `undefined` when they can. */
function proxyLoginProblem(options: MonitorOptions): string | undefined {
  const { proxyUsername, proxyPassword, proxyToken } = options;
  if ((proxyUsername === undefined) !== (proxyPassword === undefined)) {
    return proxyUsername === undefined
      ? "--asabru-password (ASABRU_PASSWORD): needs --asabru-username (ASABRU_USERNAME)"
      : "--asabru-username (ASABRU_USERNAME): needs --asabru-password (ASABRU_PASSWORD)";
  }
  if (proxyUsername !== undefined && proxyToken !== undefined) {
    return "--asabru-token (ASABRU_API_TOKEN): give either a token or a username and password, not both";
  }
  return undefined;
}
