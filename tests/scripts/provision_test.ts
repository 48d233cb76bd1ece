/**
 * scripts/provision.ts, run as a real child process on a machine where clickhouse-server is made
 * invisible to it (`--deny-read` on the places it looks) and apt-get too, so it reports instead of
 * installing (it is also given no `--allow-run`: it cannot install anything).
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";

const root = new URL("../../", import.meta.url);
const HIDDEN = [
  "/usr/sbin/clickhouse-server",
  "/usr/bin/clickhouse-server",
  "/sbin/clickhouse-server",
  "/bin/clickhouse-server",
  "/usr/bin/apt-get",
  "/bin/apt-get",
];

async function provisionWithoutClickHouse(
  args: string[],
  { hidden = HIDDEN, allowRun = false, env = {} as Record<string, string> } = {},
) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      `--deny-read=${hidden.join(",")}`,
      "--allow-env",
      "--allow-sys=uid",
      ...(allowRun ? ["--allow-run"] : []),
      "scripts/provision.ts",
      ...args,
    ],
    cwd: root.pathname,
    clearEnv: true,
    env: { PATH: "/nonexistent", HOME: Deno.env.get("HOME") ?? "/", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

Deno.test("provision: clickhouse-server is required for the tests only", async (t) => {
  await t.step("monitor:local, demo, bench and chaos (no argument) do not ask for it", async () => {
    const { code, stderr } = await provisionWithoutClickHouse([]);
    assertEquals(code, 0, stderr);
    assert(!stderr.includes("clickhouse-server"), stderr);
  });

  await t.step("`--tests` names it as missing, with how to install it", async () => {
    const { code, stderr } = await provisionWithoutClickHouse(["--tests"]);
    assertEquals(code, 1, stderr);
    assertMatch(stderr, /^provision: missing: clickhouse-server; install with `apt-get install/);
  });

  await t.step("`deno task test` provisions with `--tests`; the other tasks without", async () => {
    const { tasks } = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
    for (const [name, command] of Object.entries<string>(tasks)) {
      const provisions = command.match(/deno task provision(?: (--tests))?/);
      if (!provisions) continue;
      assertEquals(provisions[1], name === "test" ? "--tests" : undefined, `task ${name}`);
    }
  });
});

/**
 * An apt configuration under `dir` that changes nothing: no package sources, its own lists and
 * cache, no lock. `apt-get update` and `apt-get install` of an installed package then succeed
 * at once, as a real install that leaves the package unusable would.
 */
async function harmlessAptConfig(dir: string): Promise<string> {
  for (const sub of ["lists/partial", "cache/archives/partial", "parts"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  }
  await Deno.writeTextFile(`${dir}/sources.list`, "");
  const path = `${dir}/apt.conf`;
  await Deno.writeTextFile(
    path,
    [
      `Dir::Etc::SourceList "${dir}/sources.list";`,
      `Dir::Etc::SourceParts "${dir}/parts";`,
      `Dir::State::Lists "${dir}/lists";`,
      `Dir::Cache "${dir}/cache";`,
      `Debug::NoLocking "true";`,
    ].join("\n") + "\n",
  );
  return path;
}

// Runs as the tests run (root, after `deno task provision --tests` installed clickhouse-server).
Deno.test({
  name: "provision: apt-get found outside PATH is run; what is still missing after it is named",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "zkcm-provision-test-" });
    try {
      // PATH lacks /usr/bin, where apt-get is; apt-get "installs" clickhouse-server (already
      // installed, so nothing changes) while it stays hidden from the script.
      const { code, stderr } = await provisionWithoutClickHouse(["--tests"], {
        hidden: HIDDEN.filter((path) => !path.endsWith("/apt-get")),
        allowRun: true,
        env: { APT_CONFIG: await harmlessAptConfig(dir) },
      });
      assert(!stderr.includes("NotFound"), stderr);
      assertEquals(code, 1, stderr);
      assertMatch(stderr, /^provision: still missing after apt-get: clickhouse-server$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
