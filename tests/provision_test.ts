/**
 * scripts/provision.ts, run as a real child process on a machine where clickhouse-server is made
 * invisible to it (`--deny-read` on the places it looks) and apt-get too, so it reports instead of
 * installing (it is also given no `--allow-run`: it cannot install anything).
 */
import { assert, assertEquals, assertMatch } from "./harness/assert.ts";

const root = new URL("../", import.meta.url);
const HIDDEN = [
  "/usr/sbin/clickhouse-server",
  "/usr/bin/clickhouse-server",
  "/sbin/clickhouse-server",
  "/bin/clickhouse-server",
  "/usr/bin/apt-get",
  "/bin/apt-get",
];

async function provisionWithoutClickHouse(args: string[]) {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      `--deny-read=${HIDDEN.join(",")}`,
      "--allow-env",
      "--allow-sys=uid",
      "scripts/provision.ts",
      ...args,
    ],
    cwd: root.pathname,
    clearEnv: true,
    env: { PATH: "/nonexistent", HOME: Deno.env.get("HOME") ?? "/" },
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
