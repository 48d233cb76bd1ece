/**
 * src/shared/debug_signal.ts in a real child process with the programs' own `--allow-ffi` (read from
 * deno.json's client task): FFI is given up as soon as libc is open, and the handle it keeps still
 * replaces the runtime's SIGUSR1 handler when that comes (the kernel then shows SIGUSR1 ignored and
 * no longer caught). The programs' process tests send the signal itself.
 */
import { Program, taskPermissions } from "../../testing/program.ts";
import { LIBC_PATHS } from "../../src/shared/debug_signal.ts";
import { sigusr1Disposition } from "../../testing/process_info.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { deferred, waitFor, withTimeout } from "../../testing/wait.ts";

const probe = new URL("../../testing/debug_signal_probe.ts", import.meta.url).pathname;
const starts = [
  { name: "", args: [] },
  {
    // The entries' order on a slow start: the runtime's handler is there before the first call,
    // and logging is set up after it. Its line was lost then, and the programs' process tests
    // waited 15 s for it in vain on a loaded machine.
    name: " (already there at the first call, logged once logging is up)",
    args: ["late"],
  },
];
for (const start of starts) {
  Deno.test(`ignoreDebugSignal gives up FFI at once and still replaces the runtime's handler${start.name}`, async () => {
    const ffi = (await taskPermissions("client")).filter((flag) => flag.startsWith("--allow-ffi"));
    assertEquals(ffi.length, 1, "the client task gives FFI to glibc");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...ffi, probe, ...start.args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const report = deferred<string>();
    const replaced = deferred();
    const stderr: string[] = [];
    const reading = Promise.all([
      (async () => {
        for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
          report.resolve(chunk.trim());
        }
      })(),
      (async () => {
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          stderr.push(chunk);
          if (/runtime's inspector handler replaced/.test(chunk)) replaced.resolve();
        }
      })(),
    ]);
    try {
      const go = child.stdin.getWriter();
      if (start.args.includes("late")) {
        await waitFor(
          async () => (await sigusr1Disposition(child.pid)).caught,
          15_000,
          "the runtime's own SIGUSR1 handler installed",
        );
        await go.write(new TextEncoder().encode("\n"));
      }
      await go.close();
      const line = await withTimeout(report.promise, 15_000, "the probe's report");
      const { ffi: state, loadAgain } = JSON.parse(line);
      assert(state !== "granted", `FFI given up once libc is open, got ${line}`);
      assertEquals(loadAgain, "NotCapable", "no other library can be loaded");

      await withTimeout(replaced.promise, 15_000, `the runtime's handler replaced:\n${stderr}`);
      assertEquals(await sigusr1Disposition(child.pid), { ignored: true, caught: false });
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 0, stderr.join(""));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await reading;
    }
  });
}

Deno.test("without the FFI permission: one warning, once logging is set up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zkcm-debug-signal-test-" });
  try {
    const nodes = `${dir}/nodes.json`;
    await Deno.writeTextFile(nodes, JSON.stringify({ "/cluster1/n/s": "localhost:2023" }));
    await using program = await Program.start("client.ts", {
      task: "client",
      extraFlags: [`--deny-ffi=${Object.values(LIBC_PATHS).join(",")}`],
      env: { ZK_HOST: "127.0.0.1:1", NODES_FILE: nodes },
    });
    // The ZooKeeper warning comes after it: by then the SIGUSR1 warning was said or never will be.
    await program.waitForLine(/ZooKeeper server 127\.0\.0\.1:1/, 15_000);
    const warnings = program.lines.filter((line) => /SIGUSR1 would open an inspector/.test(line));
    assertEquals(warnings.length, 1, program.lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
