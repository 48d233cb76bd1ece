/**
 * The answers of one HTTP/1.1 connection, parsed from the bytes it reads: status line and head
 * (the last head's bytes are remembered, since a proxy sends the same one over and over), bodies
 * by length, chunked or to the end of the stream, interim answers skipped, everything bounded.
 * Private to `http1_pool.ts`, whose connection feeds it and says how the connection stands.
 *
 * @module
 */
import {
  concat,
  CR,
  CRLF,
  describe,
  Http1Error,
  Http1NoAnswerError,
  indexOfBlankLine,
  latin1,
  LF,
  parseResponseHead,
  type ResponseHead,
  startsWith,
  utf8,
} from "./_http1_wire.ts";

const MAX_HEAD_BYTES = 64 * 1024;

/** One answer as the pool hands it on. */
export interface ParsedAnswer {
  status: number;
  body: string;
  keepAlive: boolean;
}

/** How the connection under a reader stands, asked while it waits for bytes. */
export interface ConnectionView {
  /** Closed by us. */
  readonly closed: boolean;
  /** The server ended the stream (or it broke: {@link endCause}). */
  readonly ended: boolean;
  readonly endCause: unknown;
  /** The connection has not answered yet and carries one request. */
  readonly onlyFirstRequest: boolean;
}

/** Parses the answers of one connection from the bytes appended to it. */
export class AnswerReader {
  readonly #view: ConnectionView;
  #buffer = new Uint8Array(4096);
  #length = 0;
  #lastHeadBytes: Uint8Array = new Uint8Array(0);
  #lastHead: ResponseHead | undefined;
  #wake: (() => void) | undefined;

  constructor(view: ConnectionView) {
    this.#view = view;
  }

  /** Bytes read and not yet consumed. */
  get buffered(): number {
    return this.#length;
  }

  /** The connection's state changed (bytes, an end, a close): a waiting read looks again. */
  wake(): void {
    this.#wake?.();
  }

  /** Reads one complete answer, skipping interim (1xx) ones. */
  async read(maxBodyBytes: number): Promise<ParsedAnswer> {
    for (;;) {
      const head = await this.#readHead();
      if (head.status === 101) throw new Http1Error("the server switched protocols", true);
      if (head.status >= 100 && head.status < 200) continue;
      const { body, complete } = head.status === 204 || head.status === 304
        ? { body: new Uint8Array(0), complete: true }
        : head.chunked
        ? await this.#readChunked(maxBodyBytes)
        : head.contentLength !== undefined
        ? await this.#readLength(head.contentLength, maxBodyBytes)
        : await this.#readToEnd(maxBodyBytes);
      return {
        status: head.status,
        body: utf8(body),
        // An answer delimited by the end of the connection is never complete (`#readToEnd`).
        keepAlive: complete && head.keepAlive,
      };
    }
  }

  /** Bytes read from the connection. */
  append(bytes: Uint8Array): void {
    if (this.#length + bytes.length > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + bytes.length));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Removes and returns the first `n` buffered bytes. */
  #consume(n: number): Uint8Array {
    const taken = this.#buffer.slice(0, n);
    this.#drop(n);
    return taken;
  }

  /** Removes the first `n` buffered bytes. */
  #drop(n: number): void {
    this.#buffer.copyWithin(0, n, this.#length);
    this.#length -= n;
  }

  /** Waits until more bytes arrive; throws when the connection ends first. */
  async #more(what: string): Promise<void> {
    const before = this.#length;
    while (this.#length === before) {
      if (this.#view.closed) {
        throw new Http1Error(`connection closed while waiting for ${what}`, true);
      }
      if (this.#view.ended) {
        // A fresh connection, one request, a clean close without a byte: the server read nothing
        // (the deployed proxy after 10 ms idle) or went down (and forgot): nothing applied.
        if (
          this.#view.endCause === undefined && this.#length === 0 && this.#view.onlyFirstRequest
        ) {
          throw new Http1NoAnswerError();
        }
        const cause = this.#view.endCause === undefined ? "" : `: ${describe(this.#view.endCause)}`;
        throw new Http1Error(`the server closed the connection before ${what}${cause}`, true);
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  /**
   * Parses the head in the first `length` buffered bytes and consumes them. A proxy sends the
   * same head over and over: the bytes of the last one parsed are kept, and a head equal to them
   * is not decoded and parsed again.
   */
  #takeHead(length: number): ResponseHead | string {
    const last = this.#lastHeadBytes;
    if (this.#lastHead !== undefined && last.length === length && startsWith(this.#buffer, last)) {
      this.#drop(length);
      return this.#lastHead;
    }
    const bytes = this.#consume(length);
    const head = parseResponseHead(latin1(bytes));
    if (typeof head !== "string") {
      this.#lastHeadBytes = bytes;
      this.#lastHead = head;
    }
    return head;
  }

  async #readHead(): Promise<ResponseHead> {
    let searchFrom = 0;
    for (;;) {
      const end = indexOfBlankLine(this.#buffer, searchFrom, this.#length);
      if (end !== -1) {
        const head = this.#takeHead(end + 4);
        if (typeof head === "string") throw new Http1Error(`malformed answer: ${head}`, true);
        return head;
      }
      if (this.#length > MAX_HEAD_BYTES) {
        throw new Http1Error(`malformed answer: a head over ${MAX_HEAD_BYTES} bytes`, true);
      }
      searchFrom = Math.max(0, this.#length - 3);
      await this.#more(this.#length === 0 ? "any answer" : "the end of the answer's head");
    }
  }

  async #readLength(
    length: number,
    maxBodyBytes: number,
  ): Promise<{ body: Uint8Array; complete: boolean }> {
    const wanted = Math.min(length, maxBodyBytes);
    while (this.#length < wanted) await this.#more("the end of the answer");
    return { body: this.#consume(wanted), complete: wanted === length };
  }

  async #readToEnd(maxBodyBytes: number): Promise<{ body: Uint8Array; complete: boolean }> {
    // Only a clean end of the stream completes such an answer: an abort, a close of ours or a
    // broken connection leaves it cut short, which must not pass for the whole answer.
    while (this.#length < maxBodyBytes) {
      if (this.#view.closed) {
        throw new Http1Error("connection closed while waiting for the end of the answer", true);
      }
      if (this.#view.ended) {
        if (this.#view.endCause === undefined) break;
        throw new Http1Error(
          `the connection broke before the end of the answer: ${describe(this.#view.endCause)}`,
          true,
        );
      }
      await this.#more("the end of the answer").catch(() => {});
    }
    return { body: this.#consume(Math.min(this.#length, maxBodyBytes)), complete: false };
  }

  async #readChunked(maxBodyBytes: number): Promise<{ body: Uint8Array; complete: boolean }> {
    const parts: Uint8Array[] = [];
    let kept = 0;
    for (;;) {
      const line = await this.#readLine("a chunk size");
      const size = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/.exec(line);
      if (!size) throw new Http1Error(`malformed answer: chunk size ${JSON.stringify(line)}`, true);
      const length = parseInt(size[1], 16);
      if (length === 0) break;
      if (kept + length > maxBodyBytes) {
        const room = maxBodyBytes - kept;
        while (this.#length < room) await this.#more("the end of a chunk");
        parts.push(this.#consume(room));
        return { body: concat(parts), complete: false };
      }
      while (this.#length < length + 2) await this.#more("the end of a chunk");
      parts.push(this.#consume(length));
      kept += length;
      if (this.#consume(2).some((byte, i) => byte !== CRLF[i])) {
        throw new Http1Error("malformed answer: a chunk not followed by CRLF", true);
      }
    }
    while ((await this.#readLine("the trailer")) !== "") {
      // trailers are not used
    }
    return { body: concat(parts), complete: true };
  }

  async #readLine(what: string): Promise<string> {
    for (;;) {
      const end = this.#buffer.subarray(0, this.#length).indexOf(LF);
      if (end > 0 && this.#buffer[end - 1] === CR) {
        return latin1(this.#consume(end + 1).subarray(0, end - 1));
      }
      if (end !== -1) throw new Http1Error(`malformed answer: a bare LF in ${what}`, true);
      if (this.#length > MAX_HEAD_BYTES) throw new Http1Error(`malformed answer: ${what}`, true);
      await this.#more(what);
    }
  }
}
