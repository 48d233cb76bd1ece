/**
 * Jute, ZooKeeper's serialization: big-endian integers, length-prefixed buffers and strings (length
 * -1 for null), length-prefixed vectors. A writer that grows one buffer, and a reader that checks
 * every length against the bytes it actually has, so a hostile length never allocates anything.
 *
 * @module
 */

/** A packet that does not decode: truncated, a length out of range, an unknown code. */
export class ZkDecodeError extends Error {
  /** `message` says what did not decode, and where. */
  constructor(message: string) {
    super(message);
    this.name = "ZkDecodeError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Appends jute fields to a growing buffer; {@link finish} returns the bytes written. */
export class JuteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialSize = 256) {
    this.#bytes = new Uint8Array(initialSize);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  int(value: number): this {
    this.#reserve(4);
    this.#view.setInt32(this.#length, value);
    this.#length += 4;
    return this;
  }

  long(value: bigint): this {
    this.#reserve(8);
    this.#view.setBigInt64(this.#length, BigInt.asIntN(64, value));
    this.#length += 8;
    return this;
  }

  bool(value: boolean): this {
    this.#reserve(1);
    this.#bytes[this.#length++] = value ? 1 : 0;
    return this;
  }

  /** A buffer; `null` is written as length -1. */
  buffer(value: Uint8Array | null): this {
    if (value === null) return this.int(-1);
    this.int(value.length);
    this.#reserve(value.length);
    this.#bytes.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  string(value: string | null): this {
    if (value === null) return this.int(-1);
    // At most 3 bytes per UTF-16 unit: reserve once, encode in place, then write the length.
    this.#reserve(4 + value.length * 3);
    const { written } = encoder.encodeInto(value, this.#bytes.subarray(this.#length + 4));
    this.#view.setInt32(this.#length, written);
    this.#length += 4 + written;
    return this;
  }

  strings(values: readonly string[]): this {
    this.int(values.length);
    for (const value of values) this.string(value);
    return this;
  }

  /** Overwrites an int at `offset` (a length known only at the end). */
  intAt(offset: number, value: number): this {
    this.#view.setInt32(offset, value);
    return this;
  }

  /** The bytes written, as a view of the writer's buffer. */
  finish(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  #reserve(count: number): void {
    const needed = this.#length + count;
    if (needed <= this.#bytes.length) return;
    let size = this.#bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** Reads jute fields from a packet; any read past its end throws {@link ZkDecodeError}. */
export class JuteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  int(): number {
    this.#need(4, "int");
    const value = this.#view.getInt32(this.#offset);
    this.#offset += 4;
    return value;
  }

  long(): bigint {
    this.#need(8, "long");
    const value = this.#view.getBigInt64(this.#offset);
    this.#offset += 8;
    return value;
  }

  bool(): boolean {
    this.#need(1, "boolean");
    return this.#bytes[this.#offset++] !== 0;
  }

  /** A buffer, copied (so the packet it came in can be freed); `null` for length -1. */
  buffer(): Uint8Array | null {
    const length = this.#length("buffer");
    if (length < 0) return null;
    const value = this.#bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  string(): string | null {
    const length = this.#length("string");
    if (length < 0) return null;
    const value = decoder.decode(this.#bytes.subarray(this.#offset, this.#offset + length));
    this.#offset += length;
    return value;
  }

  /** A vector of strings; a null vector reads as empty, null entries are refused. */
  strings(): string[] {
    const count = this.int();
    if (count < 0) return [];
    // Each entry takes at least its 4-byte length: a count the packet cannot hold is a lie.
    if (count > this.remaining / 4) throw new ZkDecodeError(`vector of ${count} strings too long`);
    const values = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const value = this.string();
      if (value === null) throw new ZkDecodeError("null string in a vector");
      values[i] = value;
    }
    return values;
  }

  #length(what: string): number {
    const length = this.int();
    if (length < -1) throw new ZkDecodeError(`${what} length ${length}`);
    if (length > this.remaining) {
      throw new ZkDecodeError(`${what} length ${length} beyond the ${this.remaining} bytes left`);
    }
    return length;
  }

  #need(count: number, what: string): void {
    if (this.#offset + count > this.#bytes.length) {
      throw new ZkDecodeError(`packet ends inside a ${what} at byte ${this.#offset}`);
    }
  }
}
