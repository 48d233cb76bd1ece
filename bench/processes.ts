/**
 * The monitor and the client as real child processes, run with exactly the permissions of their
 * `deno task` (read from deno.json), plus what the benchmark reads about them: resident memory
 * from `/proc/PID/status` and the monitor's status server.
 *
 * @module
 */

const repository = new URL("../", import.meta.url);

/** The `--allow-*`/`--deny-*` flags of a task in deno.json, and its `--v8-flags=`. */
export async function taskPermissions(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", repository)));
  const command: string | undefined = config.tasks?.[task];
  if (!command) throw new Error(`deno.json has no task ${task}`);
  return command.split(/\s+/).filter((word) => /^--((allow|deny)-|v8-flags=)/.test(word));
}

/** Resident memory of a process, in bytes: now (`VmRSS`) and its peak so far (`VmHWM`). */
export interface Memory {
  rss: number;
  peak: number;
}

/** Reads `VmRSS` and `VmHWM` of `pid` (Linux). */
export function readMemory(pid: number): Memory {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`: 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time `pid` has used so far (user + system), in milliseconds, with a 10 ms granularity. Less
 * sensitive than wall time to other work on the machine.
 */
export function readCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Starts counting the CPU time of process `pid` (our own: `Deno.pid`): the returned function
 * gives the milliseconds used since; NaN when there is no such process to read.
 */
export function cpuSince(pid: number | undefined): () => number {
  if (pid === undefined) return () => NaN;
  const before = readCpuMs(pid);
  return () => readCpuMs(pid) - before;
}

/** Options of {@link BenchProcess.start}. */
export interface StartOptions {
  /** The script, relative to the repository: `monitor.ts`, `client.ts`, `bench/_idle.ts`. */
  script: string;
  /** Whose permissions it runs with (a deno.json task), or explicit flags. */
  task?: string;
  flags?: string[];
  /** The only environment it gets, besides PATH, HOME, DENO_DIR and NO_COLOR. */
  env?: Record<string, string>;
  args?: string[];
  /** Extra `deno run` flags, e.g. `--cpu-prof`. */
  extraFlags?: string[];
}

/** One child process; its output is kept (the last lines are shown when something fails). */
export class BenchProcess implements AsyncDisposable {
  readonly name: string;
  readonly pid: number;
  /** `performance.now()` right before the spawn. */
  readonly startedAt: number;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #output: string[] = [];
  readonly #reading: Promise<void>;
  #exited = false;

  private constructor(name: string, child: Deno.ChildProcess, startedAt: number) {
    this.name = name;
    this.#child = child;
    this.pid = child.pid;
    this.startedAt = startedAt;
    this.status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
    this.#reading = Promise.all([this.#collect(child.stdout), this.#collect(child.stderr)])
      .then(() => {});
  }

  /** Spawns `deno run [permissions] [extraFlags] script [args]` in the repository. */
  static async start(name: string, options: StartOptions): Promise<BenchProcess> {
    const permissions = options.task ? await taskPermissions(options.task) : options.flags ?? [];
    const home = Deno.env.get("HOME") ?? "/root";
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        ...permissions,
        ...(options.extraFlags ?? []),
        new URL(options.script, repository).pathname,
        ...(options.args ?? []),
      ],
      cwd: repository.pathname,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: home,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`,
        NO_COLOR: "1",
        ...options.env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
    const startedAt = performance.now();
    return new BenchProcess(name, command.spawn(), startedAt);
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Its memory now, and its peak so far (while it runs). */
  memory(): Memory {
    return readMemory(this.pid);
  }

  /** The last `count` lines it printed. */
  tail(count = 20): string {
    return this.#output.slice(-count).join("\n");
  }

  /** CPU time it has used so far, in milliseconds (user + system). */
  cpuMs(): number {
    return readCpuMs(this.pid);
  }

  /** Resolves once it has printed a line matching `pattern`; fails after `ms` or if it exits. */
  async waitForOutput(pattern: RegExp, ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (!this.#output.some((line) => pattern.test(line))) {
      if (this.#exited) throw new Error(`${this.name} exited:\n${this.tail()}`);
      if (performance.now() > deadline) {
        throw new Error(`${this.name} printed no ${pattern} within ${ms} ms:\n${this.tail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends a signal (ignored once it has exited). */
  kill(signal: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // exited meanwhile
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill("SIGKILL");
        resolve();
      }, graceMs);
    });
    await Promise.race([this.status, killed]);
    clearTimeout(timer);
    const status = await this.status;
    await this.#reading;
    return status;
  }

  /** Rejects with its output if it exits before `promise` settles. */
  async guard<T>(promise: Promise<T>): Promise<T> {
    const exited = this.status.then((status) => {
      throw new Error(
        `${this.name} exited (code ${status.code}, signal ${status.signal}) unexpectedly; ` +
          `its last lines:\n${this.tail()}`,
      );
    });
    exited.catch(() => {});
    return await Promise.race([promise, exited]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
    await this.#reading;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      this.#output.push(...parts);
      if (this.#output.length > 500) this.#output.splice(0, this.#output.length - 200);
    }
    if (partial) this.#output.push(partial);
  }
}

/** What the monitor's `/metrics` says about its mirror and its queue. */
export interface MonitorStatus {
  synced: boolean;
  services: number;
  pending: number;
  /** V8's heap now (`zkcm_js_heap_bytes`): used (garbage not yet collected included), total. */
  heapUsedBytes: number;
  heapTotalBytes: number;
}

/** Reads the monitor's status server (`STATUS_PORT`) once. */
export async function monitorStatus(port: number): Promise<MonitorStatus> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(2000),
  });
  const text = await response.text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
  return {
    synced: value(/^zkcm_mirror_synced (\S+)$/m) === 1,
    services: value(/^zkcm_mirror_services (\S+)$/m),
    pending: value(/^zkcm_delivery_pending\{[^}]*\} (\S+)$/m),
    heapUsedBytes: value(/^zkcm_js_heap_bytes\{kind="used"\} (\S+)$/m),
    heapTotalBytes: value(/^zkcm_js_heap_bytes\{kind="total"\} (\S+)$/m),
  };
}

/**
 * Polls the monitor's status until `condition` holds, every `intervalMs`, at most `timeoutMs`;
 * fails with the process's output if it exits meanwhile.
 */
export async function waitForStatus(
  monitor: BenchProcess,
  port: number,
  condition: (status: MonitorStatus) => boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<MonitorStatus> {
  const deadline = performance.now() + timeoutMs;
  let last: MonitorStatus | string = "no answer yet";
  for (;;) {
    if (monitor.exited) {
      throw new Error(`${monitor.name} exited while waiting for ${what}:\n${monitor.tail()}`);
    }
    try {
      const status = await monitorStatus(port);
      if (condition(status)) return status;
      last = status;
    } catch (error) {
      last = String(error);
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for the monitor: ${what} ` +
          `(last: ${JSON.stringify(last)}); its last lines:\n${monitor.tail()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A free TCP port on 127.0.0.1 (for a child's status server). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
