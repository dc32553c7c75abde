/**
 * ClickHouse's RowBinary format, written from JS values: the insert format of the sink.
 * Binary because floats and 100-ns timestamps must arrive exactly (text formats go through
 * float parsing and date parsing), and because it is the cheapest format for ClickHouse to
 * read. Only the column types a pipeline needs are supported; others are refused up front.
 */

export type ValueEncoder = (w: RowWriter, value: unknown) => void;

const utf8 = new TextEncoder();

/** A growable byte buffer with little-endian writers. */
export class RowWriter {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;
  #strings = new Map<string, Uint8Array>();
  /** Growth doubles the buffer, but stops at this many bytes until the content is larger. */
  readonly limit: number;

  constructor(limit = Infinity) {
    this.limit = limit;
  }

  #room(n: number) {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    if (this.#pos + n <= this.limit) size = Math.min(size, this.limit);
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number) {
    this.#room(1);
    this.#buf[this.#pos++] = v;
  }
  int(bytes: 1 | 2 | 4, signed: boolean, v: number) {
    this.#room(bytes);
    if (bytes === 1) this.#view[signed ? "setInt8" : "setUint8"](this.#pos, v);
    else if (bytes === 2) this.#view[signed ? "setInt16" : "setUint16"](this.#pos, v, true);
    else this.#view[signed ? "setInt32" : "setUint32"](this.#pos, v, true);
    this.#pos += bytes;
  }
  i64(v: bigint, signed: boolean) {
    this.#room(8);
    this.#view[signed ? "setBigInt64" : "setBigUint64"](this.#pos, v, true);
    this.#pos += 8;
  }
  f64(v: number) {
    this.#room(8);
    this.#view.setFloat64(this.#pos, v, true);
    this.#pos += 8;
  }
  f32(v: number) {
    this.#room(4);
    this.#view.setFloat32(this.#pos, v, true);
    this.#pos += 4;
  }
  varint(n: number) {
    this.#room(10);
    while (n >= 0x80) {
      this.#buf[this.#pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.#buf[this.#pos++] = n;
  }
  /**
   * A string: its UTF-8 length, then its UTF-8 bytes, written in place (no copy per value).
   * `repeats` (LowCardinality columns: tag names) keeps the bytes of up to 10,000 distinct
   * short strings, copied instead of encoded again (twice as fast for a tag name); values
   * that rarely repeat are not kept, or the cache would hold a copy of every value.
   */
  string(s: string, repeats = false) {
    const cached = repeats && s.length <= 256 ? this.#strings.get(s) : undefined;
    if (cached || (repeats && s.length <= 256 && this.#strings.size < 10_000)) {
      const bytes = cached ?? utf8.encode(s);
      if (!cached) this.#strings.set(s, bytes);
      return this.#counted(bytes);
    }
    if (s.length * 3 >= 128) return this.#counted(utf8.encode(s));
    // At most 127 bytes: a one-byte length, then the bytes (ASCII directly, else encodeInto).
    this.#room(1 + s.length * 3);
    const start = this.#pos + 1;
    let n = 0;
    for (; n < s.length; n++) {
      const c = s.charCodeAt(n);
      if (c >= 0x80) break;
      this.#buf[start + n] = c;
    }
    if (n < s.length) n = utf8.encodeInto(s, this.#buf.subarray(start)).written;
    this.#buf[this.#pos] = n;
    this.#pos = start + n;
  }
  #counted(bytes: Uint8Array) {
    this.varint(bytes.length);
    this.#room(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }
  get length() {
    return this.#pos;
  }
  /** Bytes allocated. */
  get capacity() {
    return this.#buf.length;
  }
  /** Forgets what was written; the buffer stays for the next rows. */
  reset() {
    this.#pos = 0;
  }
  /** Forgets what was written after the first `length` bytes. */
  truncate(length: number) {
    this.#pos = Math.min(this.#pos, length);
  }
  /** The bytes written so far, without a copy: valid until the next write. */
  view(): Uint8Array<ArrayBuffer> {
    return this.#buf.subarray(0, this.#pos);
  }
  /** The bytes written so far; the writer starts over afterwards. */
  take(): Uint8Array<ArrayBuffer> {
    const out = this.#buf.slice(0, this.#pos);
    this.#pos = 0;
    return out;
  }
}

function num(v: unknown, type: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint" || typeof v === "boolean") return Number(v);
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  throw new TypeError(`Cannot write ${JSON.stringify(v)} as ${type}`);
}

function big(v: unknown, type: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  throw new TypeError(`Cannot write ${JSON.stringify(v)} as ${type}`);
}

const INTS: Record<string, [1 | 2 | 4, boolean]> = {
  Int8: [1, true],
  Int16: [2, true],
  Int32: [4, true],
  UInt8: [1, false],
  UInt16: [2, false],
  UInt32: [4, false],
};

/**
 * An encoder for a ClickHouse column type. DateTime64 values are 100-ns ticks (bigint), the
 * engine's own time type, rescaled to the column's precision.
 */
export function encoderFor(type: string, repeats = false): ValueEncoder {
  const t = type.replace(/\s+/g, "");
  let m: RegExpExecArray | null;
  if ((m = /^Nullable\((.+)\)$/.exec(t))) {
    const inner = encoderFor(m[1]!, repeats);
    return (w, v) => {
      if (v === null || v === undefined) return w.u8(1);
      w.u8(0);
      inner(w, v);
    };
  }
  if ((m = /^LowCardinality\((.+)\)$/.exec(t))) return encoderFor(m[1]!, true);
  if (t === "String") {
    return (w, v) => w.string(typeof v === "string" ? v : String(v ?? ""), repeats);
  }
  if (t === "Float64") return (w, v) => w.f64(num(v, type));
  if (t === "Float32") return (w, v) => w.f32(num(v, type));
  if (t === "Bool") return (w, v) => w.u8(v ? 1 : 0);
  if (INTS[t]) {
    const [bytes, signed] = INTS[t];
    return (w, v) => w.int(bytes, signed, num(v, type));
  }
  if (t === "Int64" || t === "UInt64") return (w, v) => w.i64(big(v, type), t === "Int64");
  if ((m = /^DateTime64\((\d)(?:,'[^']*')?\)$/.exec(t))) {
    const precision = Number(m[1]);
    if (precision === 7) return (w, v) => w.i64(big(v, type), true); // ticks as they are
    const scale = 10n ** BigInt(Math.abs(precision - 7));
    return (w, v) => {
      const ticks = big(v, type);
      w.i64(precision >= 7 ? ticks * scale : floorDiv(ticks, scale), true);
    };
  }
  if (/^DateTime(\('[^']*'\))?$/.test(t)) {
    return (w, v) => w.int(4, false, Number(floorDiv(big(v, type), 10_000_000n)));
  }
  throw new TypeError(`Column type ${type} is not supported by the sink's RowBinary writer`);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}
