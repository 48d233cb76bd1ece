/**
 * A bare HTTP/1.1 exchange over one TCP connection, for tests of servers that behave unlike
 * `fetch` expects (the deployed proxy answers once and closes): write the bytes, optionally shut
 * the write side, read until the server closes.
 *
 * @module
 */

/** What came back on one connection. */
export interface RawExchange {
  /** Everything the server sent, as text. */
  text: string;
  /** The status of the first answer; 0 when nothing came. */
  status: number;
  /** The first answer's header names, lowercased. */
  headerNames: string[];
  /** The first answer's body (after the blank line). */
  body: string;
}

/** A POST request's bytes: request line, Host, the given headers, Content-Length, the body. */
export function rawPost(
  path: string,
  body: string,
  headers: Record<string, string> = {},
): string {
  const length = new TextEncoder().encode(body).length;
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Content-Length: ${length}\r\n\r\n${body}`;
}

/**
 * Connects to 127.0.0.1:`port`, writes `request` (then, with `halfClose`, shuts the write side),
 * and reads until the server closes. With `then`, writes that too once the first bytes of the
 * answer came (a second request on the same connection), ignoring a failure to write it.
 */
export async function rawExchange(
  port: number,
  request: string,
  options: { halfClose?: boolean; then?: string } = {},
): Promise<RawExchange> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, new TextEncoder().encode(request));
    if (options.halfClose) await conn.closeWrite();
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        break; // reset: what came so far is the answer
      }
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
      if (options.then !== undefined && chunks.length === 1) {
        await writeAll(conn, new TextEncoder().encode(options.then)).catch(() => {});
      }
    }
    const text = new TextDecoder().decode(concat(chunks));
    const blank = text.indexOf("\r\n\r\n");
    const head = blank === -1 ? text : text.slice(0, blank);
    const [statusLine, ...headerLines] = head.split("\r\n");
    return {
      text,
      status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
      headerNames: headerLines.map((line) => line.slice(0, line.indexOf(":")).toLowerCase()),
      body: blank === -1 ? "" : text.slice(blank + 4),
    };
  } finally {
    conn.close();
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const total = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    total.set(chunk, offset);
    offset += chunk.length;
  }
  return total;
}
