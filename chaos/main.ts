/**
 * The seeded chaos run of the monitor and the client (issue 8):
 *
 * ```sh
 * deno task chaos --seed 1234 --duration 120s
 * ```
 *
 * Prints the seed first, then the report; exits 0 when the proxy converged to ZooKeeper's valid
 * services within the bound with no duplicate and nothing malformed, 1 when it did not, 2 on bad
 * arguments or when the harness itself could not run.
 *
 * Flags: `--seed N` (default: random, printed), `--duration D` (`60s`, `2m`, `90000ms`; default
 * 60s), `--clients N` (3–5, default 4), `--monitors N` (1–3, default 1: with two or three, the
 * leader is killed, stopped and cut off from ZooKeeper too, and the fencing rules are checked),
 * `--verbose` (print the history as it happens), `--proxy documented|deployed` (which proxy the
 * stand-in plays, default documented; deployed: one answer per connection, a delete that removes
 * nothing, crashes that restart it empty), `--whole-state` (with `--proxy deployed`: the monitors
 * push whole configurations, `ASABRU_CONFIG_TEMPLATE`; see `whole_state.ts`).
 *
 * @module
 */
import { printLines } from "../src/shared/process.ts";
import { randomSeed } from "./prng.ts";
import { runChaos } from "./run.ts";

const print = (line: string) => printLines(Deno.stdout, [line]);
const fail = (line: string): never => {
  printLines(Deno.stderr, [`chaos: ${line}`]);
  Deno.exit(2);
};

const USAGE = "usage: chaos/main.ts [--seed N] [--duration 60s] [--clients 4] [--monitors 1] " +
  "[--proxy documented|deployed [--whole-state]] [--verbose]";

function parseDuration(text: string): number | undefined {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return Math.round(value * (unit === "ms" ? 1 : unit === "s" ? 1000 : 60_000));
}

let seed: number | undefined;
let durationMs = 60_000;
let clients = 4;
let monitors = 1;
let verbose = false;
let proxy: "documented" | "deployed" = "documented";
let wholeState = false;
const args = [...Deno.args];
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split(/=(.*)/s, 2);
  const value = () => inline ?? args[++i] ?? fail(`${flag} needs a value\n${USAGE}`);
  switch (flag) {
    case "--seed": {
      const text = value();
      if (!/^[0-9]{1,10}$/.test(text) || Number(text) > 0xffffffff) {
        fail(`--seed must be an integer 0-4294967295, got ${JSON.stringify(text)}`);
      }
      seed = Number(text);
      break;
    }
    case "--duration": {
      const text = value();
      const parsed = parseDuration(text);
      if (parsed === undefined || parsed < 1000 || parsed > 3_600_000) {
        fail(`--duration must be 1s-60m (e.g. 60s, 2m), got ${JSON.stringify(text)}`);
      }
      durationMs = parsed!;
      break;
    }
    case "--clients": {
      const text = value();
      if (!/^[1-9]$/.test(text)) fail(`--clients must be 1-9, got ${JSON.stringify(text)}`);
      clients = Number(text);
      break;
    }
    case "--monitors": {
      const text = value();
      if (!/^[1-3]$/.test(text)) fail(`--monitors must be 1-3, got ${JSON.stringify(text)}`);
      monitors = Number(text);
      break;
    }
    case "--verbose":
      verbose = true;
      break;
    case "--whole-state":
      wholeState = true;
      break;
    case "--proxy": {
      const text = value();
      if (text !== "documented" && text !== "deployed") {
        fail(`--proxy must be documented or deployed, got ${JSON.stringify(text)}`);
      }
      proxy = text as "documented" | "deployed";
      break;
    }
    case "--help":
    case "-h":
      print(USAGE);
      Deno.exit(0);
      break;
    default:
      fail(`unknown argument ${JSON.stringify(args[i])}\n${USAGE}`);
  }
}

if (wholeState && proxy !== "deployed") fail(`--whole-state needs --proxy deployed\n${USAGE}`);
seed ??= randomSeed();
print(`chaos: seed ${seed} (replay with --seed ${seed})`);
try {
  const result = await runChaos({
    seed,
    durationMs,
    clients,
    monitors,
    verbose,
    print,
    proxy,
    wholeState,
  });
  Deno.exit(result.passed ? 0 : 1);
} catch (error) {
  printLines(Deno.stderr, [
    `chaos: seed ${seed}: the harness failed: ${error instanceof Error ? error.stack : error}`,
  ]);
  Deno.exit(2);
}
