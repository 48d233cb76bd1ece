/**
 * `deno task mutations`: proves that the tests defend the promises they are named after. Each
 * mutation in `scripts/mutations.json` is a one-line change that breaks one promise (search text,
 * replacement, the test files that must notice). For each, this copies the repository into a
 * scratch directory (the working tree is never touched), applies the change, runs those test files
 * and prints one line: `caught` (a test failed) or `survived` (every test passed: a promise no test
 * defends). The last line has the counts; the exit code is 1 when any mutation survived or could
 * not be applied.
 *
 * Not part of `deno task test` (it runs the relevant test files once per mutation: minutes). Each
 * run is bounded (`--timeout`, default 300 s; a run that is cut off counts as caught: the tests
 * wait on conditions with deadlines, so a mutation that stalls them is one they notice) and
 * mutations run `--parallel` at a time (default 2: the tests start ZooKeeper servers and child
 * processes, and the machine has 2 cores).
 *
 * ```sh
 * deno task mutations                       # every mutation
 * deno task mutations --only guard-holds-every-delete,client-skips-registrar-stop
 * deno task mutations --list                # what each one breaks, and where
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** One entry of `scripts/mutations.json`. */
export interface Mutation {
  /** A short name, unique in the list. */
  id: string;
  /** The promise this change breaks, in a few words. */
  breaks: string;
  /** The file to change, relative to the repository. */
  file: string;
  /** Text that occurs exactly once in `file`. */
  search: string;
  /** What replaces it. */
  replace: string;
  /** The test files that must fail, relative to the repository. */
  tests: string[];
  /** Only the tests whose name contains this (`deno test --filter`), where the rest are slow. */
  filter?: string;
}

/** What became of one mutation. */
export type Verdict =
  | { kind: "caught"; failed: string[] }
  | { kind: "timed-out" }
  | { kind: "survived" }
  | { kind: "not-applied"; reason: string };

const root = new URL("../", import.meta.url);
const encoder = new TextEncoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));

/** Reads and checks the mutation list. */
export async function loadMutations(file = new URL("scripts/mutations.json", root)) {
  const list = JSON.parse(await Deno.readTextFile(file)) as Mutation[];
  const seen = new Set<string>();
  for (const mutation of list) {
    for (const field of ["id", "breaks", "file", "search"] as const) {
      if (typeof mutation[field] !== "string" || mutation[field] === "") {
        throw new Error(`mutations.json: ${mutation.id ?? "an entry"} has no ${field}`);
      }
    }
    if (typeof mutation.replace !== "string") {
      throw new Error(`mutations.json: ${mutation.id} has no replace`);
    }
    if (!Array.isArray(mutation.tests) || mutation.tests.length === 0) {
      throw new Error(`mutations.json: ${mutation.id} names no test file`);
    }
    if (mutation.filter !== undefined && typeof mutation.filter !== "string") {
      throw new Error(`mutations.json: ${mutation.id} has a filter that is not text`);
    }
    if (seen.has(mutation.id)) throw new Error(`mutations.json: ${mutation.id} is listed twice`);
    seen.add(mutation.id);
  }
  return list;
}

/** Applies `mutation` to `text`; the search text must occur exactly once. */
export function applyMutation(text: string, mutation: Mutation): string | { error: string } {
  const first = text.indexOf(mutation.search);
  if (first === -1) return { error: `search text not found in ${mutation.file}` };
  if (text.indexOf(mutation.search, first + 1) !== -1) {
    return { error: `search text found more than once in ${mutation.file}` };
  }
  return text.slice(0, first) + mutation.replace + text.slice(first + mutation.search.length);
}

/** The repository's files as git sees them (tracked and new, not ignored; deleted ones left out). */
async function repositoryFiles(): Promise<string[]> {
  const { code, stdout } = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: root.pathname,
    stdout: "piped",
  }).output();
  if (code !== 0) throw new Error("git ls-files failed");
  const names = new TextDecoder().decode(stdout).split("\0").filter((name) => name !== "");
  const present: string[] = [];
  for (const name of new Set(names)) {
    try {
      if ((await Deno.lstat(new URL(name, root))).isFile) present.push(name);
    } catch {
      // deleted in the working tree
    }
  }
  return present;
}

async function scratchCopy(files: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "zkcm-mutation-" });
  for (const name of files) {
    const target = `${dir}/${name}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(new URL(name, root), target);
  }
  return dir;
}

/**
 * Runs in progress: their process groups and scratch copies. The test runs live in sessions of
 * their own, out of reach of the terminal's Ctrl-C, so an interrupted runner ends them itself.
 */
const running = new Map<number, string>();

/** On SIGINT or SIGTERM: ends every test run still going, removes its copy, exits 130. */
function stopRunsOnSignal(): () => void {
  const stop = () => {
    for (const [pid, dir] of running) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // removed meanwhile
      }
    }
    say("mutations: interrupted; the runs in progress were stopped and their copies removed");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  return () => {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  };
}

/** Runs one mutation in its own scratch copy, bounded by `timeoutMs`. */
async function runMutation(
  mutation: Mutation,
  files: string[],
  timeoutMs: number,
): Promise<Verdict> {
  const dir = await scratchCopy(files);
  try {
    const path = `${dir}/${mutation.file}`;
    const mutated = applyMutation(await Deno.readTextFile(path), mutation);
    if (typeof mutated !== "string") return { kind: "not-applied", reason: mutated.error };
    await Deno.writeTextFile(path, mutated);
    const tmp = `${dir}/.tmp`;
    await Deno.mkdir(tmp);
    // A process group of its own (setsid), so a run cut off takes its ZooKeeper servers and
    // child processes with it.
    const child = new Deno.Command("setsid", {
      args: [
        Deno.execPath(),
        "test",
        "--allow-all",
        "--quiet",
        ...(mutation.filter ? ["--filter", mutation.filter] : []),
        ...mutation.tests,
      ],
      cwd: dir,
      // The tests' temporary directories (ZooKeeper's data among them) inside the copy: a run
      // that is cut off leaves nothing behind once the copy is removed.
      env: { NO_COLOR: "1", TMPDIR: tmp },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    running.set(child.pid, dir);
    const { code, stdout, stderr } = await child.output().finally(() => {
      clearTimeout(timer);
      running.delete(child.pid);
    });
    if (timedOut) return { kind: "timed-out" };
    if (code === 0) return { kind: "survived" };
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    // A change that does not compile fails every test: it proves nothing about any of them.
    if (/^error: TS\d+/m.test(output) || /Type checking failed/.test(output)) {
      return { kind: "not-applied", reason: "the mutated code does not type-check" };
    }
    return { kind: "caught", failed: failedTests(output) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The names of the failed tests in `deno test` output (its "ERRORS" list). */
function failedTests(output: string): string[] {
  const failed = new Set<string>();
  for (const match of output.matchAll(/^(.+?) => (\S+?):\d+:\d+$/gm)) {
    failed.add(`${match[2]}: ${match[1].trim()}`);
  }
  return [...failed];
}

function describe(mutation: Mutation, verdict: Verdict, ms: number): string {
  const seconds = `${(ms / 1000).toFixed(0)} s`;
  switch (verdict.kind) {
    case "caught":
      return `caught    ${mutation.id} (${seconds}): ${verdict.failed.slice(0, 2).join("; ")}`;
    case "timed-out":
      return `caught    ${mutation.id} (${seconds}): the tests did not finish (cut off)`;
    case "survived":
      return `SURVIVED  ${mutation.id} (${seconds}): no test failed; it breaks: ${mutation.breaks}`;
    case "not-applied":
      return `ERROR     ${mutation.id}: ${verdict.reason}`;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      parallel: { type: "string", default: "2" },
      timeout: { type: "string", default: "300" },
      list: { type: "boolean", default: false },
    },
  });
  let mutations = await loadMutations();
  if (values.list) {
    for (const m of mutations) say(`${m.id}: ${m.breaks} [${m.file}; ${m.tests.join(" ")}]`);
    return 0;
  }
  if (values.only) {
    const wanted = new Set(values.only.split(","));
    const unknown = [...wanted].filter((id) => !mutations.some((m) => m.id === id));
    if (unknown.length > 0) {
      say(`mutations: no mutation named ${unknown.join(", ")} (see --list)`);
      return 2;
    }
    mutations = mutations.filter((m) => wanted.has(m.id));
  }
  const parallel = Math.max(1, Number(values.parallel) || 2);
  const timeoutMs = Math.max(10, Number(values.timeout) || 300) * 1000;
  const files = await repositoryFiles();
  say(
    `${mutations.length} mutations, ${parallel} at a time, each bounded to ${timeoutMs / 1000} s`,
  );

  const counts = { caught: 0, survived: 0, error: 0 };
  const removeSignalListeners = stopRunsOnSignal();
  let next = 0;
  const worker = async () => {
    while (next < mutations.length) {
      const mutation = mutations[next++];
      const started = performance.now();
      const verdict = await runMutation(mutation, files, timeoutMs);
      say(describe(mutation, verdict, performance.now() - started));
      if (verdict.kind === "survived") counts.survived++;
      else if (verdict.kind === "not-applied") counts.error++;
      else counts.caught++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, mutations.length) }, worker));
  removeSignalListeners();
  say(
    `${counts.caught} caught, ${counts.survived} survived, ${counts.error} not applied ` +
      `(of ${mutations.length})`,
  );
  return counts.survived + counts.error > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
