/**
 * `deno task compile`: builds `dist/zk-monitor`, `dist/zk-client` and `dist/zk-cluster-monitor`
 * (the Docker entry, `MODE` picks the program) with `deno compile`, each with exactly the
 * permissions of its `deno task` in deno.json, so the executables and the tasks cannot drift.
 *
 * `deno compile` downloads its runtime base (denort) on first use. Where that is impossible (no
 * internet), this says so in one line, naming `DENORT_BIN` (a local denort of the same Deno
 * version) as the way out.
 */
const root = new URL("../", import.meta.url);
const encoder = new TextEncoder();
const say = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

/** The executables: each built from its entry with the permissions of its `deno task`. */
export const TARGETS = [
  { output: "dist/zk-monitor", entry: "monitor.ts", task: "monitor" },
  { output: "dist/zk-client", entry: "client.ts", task: "client" },
  { output: "dist/zk-cluster-monitor", entry: "main.ts", task: "start" },
] as const;

/**
 * The `deno compile` arguments of every target, read from `deno.json`'s tasks: what can be
 * checked without building (building needs denort, which may not be downloadable).
 */
export async function compileCommands(): Promise<
  { output: string; entry: string; permissions: string[]; args: string[] }[]
> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  return TARGETS.map((target) => {
    // The permissions, and the V8 flags (a runtime setting `deno compile` keeps too).
    const permissions = (config.tasks[target.task] as string).split(/\s+/)
      .filter((word) => /^--((allow|deny)-|v8-flags=)/.test(word));
    return {
      output: target.output,
      entry: target.entry,
      permissions,
      args: ["compile", "--quiet", ...permissions, "--output", target.output, target.entry],
    };
  });
}

async function main(): Promise<void> {
  for (const target of await compileCommands()) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: target.args,
      cwd: root.pathname,
      stdout: "inherit",
      stderr: "piped",
    }).output();
    const errors = new TextDecoder().decode(stderr);
    if (code !== 0) {
      if (/denort/i.test(errors) && /(error sending request|dns error|connect)/i.test(errors)) {
        say(
          "compile: deno compile could not download its runtime base (denort) from dl.deno.land; " +
            `without internet, set DENORT_BIN to a local denort of Deno ${Deno.version.deno} ` +
            "(denort-<target>.zip of the Deno release, unzipped) and run again",
        );
      } else {
        say(`compile: deno compile failed for ${target.entry}:`);
        Deno.stderr.writeSync(stderr);
      }
      Deno.exit(1);
    }
    say(`compile: built ${target.output} (${target.permissions.join(" ")})`);
  }
}

if (import.meta.main) await main();
