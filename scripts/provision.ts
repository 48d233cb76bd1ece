/**
 * Makes sure what the tests and a local ZooKeeper need is here: ZooKeeper with Java, and
 * systemd-analyze (the unit files' test); with `--tests` (`deno task test`) also clickhouse-server
 * (the health-check tests). On a Debian machine, as root, installs what is missing from Debian's
 * packages, saying so in one line; otherwise says in one line what is missing and how to install it.
 */
import { findZooKeeperInstall, ZooKeeperNotInstalledError } from "../src/dev/local_zookeeper.ts";
import { ClickHouseNotInstalledError, findClickHouseServer } from "../testing/local_clickhouse.ts";

const encoder = new TextEncoder();
const say = (line: string) => Deno.stderr.writeSync(encoder.encode(`provision: ${line}\n`));

/** Why ZooKeeper cannot be started, or `undefined` when it can. */
function zookeeperProblem(): string | undefined {
  try {
    findZooKeeperInstall();
    return undefined;
  } catch (error) {
    if (error instanceof ZooKeeperNotInstalledError) return error.message;
    throw error;
  }
}

function clickHouseMissing(): boolean {
  try {
    findClickHouseServer();
    return false;
  } catch (error) {
    if (error instanceof ClickHouseNotInstalledError) return true;
    throw error;
  }
}

/** Where `command` is: on PATH, or in /usr/bin or /bin when PATH lacks them. */
function commandPath(command: string): string | undefined {
  const directories = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  return [...directories, "/usr/bin", "/bin"].map((directory) => `${directory}/${command}`).find(
    (path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    },
  );
}

function onPath(command: string): boolean {
  return commandPath(command) !== undefined;
}

async function aptGet(args: string[]): Promise<boolean> {
  // By the path found, not the name: found in /usr/bin when PATH lacks it, spawning the bare
  // name would throw NotFound.
  const { success } = await new Deno.Command(commandPath("apt-get") ?? "apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "inherit",
  }).output();
  return success;
}

const zookeeper = zookeeperProblem();
// A ZOOKEEPER_HOME that is set but wrong is the user's to fix, not ours to override.
const zookeeperHomeChosen = Boolean(Deno.env.get("ZOOKEEPER_HOME"));
if (zookeeper && zookeeperHomeChosen) {
  say(zookeeper);
  Deno.exit(1);
}
/** Each package that may be installed, and whether what it provides is missing now. */
const PACKAGE_MISSING: Record<string, () => boolean> = {
  zookeeper: () => zookeeperProblem() !== undefined,
  systemd: () => !onPath("systemd-analyze"),
  // Only the tests start a real ClickHouse (testing/local_clickhouse.ts): `monitor:local`,
  // `demo`, `bench` and `chaos` neither need nor should install a database server.
  "clickhouse-server": () => Deno.args.includes("--tests") && clickHouseMissing(),
  // The status page's tests drive a real headless browser (testing/browser.ts).
  chromium: () => Deno.args.includes("--tests") && !onPath("chromium"),
};
const missing = Object.keys(PACKAGE_MISSING).filter((name) => PACKAGE_MISSING[name]());

if (missing.length > 0) {
  const isRoot = Deno.uid() === 0;
  const hasApt = onPath("apt-get");
  if (!isRoot || !hasApt) {
    say(
      `missing: ${missing.join(", ")}; install with \`apt-get install -y ${missing.join(" ")}\`` +
        (zookeeper ? ` (${zookeeper})` : ""),
    );
    Deno.exit(1);
  }
  say(
    `installing ${missing.join(" and ")} from Debian's packages (apt-get install ${
      missing.join(" ")
    })`,
  );
  if (!await aptGet(["update", "-qq"]) || !await aptGet(["install", "-y", "-qq", ...missing])) {
    say(`apt-get failed; install by hand: apt-get install -y ${missing.join(" ")}`);
    Deno.exit(1);
  }
  // apt-get can succeed and leave a package unusable (a held package, a diverted binary).
  const still = missing.filter((name) => PACKAGE_MISSING[name]());
  if (still.length > 0) {
    const why = still.includes("zookeeper") ? ` (${zookeeperProblem()})` : "";
    say(`still missing after apt-get: ${still.join(", ")}${why}`);
    Deno.exit(1);
  }
}
