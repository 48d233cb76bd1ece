/**
 * Makes sure ZooKeeper and Java are here before tests or a local ZooKeeper need them: on a fresh
 * Debian machine, as root, installs them from Debian's packages (saying so in one line);
 * otherwise says in one line what is missing and how to install it.
 */
import { findZooKeeperInstall, ZooKeeperNotInstalledError } from "../src/local_zookeeper.ts";

const encoder = new TextEncoder();
const say = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

function installed(): boolean {
  try {
    findZooKeeperInstall();
    return true;
  } catch (error) {
    if (error instanceof ZooKeeperNotInstalledError) return false;
    throw error;
  }
}

async function run(command: string, args: string[]): Promise<boolean> {
  const { success } = await new Deno.Command(command, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "inherit",
  }).output();
  return success;
}

if (!installed()) {
  const isRoot = Deno.uid() === 0;
  const hasApt = await Deno.stat("/usr/bin/apt-get").then(() => true, () => false);
  // A ZOOKEEPER_HOME that is set but wrong is the user's choice to fix, not ours to override.
  const chosenByUser = Boolean(Deno.env.get("ZOOKEEPER_HOME"));
  if (!isRoot || !hasApt || chosenByUser) {
    try {
      findZooKeeperInstall();
    } catch (error) {
      say(`provision: ${(error as Error).message}`);
    }
    Deno.exit(1);
  }
  say(
    "provision: installing ZooKeeper and Java from Debian's packages (apt-get install zookeeper)",
  );
  if (
    !await run("apt-get", ["update", "-qq"]) ||
    !await run("apt-get", ["install", "-y", "-qq", "zookeeper"])
  ) {
    say("provision: apt-get failed; install ZooKeeper by hand: apt-get install -y zookeeper");
    Deno.exit(1);
  }
  if (!installed()) {
    say("provision: ZooKeeper is still not usable after apt-get; see the lines above");
    Deno.exit(1);
  }
}
