/**
 * What the programs load at start: every module evaluated costs resident memory (the idle
 * monitor's RSS is one of issue 16's targets). The npm packages one mode only needs are imported
 * when that mode is used: the XML DOM with a configuration template (whole-state delivery), the
 * JWT decoder at the first login. The browser driver is for tests only, never in a program.
 * Read from `deno info --json`, the module graph Deno itself builds (static imports are loaded at
 * start, dynamic ones when reached).
 */
import { assertEquals } from "../../testing/assert.ts";

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

const repository = new URL("../../", import.meta.url);

async function moduleGraph(entry: string): Promise<GraphModule[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: repository.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)).modules;
}

/** The npm packages (`name`, no version) reachable from `entry`: through static imports only, or all. */
async function npmPackages(entry: string, reach: "static" | "all"): Promise<string[]> {
  const modules = new Map((await moduleGraph(entry)).map((module) => [module.specifier, module]));
  const seen = new Set<string>();
  const packages = new Set<string>();
  const pending = [new URL(entry, repository).href];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined || (reach === "static" && dependency.isDynamic)) continue;
      const npm = /^npm:\/?(@?[^@/]+(?:\/[^@/]+)?)@/.exec(target);
      if (npm) packages.add(npm[1]);
      else pending.push(target);
    }
  }
  return [...packages].sort();
}

Deno.test("the monitor loads at start only the npm packages every monitor uses", async () => {
  assertEquals(await npmPackages("monitor.ts", "static"), ["@logtape/logtape", "hono", "valibot"]);
  // The others are there, loaded when their mode is used.
  assertEquals(await npmPackages("monitor.ts", "all"), [
    "@logtape/logtape",
    "@xmldom/xmldom",
    "hono",
    "jose",
    "valibot",
  ]);
});

Deno.test("the client and the Docker entry load no XML DOM, JWT decoder or browser at start", async () => {
  for (const entry of ["client.ts", "main.ts"]) {
    const loaded = await npmPackages(entry, "static");
    for (const never of ["@xmldom/xmldom", "jose", "puppeteer-core"]) {
      assertEquals(loaded.includes(never), false, `${entry} loads ${never} at start`);
    }
    assertEquals((await npmPackages(entry, "all")).includes("puppeteer-core"), false, entry);
  }
});
