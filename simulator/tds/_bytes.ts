/** Little-endian byte building and reading for the TDS protocol (UCS-2 strings included). */

export class ByteWriter {
  buf: Uint8Array<ArrayBuffer>;
  view: DataView;
  pos = 0;

  constructor(size = 4096) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  room(n: number) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.room(1);
    this.buf[this.pos++] = v;
    return this;
  }
  u16(v: number) {
    this.room(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }
  u16be(v: number) {
    this.room(2);
    this.view.setUint16(this.pos, v, false);
    this.pos += 2;
    return this;
  }
  i16(v: number) {
    this.room(2);
    this.view.setInt16(this.pos, v, true);
    this.pos += 2;
    return this;
  }
  u32(v: number) {
    this.room(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  u32be(v: number) {
    this.room(4);
    this.view.setUint32(this.pos, v, false);
    this.pos += 4;
    return this;
  }
  i32(v: number) {
    this.room(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  i64(v: bigint) {
    this.room(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
    return this;
  }
  u64(v: bigint) {
    this.room(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
    return this;
  }
  f64(v: number) {
    this.room(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
    return this;
  }
  /** Unsigned little-endian integer of `bytes` bytes (up to 5 for DATETIME2 times). */
  uintN(v: bigint | number, bytes: number) {
    this.room(bytes);
    let n = BigInt(v);
    for (let i = 0; i < bytes; i++) {
      this.buf[this.pos++] = Number(n & 0xffn);
      n >>= 8n;
    }
    return this;
  }
  bytes(b: Uint8Array) {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** UCS-2LE code units of `s` (no length prefix). */
  ucs2(s: string) {
    this.room(s.length * 2);
    for (let i = 0; i < s.length; i++) {
      this.view.setUint16(this.pos, s.charCodeAt(i), true);
      this.pos += 2;
    }
    return this;
  }
  /** B_VARCHAR: u8 character count + UCS-2. */
  bVarchar(s: string) {
    return this.u8(s.length).ucs2(s);
  }
  /** US_VARCHAR: u16 character count + UCS-2. */
  usVarchar(s: string) {
    return this.u16(s.length).ucs2(s);
  }
  /** Writes a u16 at an earlier position (for lengths known only afterwards). */
  patchU16(at: number, v: number) {
    this.view.setUint16(at, v, true);
  }
  take(): Uint8Array<ArrayBuffer> {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}

export class ByteReader {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number) {
    if (this.pos + n > this.buf.length) throw new RangeError("unexpected end of a TDS message");
  }
  u8() {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16() {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u16be() {
    this.need(2);
    const v = this.view.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }
  i16() {
    this.need(2);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32() {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32() {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i64() {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64() {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  f32() {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64() {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  uintN(bytes: number): bigint {
    this.need(bytes);
    let v = 0n;
    for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.buf[this.pos + i]!);
    this.pos += bytes;
    return v;
  }
  bytes(n: number) {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  ucs2(chars: number) {
    return new TextDecoder("utf-16le").decode(this.bytes(chars * 2));
  }
  bVarchar() {
    return this.ucs2(this.u8());
  }
  rest() {
    return this.bytes(this.buf.length - this.pos);
  }
}
