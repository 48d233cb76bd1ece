/**
 * The three ways users run the programs: the Docker image's MODE entry, `deno task compile`, the
 * demo, and the systemd units.
 */
import { LocalZooKeeper } from "../../src/dev/local_zookeeper.ts";
import { ZkSession } from "../../src/zookeeper/mod.ts";
import { resolveMode } from "../../src/shared/mode.ts";
import { Program, taskPermissions } from "../../testing/program.ts";
import { compileCommands } from "../../scripts/compile.ts";
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { waitFor } from "../../testing/wait.ts";

const root = new URL("../../", import.meta.url);

Deno.test("MODE: monitor, client, anything else is one line", () => {
  assertEquals(resolveMode("monitor"), { mode: "monitor" });
  assertEquals(resolveMode(" Client "), { mode: "client" });
  assert("error" in resolveMode(undefined));
  assert("error" in resolveMode("bogus"));
});

Deno.test("the image's entry runs the program MODE names", async (t) => {
  await using zk = await LocalZooKeeper.start();
  const entry = (env: Record<string, string>) => Program.start("main.ts", { task: "start", env });

  await t.step("MODE=monitor runs the monitor", async () => {
    await using program = await entry({ MODE: "monitor", ZK_HOST: zk.connectionString });
    await program.waitForLine(/mirror of \/cluster1 synced/, 15_000);
    program.kill("SIGTERM");
    assertEquals((await program.finished()).code, 0);
  });

  await t.step("MODE=client runs the client", async () => {
    await using program = await entry({
      MODE: "client",
      ZK_HOST: zk.connectionString,
      REGISTER: "/cluster1/ep/svc=localhost:2023",
    });
    await program.waitForLine(/\/cluster1\/ep\/svc registered/, 15_000);
    await using observer = ZkSession.open({ connectionString: zk.connectionString });
    await observer.waitUntilConnected({ timeoutMs: 5000 });
    assert((await observer.exists("/cluster1/ep/svc")) !== null, "registered");
    program.kill("SIGTERM");
    assertEquals((await program.finished()).code, 0);
  });

  for (const [name, env] of [["MODE=bogus", { MODE: "bogus" }], ["no MODE", {}]] as const) {
    await t.step(`${name}: one line, exit 2`, async () => {
      const program = await entry({ ...env, ZK_HOST: zk.connectionString });
      const { code, lines } = await program.finished();
      const printed = lines.filter((line) => line.trim() !== "");
      assertEquals(code, 2);
      assertEquals(printed.length, 1, printed.join(" | "));
      assertMatch(printed[0], /MODE/);
    });
  }
});

Deno.test("deno task compile gives each executable exactly its task's permissions (offline)", async () => {
  // Checked without building: the arguments `deno compile` gets. Which task goes with which entry
  // is stated here, not read from the script under test.
  const expected = { "monitor.ts": "monitor", "client.ts": "client", "main.ts": "start" } as const;
  const commands = await compileCommands();
  assertEquals(commands.map((c) => c.entry).sort(), Object.keys(expected).sort());
  for (const command of commands) {
    const permissions = await taskPermissions(expected[command.entry as keyof typeof expected]);
    assert(permissions.length > 0, `${command.entry}: its task has permissions`);
    assertEquals(command.permissions, permissions, `${command.entry}: the task's permissions`);
    assertEquals(command.args, [
      "compile",
      "--quiet",
      ...permissions,
      "--output",
      command.output,
      command.entry,
    ]);
    assert(!command.args.includes("--allow-all") && !command.args.includes("-A"), "never all");
  }
});

// Here deno compile cannot fetch its runtime base (no internet), so this proves the one-line
// message only; where it can, the branch that runs the built executables is taken instead.
Deno.test("deno task compile without denort: one line naming DENORT_BIN (built executables answer --help where it can be fetched)", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "compile"],
    cwd: root.pathname,
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(stderr).split("\n").filter((line) => line.trim() !== "");
  if (code === 0) {
    for (const name of ["zk-monitor", "zk-client", "zk-cluster-monitor"]) {
      const help = await new Deno.Command(new URL(`dist/${name}`, root).pathname, {
        args: ["--help"],
        env: { MODE: "monitor" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(help.code, 0, `${name} --help`);
    }
  } else {
    assertEquals(code, 1);
    assertEquals(lines.length, 1, lines.join("\n"));
    assertMatch(lines[0], /DENORT_BIN/);
  }
});

Deno.test("the demo shows the add and the delete, then leaves nothing behind", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "zkcm-demo-test-" });
  try {
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "demo"],
      cwd: root.pathname,
      env: { TMPDIR: tmp },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout);
    assertEquals(code, 0, output);
    assertMatch(output, /proxy received: add ch_http_service2 \(localhost:2023\)/);
    assertMatch(output, /proxy received: delete ch_http_service2/);
    // Whole-state delivery on the deployed-mode stand-in: the removal takes effect.
    assertMatch(output, /round robin: ch_http_service1 \(127\.0\.0\.1:8123\), ch_http_service2/);
    assertMatch(output, /the removal took effect, the round robin: ch_http_service1 \([^)]*\)\n/);
    assertEquals([...Deno.readDirSync(tmp)], [], "no temporary file left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the demo stops everything on Ctrl-C", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "zkcm-demo-test-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/demo.ts"],
      cwd: root.pathname,
      env: { TMPDIR: tmp },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const decoder = new TextDecoder();
    let output = "";
    const reading = (async () => {
      for await (const chunk of child.stdout) output += decoder.decode(chunk);
    })();
    await waitFor(() => output.includes("ZooKeeper listens"), 20_000, "the demo started");
    child.kill("SIGINT");
    const status = await child.status;
    await reading;
    assertEquals(status.code, 130, output);
    assertEquals([...Deno.readDirSync(tmp)], [], "no temporary file left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("systemd-analyze verify accepts both units", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "zkcm-units-" });
  try {
    for (const unit of ["zk-monitor.service", "zk-client.service"]) {
      // verify checks that ExecStart exists: point it at a stand-in executable.
      const binary = `${tmp}/${unit.replace(".service", "")}`;
      await Deno.writeTextFile(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const text = await Deno.readTextFile(new URL(`deploy/systemd/${unit}`, root));
      await Deno.writeTextFile(
        `${tmp}/${unit}`,
        text.replaceAll(`/usr/local/bin/${unit.replace(".service", "")}`, binary),
      );
      const { code, stderr } = await new Deno.Command("systemd-analyze", {
        args: ["verify", "--man=no", `${tmp}/${unit}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const problems = new TextDecoder().decode(stderr);
      assertEquals(code, 0, `${unit}: ${problems}`);
      assertEquals(problems.trim(), "", `${unit}: ${problems}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("each task allows every variable its program's options read", async () => {
  const { clientOptions, monitorOptions } = await import("../../mod.ts");
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const allowed = (task: string) =>
    new Set(/--allow-env=(\S+)/.exec(config.tasks[task])?.[1].split(",") ?? []);
  const variables = (specs: object) =>
    Object.values(specs).flatMap((spec: { env?: string }) =>
      spec.env === undefined ? [] : [spec.env]
    );
  for (
    const [task, specs] of [
      ["monitor", monitorOptions],
      ["client", clientOptions],
      ["start", monitorOptions],
      ["start", clientOptions],
    ] as const
  ) {
    const missing = variables(specs).filter((name) => !allowed(task).has(name));
    assertEquals(missing, [], `deno task ${task} cannot read these`);
  }
});
