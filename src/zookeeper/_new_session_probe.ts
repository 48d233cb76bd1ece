/**
 * Asks one server whether it would open a brand-new session. A server that hangs up on our
 * handshake either has not seen our last zxid (it lost its data) or cannot serve at all (no
 * quorum, starting, stopping); only the first accepts a new session, which tells them apart.
 *
 * @module
 */
import { PacketFramer } from "./_framing.ts";
import { decodeConnectResponse, encodeConnectRequest, encodeRequest, OpCode } from "./_records.ts";
import { closeQuietly, type DialOptions, type ZkDialer } from "./socket.ts";
import type { ZkServerAddress } from "./servers.ts";

/**
 * Whether `server` answers a handshake for a new session. The session is closed in the same
 * write, so it does not linger until its timeout. Any failure is `false`.
 */
export async function acceptsNewSession(
  dial: ZkDialer,
  server: ZkServerAddress,
  options: DialOptions & { sessionTimeoutMs: number },
): Promise<boolean> {
  let conn: Deno.Conn;
  try {
    conn = await dial(server, options);
  } catch {
    return false;
  }
  const timer = setTimeout(() => closeQuietly(conn), options.timeoutMs);
  try {
    const request = encodeConnectRequest({
      lastZxidSeen: 0n,
      timeoutMs: options.sessionTimeoutMs,
      sessionId: 0n,
      password: new Uint8Array(16),
      readOnly: false,
    });
    const close = encodeRequest(1, OpCode.closeSession);
    const both = new Uint8Array(request.length + close.length);
    both.set(request);
    both.set(close, request.length);
    await conn.write(both);
    const framer = new PacketFramer();
    const buffer = new Uint8Array(4096);
    let answer: Uint8Array | undefined;
    while (answer === undefined) {
      const read = await conn.read(buffer);
      if (read === null) return false;
      framer.push(buffer.subarray(0, read), (body) => answer ??= body.slice());
    }
    return decodeConnectResponse(answer).timeoutMs > 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
