/**
 * Whether the status server can listen where `STATUS_PORT`/`STATUS_HOST` say, asked before the
 * program touches ZooKeeper: a port already taken is then one line and exit 1, with nothing
 * registered, instead of an uncaught `AddrInUse` with a stack trace after registering.
 *
 * @module
 */

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
