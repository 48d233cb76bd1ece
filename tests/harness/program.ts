/**
 * Runs one of the entry scripts (`client.ts`, `monitor.ts`) as a real child process, with exactly
 * the permissions its `deno task` uses (read from deno.json, so tests and users cannot drift
 * apart), collecting its stderr lines as they come.
 */
import { withTimeout } from "./wait.ts";

const root = new URL("../../", import.meta.url);

/** The `deno run` flags of a task in deno.json, e.g. `["--allow-net", ...]` for "client". */
export async function taskPermissions(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const command: string | undefined = config.tasks?.[task];
  if (!command) throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/).filter((word) => /^--(allow|deny)-/.test(word));
}

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
   * environment only (plus PATH/HOME), and `args`.
   */
  static async start(
    script: string,
    options: { task: string; env?: Record<string, string>; args?: string[]; extraFlags?: string[] },
  ): Promise<Program> {
    const permissions = await taskPermissions(options.task);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...permissions,
        ...(options.extraFlags ?? []),
        new URL(script, root).pathname,
        ...(options.args ?? []),
      ],
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

  /** Sends a signal. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
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
      this.#child.kill("SIGKILL");
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
