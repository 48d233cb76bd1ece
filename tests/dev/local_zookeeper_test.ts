import {
  findZooKeeperInstall,
  LocalEnsemble,
  LocalZooKeeper,
  ZooKeeperNotInstalledError,
} from "../../src/dev/local_zookeeper.ts";
import { connectRawSession, expireSession } from "../../testing/expire_session.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";

Deno.test("a standalone server answers ruok with imok and srvr with Mode standalone", async () => {
  await using zk = await LocalZooKeeper.start();
  assert(zk.running);
  assertEquals(zk.connectionString, `127.0.0.1:${zk.port}`);
  assertMatch(zk.dataDir, /\/zkcm-zk-[^/]+\/data$/);
  assertEquals(await zk.fourLetterWord("ruok"), "imok");
  assertMatch(await zk.fourLetterWord("srvr"), /^Mode: standalone$/m);
  assertEquals(await zk.mode(), "standalone");
});

Deno.test("a killed server restarts on the same port and keeps its data", async () => {
  await using zk = await LocalZooKeeper.start();
  const { port, dataDir } = zk;
  // Sessions are stored in the data directory: one that survives the crash proves the data did.
  const session = await connectRawSession(zk.connectionString);
  assert(session.timeoutMs > 0, "the server granted a session");

  await zk.kill();
  assert(!zk.running);
  assertEquals(await zk.mode(), undefined);

  await zk.restart();
  assert(zk.running);
  assertEquals([zk.port, zk.dataDir], [port, dataDir]);
  assertEquals(await zk.mode(), "standalone");
  const again = await connectRawSession(zk.connectionString, session.sessionId, session.password);
  assert(again.timeoutMs > 0, "the session from before the crash is still known");
});

Deno.test("a stopped server restarts and serves again", async () => {
  await using zk = await LocalZooKeeper.start();
  await zk.stop();
  assert(!zk.running);
  await zk.restart();
  assertEquals(await zk.fourLetterWord("ruok"), "imok");
});

Deno.test("close stops the server and removes its temporary directory, and may be repeated", async () => {
  const zk = await LocalZooKeeper.start();
  const directory = zk.dataDir.replace(/\/data$/, "");
  assert((await Deno.stat(directory)).isDirectory);
  await zk.close();
  assert(!zk.running);
  await assertRejects(() => Deno.stat(directory), Deno.errors.NotFound);
  await zk.close();
  await assertRejects(() => zk.restart(), Error, "closed");
});

Deno.test("a server whose JVM cannot start fails with the end of its log", async () => {
  // A ZooKeeper "distribution" whose only jar is empty: java finds no main class and exits.
  const fakeHome = await Deno.makeTempDir({ prefix: "zkcm-test-" });
  const previous = Deno.env.get("ZOOKEEPER_HOME");
  try {
    await Deno.mkdir(`${fakeHome}/lib`);
    await Deno.writeFile(`${fakeHome}/lib/zookeeper-3.8.0.jar`, new Uint8Array());
    Deno.env.set("ZOOKEEPER_HOME", fakeHome);
    const error = await assertRejects(() => LocalZooKeeper.start(), Error, "before serving");
    assertMatch(error.message, /QuorumPeerMain/);
  } finally {
    if (previous === undefined) Deno.env.delete("ZOOKEEPER_HOME");
    else Deno.env.set("ZOOKEEPER_HOME", previous);
    await Deno.remove(fakeHome, { recursive: true });
  }
});

Deno.test("impossible timing options are refused before anything starts", async () => {
  await assertRejects(
    () => LocalZooKeeper.start({ minSessionTimeoutMs: 5000, maxSessionTimeoutMs: 4000 }),
    RangeError,
    "minSessionTimeoutMs",
  );
});

Deno.test("findZooKeeperInstall uses Debian's package when ZOOKEEPER_HOME is unset", () => {
  const install = findZooKeeperInstall(envOf({ PATH: "/usr/local/bin:/usr/bin:/bin" }));
  assertMatch(install.classpath, /^\/etc\/zookeeper\/conf:\/usr\/share\/java\/zookeeper\.jar/);
  assertMatch(install.java, /\/java$/);
});

Deno.test("findZooKeeperInstall reads an Apache layout under ZOOKEEPER_HOME and JAVA_HOME", async () => {
  await using home = await temporaryDirectory();
  await Deno.mkdir(`${home.path}/lib`);
  await Deno.mkdir(`${home.path}/jdk/bin`, { recursive: true });
  for (const jar of ["lib/zookeeper-3.8.4.jar", "lib/netty.jar", "zookeeper-3.8.4-tests.jar"]) {
    await Deno.writeFile(`${home.path}/${jar}`, new Uint8Array());
  }
  await Deno.writeFile(`${home.path}/jdk/bin/java`, new Uint8Array(), { mode: 0o755 });

  const install = findZooKeeperInstall(
    envOf({ ZOOKEEPER_HOME: home.path, JAVA_HOME: `${home.path}/jdk` }),
  );
  assertEquals(install, {
    java: `${home.path}/jdk/bin/java`,
    classpath: [
      `${home.path}/conf`,
      `${home.path}/lib/netty.jar`,
      `${home.path}/lib/zookeeper-3.8.4.jar`,
      `${home.path}/zookeeper-3.8.4-tests.jar`,
    ].join(":"),
  });
});

Deno.test("findZooKeeperInstall says what is missing and how to install it", async () => {
  await using home = await temporaryDirectory();
  const noJar = await assertRejects(
    () => Promise.resolve().then(() => findZooKeeperInstall(envOf({ ZOOKEEPER_HOME: home.path }))),
    ZooKeeperNotInstalledError,
    "apt-get install -y zookeeper",
  );
  assertMatch(noJar.message, /zookeeper-<version>\.jar/);
  assert(!noJar.message.includes("\n"), "the message is one line");

  const noJava = await assertRejects(
    () => Promise.resolve().then(() => findZooKeeperInstall(envOf({ JAVA_HOME: home.path }))),
    ZooKeeperNotInstalledError,
    "ZOOKEEPER_HOME",
  );
  assertMatch(noJava.missing, /JAVA_HOME\/bin\/java/);
});

Deno.test("an ensemble of 3 elects one leader and keeps serving with one member down", async () => {
  await using ensemble = await LocalEnsemble.start(3);
  assertEquals(ensemble.members.length, 3);
  assertEquals(
    ensemble.connectionString,
    ensemble.members.map((member) => `127.0.0.1:${member.port}`).join(","),
  );
  const modes = await Promise.all(ensemble.members.map((member) => member.mode()));
  assertEquals(modes.toSorted(), ["follower", "follower", "leader"]);
  const leader = await ensemble.leaderIndex();
  assertEquals(modes[leader], "leader");

  // Losing the leader is the harder case: the other two must elect a new one.
  const lost = ensemble.members[leader];
  await lost.kill();
  const survivors = ensemble.members.filter((member) => member !== lost);
  await pollUntil(async () => {
    const modes = await Promise.all(survivors.map((member) => member.mode()));
    return modes.toSorted().join() === "follower,leader";
  }, "the two survivors to serve as leader and follower");
  assert(ensemble.members[await ensemble.leaderIndex()] !== lost);

  await lost.restart();
  assertEquals(await lost.mode(), "follower");
});

Deno.test("expireSession ends a live session", async () => {
  await using zk = await LocalZooKeeper.start();
  const { sessionId, password } = await connectRawSession(zk.connectionString);

  await expireSession(zk.connectionString, sessionId, password, 4000);

  const after = await connectRawSession(zk.connectionString, sessionId, password);
  assertEquals(after.timeoutMs, 0, "the server no longer knows the session");
});

Deno.test("expireSession wins against the session's own client taking it back at once", async () => {
  await using zk = await LocalZooKeeper.start();
  const { sessionId, password } = await connectRawSession(zk.connectionString);
  // Keeps re-attaching the session, each time kicking the previous connection (possibly
  // expireSession's) off it, until the server answers that the session is gone.
  const competitor = (async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const attached = await connectRawSession(zk.connectionString, sessionId, password)
        .catch(() => undefined); // kicked off by expireSession before the handshake finished
      if (attached?.timeoutMs === 0) return;
    }
    throw new Error("the session outlived expireSession");
  })();

  await expireSession(zk.connectionString, sessionId, password, 4000);
  await competitor; // settles only once the server says the session is gone
});

Deno.test("expireSession returns quietly for a session the server does not know", async () => {
  await using zk = await LocalZooKeeper.start();
  await expireSession(zk.connectionString, 0x1234_5678_9abc_def0n, new Uint8Array(16), 4000);
  assertEquals(await zk.fourLetterWord("ruok"), "imok");
});

function envOf(variables: Record<string, string>): { get(name: string): string | undefined } {
  return { get: (name) => variables[name] };
}

async function temporaryDirectory(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "zkcm-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Polls `condition` every 50 ms until it holds; fails with `what` after 30 s. */
async function pollUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
