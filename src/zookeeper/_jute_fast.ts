/**
 * Makes node-zookeeper-client's jute records cheap to build and to read. Measured with the monitor
 * reading 5,000 services (issue 7): the library spent about 45 µs per read allocating a fresh
 * zero-filled `Buffer` for every 64-bit field, twice (once when a record is made, again when it
 * is read), which also left a trail of tiny `ArrayBuffer`s for the garbage collector.
 *
 * The replacement keeps the library's record shapes and semantics: a 64-bit field is still an
 * 8-byte big-endian `Buffer`, but a record made without a value shares one zero `Buffer` (the
 * library never writes into a 64-bit field in place: it only reads them and replaces them
 * whole, checked in 1.1.3), and a value read off the wire is a pooled copy (`allocUnsafe`, filled
 * at once), not a zero-filled allocation followed by a copy.
 *
 * `_library.ts` hands the jute module in; nothing here imports the library.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** One field of a record, as the library's `specification.json` describes it. */
interface Attribute {
  name: string;
  type: string;
}

interface JuteRecordLike {
  specification: Attribute[];
  chrootPath?: string;
  [field: string]: unknown;
}

type RecordClass = {
  new (...args: unknown[]): JuteRecordLike;
  prototype: JuteRecordLike;
};

/** The parts of the jute module this touches. */
export interface JuteClasses {
  protocol: Record<string, RecordClass>;
  data: Record<string, RecordClass>;
}

/** A field's type, parsed once per record class. */
type FieldType =
  | { kind: "int" | "long" | "buffer" | "ustring" | "boolean" }
  | { kind: "vector"; item: FieldType }
  | { kind: "data"; className: string };

interface Field {
  name: string;
  type: FieldType;
}

/** The default of every 64-bit field of a record made without one (never written into). */
const ZERO_LONG = Buffer.alloc(8);

const patched = new WeakSet<object>();

/**
 * Replaces the record classes of `jute.protocol` and `jute.data` with equivalent, cheaper ones,
 * and the records' `deserialize` with one that parses each field type once. Idempotent.
 */
export function speedUpJute(jute: JuteClasses): void {
  if (patched.has(jute)) return;
  patched.add(jute);
  let recordPrototype: JuteRecordLike | undefined;
  for (const moduleName of ["protocol", "data"] as const) {
    const classes = jute[moduleName];
    for (const [className, Original] of Object.entries(classes)) {
      const specification = new Original().specification;
      const fields = parsedFields(specification);
      const Fast = function (this: JuteRecordLike, ...args: unknown[]) {
        this.specification = specification;
        this.chrootPath = undefined;
        for (let i = 0; i < fields.length; i++) {
          this[fields[i].name] = initialValue(fields[i].type, args[i], jute, recordPrototype!);
        }
      } as unknown as RecordClass;
      Fast.prototype = Original.prototype;
      classes[className] = Fast;
      recordPrototype ??= Object.getPrototypeOf(Original.prototype) as JuteRecordLike;
    }
  }
  if (recordPrototype === undefined) return;
  Object.defineProperty(recordPrototype, "deserialize", {
    configurable: true,
    writable: true,
    value: function deserialize(this: JuteRecordLike, buffer: Buffer, offset: number): number {
      if (!Buffer.isBuffer(buffer)) {
        throw new Error("buffer must an instance of Node.js Buffer class.");
      }
      if (offset < 0 || offset >= buffer.length) {
        throw new Error(`offset: ${offset} is out of buffer range.`);
      }
      const reader = { buffer, offset, jute };
      for (const field of parsedFields(this.specification)) {
        this[field.name] = readValue(field.type, reader);
        if (this.chrootPath && field.name === "path") {
          const path = this.path as string;
          this.path = path === this.chrootPath ? "/" : path.substring(this.chrootPath.length);
        }
      }
      return reader.offset - offset;
    },
  });
}

const parsedBySpecification = new WeakMap<Attribute[], Field[]>();

function parsedFields(specification: Attribute[]): Field[] {
  let fields = parsedBySpecification.get(specification);
  if (fields === undefined) {
    fields = parseSpecification(specification);
    parsedBySpecification.set(specification, fields);
  }
  return fields;
}

function parseSpecification(specification: Attribute[]): Field[] {
  return specification.map((attribute) => ({
    name: attribute.name,
    type: parseType(attribute.type),
  }));
}

function parseType(type: string): FieldType {
  switch (type) {
    case "int":
    case "long":
    case "buffer":
    case "ustring":
    case "boolean":
      return { kind: type };
  }
  const vector = /^vector<([\w.]+)>$/.exec(type);
  if (vector) return { kind: "vector", item: parseType(vector[1]) };
  const data = /^data\.(\w+)$/.exec(type);
  if (data) return { kind: "data", className: data[1] };
  throw new Error(`Unknown type: ${type}`);
}

/** What the library's `Record` constructor sets a field to, given the argument passed for it. */
function initialValue(
  type: FieldType,
  arg: unknown,
  jute: JuteClasses,
  recordPrototype: JuteRecordLike,
): unknown {
  switch (type.kind) {
    case "int":
      return typeof arg === "number" ? arg : 0;
    case "long": {
      if (!Buffer.isBuffer(arg)) return ZERO_LONG;
      const value = Buffer.alloc(8);
      arg.copy(value);
      return value;
    }
    case "buffer":
      return Buffer.isBuffer(arg) ? Buffer.from(arg) : undefined;
    case "ustring":
      return typeof arg === "string" ? arg : undefined;
    case "boolean":
      return typeof arg === "boolean" ? arg : false;
    case "vector":
      return Array.isArray(arg) ? arg : undefined;
    case "data":
      return typeof arg === "object" && arg !== null &&
          Object.prototype.isPrototypeOf.call(recordPrototype, arg)
        ? arg
        : new jute.data[type.className]();
  }
}

interface Reader {
  buffer: Buffer;
  offset: number;
  jute: JuteClasses;
}

/** Reads one value at `reader.offset` and moves it past; the library's `deserialize`, typed. */
function readValue(type: FieldType, reader: Reader): unknown {
  const { buffer } = reader;
  switch (type.kind) {
    case "int": {
      const value = buffer.readInt32BE(reader.offset);
      reader.offset += 4;
      return value;
    }
    case "long": {
      // A field cut short by a malformed packet stays zero-padded, as the library left it.
      const value = reader.offset + 8 <= buffer.length ? Buffer.allocUnsafe(8) : Buffer.alloc(8);
      buffer.copy(value, 0, reader.offset, reader.offset + 8);
      reader.offset += 8;
      return value;
    }
    case "buffer": {
      const length = buffer.readInt32BE(reader.offset);
      reader.offset += 4;
      if (length === -1) return undefined;
      const value = reader.offset + length <= buffer.length
        ? Buffer.allocUnsafe(length)
        : Buffer.alloc(length);
      buffer.copy(value, 0, reader.offset, reader.offset + length);
      reader.offset += length;
      return value;
    }
    case "ustring": {
      const length = buffer.readInt32BE(reader.offset);
      reader.offset += 4;
      if (length === -1) return undefined;
      const value = buffer.toString("utf8", reader.offset, reader.offset + length);
      reader.offset += length;
      return value;
    }
    case "boolean": {
      const value = buffer.readUInt8(reader.offset) === 1;
      reader.offset += 1;
      return value;
    }
    case "vector": {
      let length = buffer.readInt32BE(reader.offset);
      reader.offset += 4;
      if (length === -1) return undefined;
      const items: unknown[] = [];
      for (; length > 0; length--) items.push(readValue(type.item, reader));
      return items;
    }
    case "data": {
      const value = new reader.jute.data[type.className]() as JuteRecordLike & {
        deserialize(buffer: Buffer, offset: number): number;
      };
      reader.offset += value.deserialize(buffer, reader.offset);
      return value;
    }
  }
}
