/**
 * Runs one of the entry scripts (`client.ts`, `monitor.ts`) as a real child process, with exactly
 * the permissions its `deno task` uses (read from deno.json, so tests and users cannot drift
 * apart), collecting its stderr lines as they come. It runs either as `deno run` with those
 * permissions (what `deno compile` builds into the executables, see scripts/compile.ts) or as
 * users start it, through `deno task` (one more process, which forwards signals).
 *
 * Every program is the leader of its own process group, so a test can signal the whole group as
 * a terminal's Ctrl-C, `timeout` or systemd's `KillMode=control-group` do.
 */
import { withTimeout } from "./wait.ts";

const root = new URL("../", import.meta.url);

/** The `deno run` flags of a task in deno.json (permissions, `--v8-flags=`), e.g. `["--allow-net", ...]`. */
export async function taskPermissions(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const command: string | undefined = config.tasks?.[task];
  if (!command) throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/).filter((word) => /^--((allow|deny)-|v8-flags=)/.test(word));
}

/** How a program is started: `deno run` with its task's permissions, or `deno task`. */
export type Launcher = "run" | "task";

/** A running entry script. */
export class Program implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #stdout: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #reading: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#reading = Promise.all([
      this.#collect(child.stderr, this.#lines),
      this.#collect(child.stdout, this.#stdout),
    ]).then(() => {});
    this.status = child.status;
  }

  /**
   * Starts `script` (relative to the repository) with the permissions of `task`, the given
   * environment only (plus PATH/HOME), and `args`; with `launcher: "task"`, as `deno task <task>`
   * (then `script` and `extraFlags` are the task's own).
   */
  static async start(
    script: string,
    options: {
      task: string;
      env?: Record<string, string>;
      args?: string[];
      extraFlags?: string[];
      launcher?: Launcher;
    },
  ): Promise<Program> {
    const args = options.launcher === "task"
      ? ["task", "--quiet", options.task, ...(options.args ?? [])]
      : [
        "run",
        "--quiet",
        ...await taskPermissions(options.task),
        ...(options.extraFlags ?? []),
        new URL(script, root).pathname,
        ...(options.args ?? []),
      ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: root.pathname,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/root",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`,
        NO_COLOR: "1",
        ...options.env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Its own session and process group (setsid), so that `killGroup` reaches it and only it.
      detached: true,
    }).spawn();
    return new Program(child);
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Every stderr line so far. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Sends a signal to the process (under `deno task`: to `deno task`, which forwards it). */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends a signal to the program's whole process group, as a terminal's Ctrl-C does. */
  killGroup(signal: Deno.Signal): void {
    Deno.kill(-this.#child.pid, signal);
  }

  /** Resolves with the first stderr line matching `pattern` (also one already seen). */
  async waitForLine(pattern: RegExp, ms: number): Promise<string> {
    const found = () => this.#lines.find((line) => pattern.test(line));
    return await withTimeout(
      new Promise<string>((resolve) => {
        const check = () => {
          const line = found();
          if (line !== undefined) {
            this.#waiters.delete(check);
            resolve(line);
          }
        };
        this.#waiters.add(check);
        check();
      }),
      ms,
      `a line matching ${pattern}; got:\n${this.#lines.join("\n")}`,
    );
  }

  /** Waits for the exit; returns the status, every stderr line and every stdout line. */
  async finished(
    ms = 15_000,
  ): Promise<{ code: number; signal: string | null; lines: string[]; stdout: string[] }> {
    const status = await withTimeout(this.status, ms, "the program exits");
    await this.#reading;
    return {
      code: status.code,
      signal: status.signal,
      lines: [...this.#lines],
      stdout: [...this.#stdout],
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      // The group: under `deno task` the program itself is a grandchild.
      this.killGroup("SIGKILL");
    } catch {
      // already exited
    }
    await this.status;
    await this.#reading;
  }

  async #collect(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      for (const waiter of [...this.#waiters]) waiter();
    }
    if (partial) lines.push(partial);
    for (const waiter of [...this.#waiters]) waiter();
  }
}
