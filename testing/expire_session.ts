/**
 * Ends a ZooKeeper session from outside its client, as the ZooKeeper FAQ describes: a second
 * connection with the same session id and password closes the session. The original client then
 * sees it expired on its next contact with the server.
 *
 * Speaks just enough of ZooKeeper's wire protocol (jute, big-endian, each frame prefixed by its
 * int32 length) to do that, and to open or probe a session without a client library.
 *
 * @module
 */

import { writeAll } from "../src/dev/_loopback.ts";

/** ZooKeeper's op code for closeSession. */
const CLOSE_SESSION_OP = -11;
const CLOSE_SESSION_XID = 1;
/**
 * Each attempt can lose a race against the session's own client reconnecting (see
 * closeSessionOnce). Measured: a real client that reconnects when dropped never won (16 of 16
 * first attempts closed the session); a client re-attaching the session in a tight loop won about
 * 60% of attempts, hence a margin that costs nothing, as an attempt takes about a millisecond.
 */
const CLOSE_ATTEMPTS = 20;
/** Bounds the whole exchange, and so every read: a local server answers in milliseconds. */
const ANSWER_TIMEOUT_MS = 5_000;

/**
 * Forces the session `sessionId` to end: connects to `hostPort` as that session (id + password)
 * and closes it. Returns without doing anything when the server no longer knows the session.
 *
 * @param hostPort one server, `host:port`
 * @param sessionTimeoutMs the timeout to ask for (the server clamps it to its min/max)
 * @throws {Error} when the server refuses the close, or, in 20 attempts running, the session's own
 *   client takes the session back before the close or the server does not answer within 5 s
 *
 * @example
 * ```ts
 * await expireSession(zk.connectionString, session.sessionId, session.password, 4000);
 * ```
 */
export async function expireSession(
  hostPort: string,
  sessionId: bigint,
  password: Uint8Array,
  sessionTimeoutMs: number,
): Promise<void> {
  for (let attempt = 1; attempt <= CLOSE_ATTEMPTS; attempt++) {
    const outcome = await withConnection(
      hostPort,
      (conn) => closeSessionOnce(conn, sessionId, password, sessionTimeoutMs),
    ).catch((error) => {
      // Seen once in a full parallel suite, with the session's own client re-attaching in a
      // loop: the connection that lost the session was neither answered nor closed. Another
      // attempt, on a new connection, settles it; a server that never answers still fails after
      // CLOSE_ATTEMPTS.
      if (error instanceof NoAnswerError) return "no answer" as const;
      throw error;
    });
    if (outcome === "closed" || outcome === "already gone") return;
  }
  throw new Error(
    `could not close session 0x${sessionId.toString(16)} at ${hostPort} in ${CLOSE_ATTEMPTS} ` +
      `attempts: its client kept taking the session back, or the server did not answer`,
  );
}

/**
 * Connects as the session and closes it, in a single write.
 *
 * Connecting as the session makes the server drop the session's current connection, so its
 * client reconnects at once, and that in turn makes the server drop ours. If the client wins
 * before our close request is read, the session lives on and we must try again. Sending the
 * close together with the connect request leaves that race as small a window as possible: the
 * server reads the close as soon as it has attached the session to our connection.
 */
async function closeSessionOnce(
  conn: Deno.Conn,
  sessionId: bigint,
  password: Uint8Array,
  sessionTimeoutMs: number,
): Promise<"closed" | "already gone" | "connection taken over"> {
  await writeAll(
    conn,
    concat(connectRequest(sessionId, password, sessionTimeoutMs), closeRequest()),
  );
  let reply: DataView;
  try {
    const handshake = readConnectResponse(await readFrame(conn));
    // The server hangs up right after refusing an expired session, so check before reading on.
    if (handshake.timeoutMs <= 0) return "already gone";
    reply = new DataView((await readFrame(conn)).buffer);
  } catch (error) {
    if (error instanceof ConnectionClosedError) return "connection taken over";
    throw error;
  }
  const [xid, err] = [reply.getInt32(0), reply.getInt32(12)];
  if (xid !== CLOSE_SESSION_XID || err !== 0) {
    const session = `0x${sessionId.toString(16)}`;
    throw new Error(`closeSession of ${session}: reply xid ${xid}, error ${err}`);
  }
  return "closed";
}

/** What the server answered to a ConnectRequest. */
export interface RawSession {
  /** The session's id (the one asked for, or a new one when `0n` was asked for). */
  sessionId: bigint;
  /** The session's password, needed to connect as the session again. */
  password: Uint8Array;
  /** The negotiated session timeout; 0 when the server does not know (any more) the session. */
  timeoutMs: number;
}

/**
 * Handshakes with `hostPort` as session `sessionId` (`0n`: a new session) and hangs up without
 * closing the session, which then lives on until its timeout. Lets tests create a session, or ask
 * whether one is still alive (`timeoutMs > 0`), without a ZooKeeper client.
 */
export function connectRawSession(
  hostPort: string,
  sessionId = 0n,
  password: Uint8Array = new Uint8Array(16),
  sessionTimeoutMs = 4_000,
): Promise<RawSession> {
  return withConnection(
    hostPort,
    (conn) => connectAs(conn, sessionId, password, sessionTimeoutMs),
  );
}

/** Runs `exchange` on a new connection that is closed afterwards, or when 5 s have passed. */
async function withConnection<T>(
  hostPort: string,
  exchange: (conn: Deno.Conn) => Promise<T>,
): Promise<T> {
  const conn = await Deno.connect(parseHostPort(hostPort));
  let timedOut = false;
  // Closing the connection settles whichever read is pending, so no operation outlives the call.
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ANSWER_TIMEOUT_MS);
  try {
    return await exchange(conn);
  } catch (error) {
    if (!timedOut) throw error;
    throw new NoAnswerError(
      `ZooKeeper at ${hostPort} did not answer within ${ANSWER_TIMEOUT_MS} ms`,
    );
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
}

/** Sends a ConnectRequest and reads the ConnectResponse. */
async function connectAs(
  conn: Deno.Conn,
  sessionId: bigint,
  password: Uint8Array,
  timeoutMs: number,
): Promise<RawSession> {
  await writeAll(conn, connectRequest(sessionId, password, timeoutMs));
  return readConnectResponse(await readFrame(conn));
}

/** ConnectResponse: protocolVersion, timeOut, sessionId, passwd, (readOnly). */
function readConnectResponse(response: Uint8Array): RawSession {
  const view = new DataView(response.buffer);
  const passwordLength = view.getInt32(16);
  return {
    // A negotiated timeout of 0 is the server's way of saying the session has expired.
    timeoutMs: view.getInt32(4),
    sessionId: BigInt.asUintN(64, view.getBigInt64(8)),
    password: response.slice(20, 20 + Math.max(passwordLength, 0)),
  };
}

function parseHostPort(hostPort: string): { hostname: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(hostPort);
  if (!match) throw new Error(`expected host:port, got ${JSON.stringify(hostPort)}`);
  return { hostname: match[1].replace(/^\[(.*)\]$/, "$1"), port: Number(match[2]) };
}

/** ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly. */
function connectRequest(sessionId: bigint, password: Uint8Array, timeoutMs: number): Uint8Array {
  const frame = new Uint8Array(4 + 4 + 8 + 4 + 8 + 4 + password.length + 1);
  const view = new DataView(frame.buffer);
  view.setInt32(0, frame.length - 4);
  view.setInt32(4, 0); // protocolVersion
  view.setBigInt64(8, 0n); // lastZxidSeen
  view.setInt32(16, timeoutMs);
  view.setBigInt64(20, BigInt.asIntN(64, sessionId));
  view.setInt32(28, password.length);
  frame.set(password, 32);
  view.setUint8(32 + password.length, 0); // readOnly = false
  return frame;
}

/** A request that is only a RequestHeader: xid, type = closeSession. */
function closeRequest(): Uint8Array {
  const frame = new Uint8Array(4 + 4 + 4);
  const view = new DataView(frame.buffer);
  view.setInt32(0, 8);
  view.setInt32(4, CLOSE_SESSION_XID);
  view.setInt32(8, CLOSE_SESSION_OP);
  return frame;
}

/** Reads one length-prefixed frame and returns its body. */
async function readFrame(conn: Deno.Conn): Promise<Uint8Array> {
  const length = new DataView((await readExactly(conn, 4)).buffer).getInt32(0);
  if (length < 0 || length > 1 << 20) throw new Error(`implausible frame length ${length}`);
  return readExactly(conn, length);
}

/** A connection the server neither answered nor closed within ANSWER_TIMEOUT_MS. */
class NoAnswerError extends Error {
  override name = "NoAnswerError";
}

/** The server closed (or reset) the connection before a whole frame arrived. */
class ConnectionClosedError extends Error {
  override name = "ConnectionClosedError";
}

async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    let read: number | null;
    try {
      read = await conn.read(bytes.subarray(filled));
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
      read = null;
    }
    if (read === null) {
      throw new ConnectionClosedError(`connection closed after ${filled} of ${length} bytes`);
    }
    filled += read;
  }
  return bytes;
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(first.length + second.length);
  bytes.set(first);
  bytes.set(second, first.length);
  return bytes;
}
