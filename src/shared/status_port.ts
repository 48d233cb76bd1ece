/**
 * Whether the status server can listen where `STATUS_PORT`/`STATUS_HOST` say, asked before the
 * program touches ZooKeeper: a port already taken is then one line and exit 1, with nothing
 * registered, instead of an uncaught `AddrInUse` with a stack trace after registering.
 *
 * @module
 */
import { printLines } from "./process.ts";

/**
 * Listens on `hostname:port` and closes at once. Returns why it cannot listen there, in a few
 * words (`"the port is already in use"`), or `undefined` when it can.
 *
 * @example
 * ```ts
 * const problem = statusPortProblem(8080, "0.0.0.0");
 * if (problem) exitWith(`--status-port (STATUS_PORT): cannot listen on 0.0.0.0:8080: ${problem}`);
 * ```
 */
export function statusPortProblem(port: number, hostname: string): string | undefined {
  try {
    Deno.listen({ port, hostname }).close();
    return undefined;
  } catch (error) {
    return listenErrorReason(error);
  }
}

/** The reason a listen failed, in a few words, for `error` as `Deno.listen`/`Deno.serve` throw it. */
export function listenErrorReason(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "the port is already in use";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "the address is not one of this machine's";
  }
  if (error instanceof Deno.errors.NotCapable) return "network access not granted (--allow-net)";
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}

/** The one line a program prints when its status server cannot listen. */
export function statusListenLine(port: number, hostname: string, reason: string): string {
  const address = hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  return `--status-port (STATUS_PORT): cannot listen on ${address}: ${reason}`;
}

/** The exit code of a status port that cannot be listened on: a failure at run time (both programs). */
export const STATUS_PORT_EXIT = 1;

/**
 * For an entry script, before anything touches ZooKeeper: when the status port is set and cannot
 * be listened on, prints one line (`zk-client: --status-port (STATUS_PORT): cannot listen on
 * 0.0.0.0:8080: the port is already in use`) and exits {@link STATUS_PORT_EXIT}.
 */
export function exitIfStatusPortTaken(
  program: string,
  port: number | undefined,
  hostname: string,
): void {
  if (port === undefined) return;
  const problem = statusPortProblem(port, hostname);
  if (problem !== undefined) exitWithLine(program, statusListenLine(port, hostname, problem));
}

/**
 * For an entry script's start-up: a port taken between {@link exitIfStatusPortTaken} and the
 * server's start (a race) gives the same one line and exit, not a stack trace; any other error
 * is thrown on.
 *
 * @example
 * ```ts
 * const app = await startClient(config).catch(exitOnListenFailure("zk-client", port, host));
 * ```
 */
export function exitOnListenFailure(
  program: string,
  port: number | undefined,
  hostname: string,
): (error: unknown) => never {
  return (error) => {
    if (
      !(error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable)
    ) {
      throw error;
    }
    exitWithLine(program, statusListenLine(port ?? 0, hostname, listenErrorReason(error)));
  };
}

function exitWithLine(program: string, line: string): never {
  printLines(Deno.stderr, [`${program}: ${line}`]);
  Deno.exit(STATUS_PORT_EXIT);
}
