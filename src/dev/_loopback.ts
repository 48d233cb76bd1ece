/**
 * Where {@link reserveFreePorts} looks: from here up to the kernel's ephemeral range. Below it:
 * the well-known and registered ports that servers on this machine are configured with.
 */
const LOWEST_RESERVED_PORT = 10_000;
/** Linux's default ephemeral range starts here (read from /proc where it can be). */
const DEFAULT_EPHEMERAL_LOW = 32_768;
/** Random tries before giving up on a range that is (nearly) all taken. */
const RESERVE_TRIES = 1_000;

/**
 * Picks `count` distinct free TCP ports on 127.0.0.1, for a server that binds them later (a JVM,
 * seconds later).
 *
 * They are picked at random below the kernel's ephemeral range (`ip_local_port_range`), from
 * which the kernel takes the local port of every outgoing connection and of every listen on port
 * 0: a port from that range could be handed to any connection made in between on this machine,
 * also one of the server's own (an ensemble member's connection to another member's election
 * port). Below it, only another caller that picks a port itself can take one first.
 *
 * All listeners are held open until every port is known, so the ports of one call never collide
 * with each other. Callers that can retry a start on a port taken meanwhile (a fresh server) do.
 *
 * @param random the source of the picks (default `Math.random`)
 */
export function reserveFreePorts(count: number, random: () => number = Math.random): number[] {
  const high = ephemeralLow() - 1;
  const listeners: Deno.TcpListener[] = [];
  try {
    for (let tries = 0; listeners.length < count; tries++) {
      if (high <= LOWEST_RESERVED_PORT || tries === RESERVE_TRIES) {
        // No room below the ephemeral range: let the kernel pick, as before.
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
        continue;
      }
      const port = LOWEST_RESERVED_PORT + Math.floor(random() * (high - LOWEST_RESERVED_PORT + 1));
      try {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port }));
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
      }
    }
    return listeners.map((listener) => listener.addr.port);
  } finally {
    for (const listener of listeners) listener.close();
  }
}

/** The first port of the kernel's ephemeral range (Linux's default where /proc cannot say). */
function ephemeralLow(): number {
  try {
    const text = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range");
    const low = Number(text.trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

/**
 * Sends a ZooKeeper four-letter word (`srvr`, `ruok`, `mntr`, ...) to a server on 127.0.0.1 and
 * returns its whole answer (the server closes the connection after answering).
 *
 * The timeout bounds the write and every read: on expiry the connection is closed, which also
 * settles the pending read, so no operation outlives the call.
 */
export async function sendFourLetterWord(
  port: number,
  command: string,
  timeoutMs: number,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  try {
    await writeAll(conn, new TextEncoder().encode(command));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(4096);
    let answer = "";
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) return answer + decoder.decode();
      answer += decoder.decode(buffer.subarray(0, read), { stream: true });
    }
  } catch (error) {
    if (!timedOut) throw error;
    throw new Error(
      `ZooKeeper at 127.0.0.1:${port} did not answer "${command}" within ${timeoutMs} ms`,
    );
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
}

/** Writes every byte of `bytes` (a single `write` may accept only part of them). */
export async function writeAll(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}

/** Resolves after `ms` milliseconds; used only between polls of a condition that has a deadline. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
