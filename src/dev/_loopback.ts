/**
 * Picks `count` distinct free TCP ports on 127.0.0.1.
 *
 * All listeners are held open until every port is known, so the ports of one call never collide
 * with each other. Another process may still take a port before the caller binds it; callers that
 * can retry (a fresh server start) do.
 */
export function reserveFreePorts(count: number): number[] {
  const listeners: Deno.TcpListener[] = [];
  try {
    for (let i = 0; i < count; i++) {
      listeners.push(Deno.listen({ hostname: "127.0.0.1", port: 0 }));
    }
    return listeners.map((listener) => listener.addr.port);
  } finally {
    for (const listener of listeners) listener.close();
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
