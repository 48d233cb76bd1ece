/**
 * Cuts a server's byte stream into packets (4-byte big-endian length, then the body). The
 * announced length is checked before anything is kept, and nothing is allocated for it: bytes
 * are only ever held once they have arrived.
 *
 * @module
 */
import { ZkDecodeError } from "./_jute.ts";

/**
 * The largest packet accepted. ZooKeeper refuses requests over `jute.maxbuffer` (0xFFFFF) but does
 * not bound its replies by it: a listing of many children can be larger, so a margin of 1 MiB.
 */
export const MAX_PACKET_BYTES = 0xFFFFF + 1024 * 1024;

/** Feeds on chunks of a stream; hands out each whole packet body, in order. */
export class PacketFramer {
  readonly #maxBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** The body length of the packet being assembled, once its 4 length bytes are in. */
  #expected = -1;

  constructor(maxBytes = MAX_PACKET_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes held for an incomplete packet. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Feeds a chunk (the caller may reuse it afterwards: what is kept is copied); calls `onPacket`
   * with every body it completes, a view valid only during the call. Throws
   * {@link ZkDecodeError} for a length out of range.
   */
  push(chunk: Uint8Array, onPacket: (body: Uint8Array) => void): void {
    if (chunk.length === 0) return;
    let data = chunk;
    if (this.#buffered > 0) {
      this.#chunks.push(chunk.slice());
      this.#buffered += chunk.length;
      if (this.#expected < 0 && this.#buffered >= 4) this.#expected = this.#readLength();
      if (this.#expected < 0 || this.#buffered < 4 + this.#expected) return;
      data = this.#takeAll();
    }
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = checkedLength(
        new DataView(data.buffer, data.byteOffset + offset, 4).getInt32(0),
        this.#maxBytes,
      );
      if (data.length - offset < 4 + length) break;
      onPacket(data.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    if (offset < data.length) {
      // Keep only the incomplete rest, copied, so the chunk it came in can be freed.
      const rest = data.slice(offset);
      this.#chunks = [rest];
      this.#buffered = rest.length;
      this.#expected = rest.length >= 4 ? this.#readLength() : -1;
    }
  }

  #readLength(): number {
    const head = this.#chunks.length === 1 ? this.#chunks[0] : this.#takeAll(4);
    return checkedLength(new DataView(head.buffer, head.byteOffset, 4).getInt32(0), this.#maxBytes);
  }

  /** All buffered bytes in one array (or just the first `atLeast`, leaving the rest as is). */
  #takeAll(atLeast?: number): Uint8Array {
    const all = new Uint8Array(this.#buffered);
    let offset = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    if (atLeast !== undefined) {
      this.#chunks = [all];
      return all;
    }
    this.#chunks = [];
    this.#buffered = 0;
    this.#expected = -1;
    return all;
  }
}

function checkedLength(length: number, maxBytes: number): number {
  if (length < 0 || length > maxBytes) {
    throw new ZkDecodeError(`packet length ${length} out of range (0 to ${maxBytes})`);
  }
  return length;
}
