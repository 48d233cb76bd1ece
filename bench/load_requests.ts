/**
 * The receiver's own ceiling: a list of updates sent by a plain fetch loop, `concurrency` at a
 * time over keep-alive HTTP/1.1 connections, with the bodies the monitor sends (rendered by the
 * same `renderUpdate`). No queue, no ZooKeeper: what the receiver can absorb from one client.
 *
 * @module
 */
import { renderUpdate } from "../src/asabru/wire.ts";
import { refOfKey, type SentUpdate } from "./tree_layout.ts";

/** How a load run went. */
export interface LoadResult {
  /** From the first request to the last answer read. */
  elapsedMs: number;
  /** Requests that failed or were not answered `{"status":"ok"}`. */
  failed: number;
  /** Requests not sent because the time budget ran out. */
  skipped: number;
}

/**
 * Sends `updates` to `url` in order, `concurrency` at a time, stopping (and counting the rest as
 * skipped) after `budgetMs`.
 */
export async function loadRequests(
  url: string,
  updates: readonly SentUpdate[],
  concurrency: number,
  budgetMs: number,
): Promise<LoadResult> {
  const bodies = updates.map((update) => renderUpdate(update.op, refOfKey(update.key)));
  const count = bodies.length;
  const client = Deno.createHttpClient({ http2: false });
  const headers = { "Content-Type": "application/xml" };
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const body = bodies[next++];
      try {
        const response = await fetch(url, { method: "POST", headers, body, client });
        const text = await response.text();
        if (!response.ok || !text.includes('"ok"')) failed++;
      } catch {
        failed++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    client.close();
  }
  return { elapsedMs: performance.now() - started, failed, skipped: count - next };
}

/**
 * The same load over plain keep-alive HTTP/1.1 connections (`Deno.connect`, one request per
 * write, the answer read up to its Content-Length): what the receiver absorbs when the client
 * costs next to nothing. The gap to {@link loadRequests} is what `fetch` itself costs.
 */
export async function loadRequestsRaw(
  url: string,
  updates: readonly SentUpdate[],
  concurrency: number,
  budgetMs: number,
): Promise<LoadResult> {
  const target = new URL(url);
  const requests = encodeRequests(target, updates);
  const count = requests.length;
  const connections: Deno.TcpConn[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  try {
    await openConnections(target, Math.min(concurrency, count), connections);
    await Promise.all(connections.map(async (connection) => {
      const reader = new AnswerReader(connection);
      while (next < count && performance.now() < deadline) {
        const request = requests[next++];
        await writeAll(connection, request);
        const answer = await reader.next();
        if (answer.status !== 200 || !answer.body.includes('"ok"')) failed++;
      }
    }));
  } finally {
    for (const connection of connections) connection.close();
  }
  return { elapsedMs: performance.now() - started, failed, skipped: count - next };
}

/**
 * The same load pipelined (RFC 9112, 9.3.2): `connections` kept-alive connections with `depth`
 * requests outstanding on each; after every read, the answers that arrived are counted and as many
 * new requests go out in one write. What the receiver absorbs when a client packs its requests
 * the way the monitor's own HTTP client does beyond its connections (same total in flight).
 */
export async function loadRequestsPipelined(
  url: string,
  updates: readonly SentUpdate[],
  connectionCount: number,
  depth: number,
  budgetMs: number,
): Promise<LoadResult> {
  const target = new URL(url);
  const requests = encodeRequests(target, updates);
  const count = requests.length;
  const connections: Deno.TcpConn[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  try {
    await openConnections(target, Math.min(connectionCount, count), connections);
    await Promise.all(connections.map(async (connection) => {
      const reader = new AnswerReader(connection);
      let outstanding = 0;
      for (;;) {
        const batch: Uint8Array[] = [];
        while (outstanding + batch.length < depth && next < count && performance.now() < deadline) {
          batch.push(requests[next++]);
        }
        if (batch.length > 0) {
          const bytes = new Uint8Array(batch.reduce((sum, request) => sum + request.length, 0));
          let offset = 0;
          for (const request of batch) {
            bytes.set(request, offset);
            offset += request.length;
          }
          await writeAll(connection, bytes);
          outstanding += batch.length;
        }
        if (outstanding === 0) break;
        let answer: { status: number; body: string } | undefined = await reader.next();
        for (; answer; answer = reader.buffered()) {
          outstanding--;
          if (answer.status !== 200 || !answer.body.includes('"ok"')) failed++;
        }
      }
    }));
  } finally {
    for (const connection of connections) connection.close();
  }
  return { elapsedMs: performance.now() - started, failed, skipped: count - next };
}

/** Opens `n` keep-alive connections (Nagle off) to `target` into `into` (closed by the caller). */
async function openConnections(target: URL, n: number, into: Deno.TcpConn[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const connection = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
    connection.setNoDelay(true);
    into.push(connection);
  }
}

async function writeAll(connection: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await connection.write(bytes.subarray(written));
}

function encodeRequests(target: URL, updates: readonly SentUpdate[]): Uint8Array[] {
  const encoder = new TextEncoder();
  return updates.map((update) => {
    const body = encoder.encode(renderUpdate(update.op, refOfKey(update.key)));
    const head = encoder.encode(
      `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n` +
        `Content-Type: application/xml\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const request = new Uint8Array(head.length + body.length);
    request.set(head);
    request.set(body, head.length);
    return request;
  });
}

/** Reads HTTP/1.1 answers with a Content-Length, one after another, from one connection. */
class AnswerReader {
  readonly #connection: Deno.TcpConn;
  readonly #decoder = new TextDecoder();
  #buffered = "";

  constructor(connection: Deno.TcpConn) {
    this.#connection = connection;
  }

  /** The next answer, read from the connection if it is not buffered yet. */
  async next(): Promise<{ status: number; body: string }> {
    const chunk = new Uint8Array(4096);
    for (;;) {
      const answer = this.buffered();
      if (answer) return answer;
      const read = await this.#connection.read(chunk);
      if (read === null) throw new Error("the receiver closed the connection");
      this.#buffered += this.#decoder.decode(chunk.subarray(0, read), { stream: true });
    }
  }

  /** The next answer if it has arrived whole already. */
  buffered(): { status: number; body: string } | undefined {
    const end = this.#buffered.indexOf("\r\n\r\n");
    if (end === -1) return undefined;
    const head = this.#buffered.slice(0, end);
    const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    // The answers are ASCII, so characters and bytes count alike.
    if (this.#buffered.length < end + 4 + length) return undefined;
    const body = this.#buffered.slice(end + 4, end + 4 + length);
    this.#buffered = this.#buffered.slice(end + 4 + length);
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body };
  }
}
