/**
 * SQL Server data types on the wire: TYPE_INFO and values of result columns (what the
 * simulator sends) and of RPC parameters (what clients send).
 *
 * Times are naive `datetime2` values held as 100-ns ticks since 1970-01-01 in whatever zone the
 * query speaks (`SqlTime`); the wire format counts days since 0001-01-01.
 */
import { ByteReader, ByteWriter } from "./_bytes.ts";

/** A datetime2 value without a zone: 100-ns ticks since 1970-01-01 00:00 of its own clock. */
export class SqlTime {
  constructor(readonly ticks: bigint) {}
  toString() {
    const ms = this.ticks / 10_000n - (this.ticks % 10_000n < 0n ? 1n : 0n);
    const sub = this.ticks - ms * 10_000n;
    const iso = new Date(Number(ms)).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${sub.toString().padStart(4, "0")}`;
  }
}

export type SqlValue = null | number | bigint | string | boolean | SqlTime;

export type ColumnType =
  | "tinyint"
  | "smallint"
  | "int"
  | "bigint"
  | "float"
  | "bit"
  | "nvarchar"
  | "datetime2";

export interface Column {
  name: string;
  type: ColumnType;
  /** nvarchar: maximum length in characters (≤ 4000). */
  length?: number;
}

/** SQL_Latin1_General_CP1_CI_AS, the collation the simulator announces. */
export const COLLATION = new Uint8Array([0x09, 0x04, 0xd0, 0x00, 0x34]);

const INT_SIZE: Record<string, number> = { tinyint: 1, smallint: 2, int: 4, bigint: 8 };
const TICKS_PER_DAY = 864_000_000_000n;
/** Days from 0001-01-01 to 1970-01-01. */
const EPOCH_DAYS = 719_162n;

export function writeColumnMetadata(w: ByteWriter, columns: readonly Column[]) {
  w.u8(0x81).u16(columns.length);
  for (const c of columns) {
    w.u32(0).u16(0x0001); // UserType 0; flags: nullable, read-only
    switch (c.type) {
      case "tinyint":
      case "smallint":
      case "int":
      case "bigint":
        w.u8(0x26).u8(INT_SIZE[c.type]!);
        break;
      case "float":
        w.u8(0x6d).u8(8);
        break;
      case "bit":
        w.u8(0x68).u8(1);
        break;
      case "nvarchar":
        w.u8(0xe7).u16(Math.min(4000, Math.max(1, c.length ?? 4000)) * 2).bytes(COLLATION);
        break;
      case "datetime2":
        w.u8(0x2a).u8(7);
        break;
    }
    w.bVarchar(c.name);
  }
}

/** One ROW token; values must suit their column's type (null is always allowed). */
export function writeRow(w: ByteWriter, columns: readonly Column[], values: readonly SqlValue[]) {
  w.u8(0xd1);
  for (let i = 0; i < columns.length; i++) writeValue(w, columns[i]!, values[i] ?? null);
}

function writeValue(w: ByteWriter, c: Column, v: SqlValue) {
  switch (c.type) {
    case "tinyint":
    case "smallint":
    case "int":
    case "bigint": {
      if (v === null) return void w.u8(0);
      const size = INT_SIZE[c.type]!;
      w.u8(size);
      if (size === 8) w.i64(BigInt(v as number));
      else if (size === 4) w.i32(Number(v));
      else if (size === 2) w.i16(Number(v));
      else w.u8(Number(v));
      return;
    }
    case "float":
      if (v === null) return void w.u8(0);
      return void w.u8(8).f64(Number(v));
    case "bit":
      if (v === null) return void w.u8(0);
      return void w.u8(1).u8(v ? 1 : 0);
    case "nvarchar": {
      if (v === null) return void w.u16(0xffff);
      const s = v instanceof SqlTime ? v.toString() : String(v);
      const max = Math.min(4000, c.length ?? 4000);
      const text = s.length > max ? s.slice(0, max) : s;
      return void w.u16(text.length * 2).ucs2(text);
    }
    case "datetime2": {
      if (v === null) return void w.u8(0);
      const ticks = (v as SqlTime).ticks;
      let days = ticks / TICKS_PER_DAY;
      let time = ticks % TICKS_PER_DAY;
      if (time < 0n) {
        time += TICKS_PER_DAY;
        days -= 1n;
      }
      return void w.u8(8).uintN(time, 5).uintN(days + EPOCH_DAYS, 3);
    }
  }
}

/** A parameter of an RPC call: name, declared type family and decoded value. */
export interface Param {
  name: string;
  value: SqlValue;
}

/** Reads TYPE_INFO and the value that follows it, as in RPC parameters. */
export function readTypedValue(r: ByteReader): SqlValue {
  const type = r.u8();
  switch (type) {
    case 0x26: { // INTN
      r.u8();
      const len = r.u8();
      if (len === 0) return null;
      if (len === 1) return r.u8();
      if (len === 2) return r.i16();
      if (len === 4) return r.i32();
      const big = r.i64();
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    case 0x6d: { // FLTN
      r.u8();
      const len = r.u8();
      if (len === 0) return null;
      return len === 4 ? r.f32() : r.f64();
    }
    case 0x68: { // BITN
      r.u8();
      const len = r.u8();
      return len === 0 ? null : r.u8() !== 0;
    }
    case 0xe7: // NVARCHAR
    case 0xa7: { // VARCHAR
      const max = r.u16();
      r.bytes(5);
      const data = max === 0xffff ? readPlp(r) : readShortLen(r);
      if (data === null) return null;
      return type === 0xe7
        ? new TextDecoder("utf-16le").decode(data)
        : new TextDecoder("windows-1252").decode(data);
    }
    case 0x6f: { // DATETIMN
      r.u8();
      const len = r.u8();
      if (len === 0) return null;
      if (len === 4) {
        const days = r.u16();
        const minutes = r.u16();
        return new SqlTime(
          (BigInt(days) - 25_567n) * TICKS_PER_DAY + BigInt(minutes) * 600_000_000n,
        );
      }
      const days = r.i32();
      const fractions = r.u32(); // 1/300 s
      const ms = Math.round(fractions * 10 / 3);
      return new SqlTime((BigInt(days) - 25_567n) * TICKS_PER_DAY + BigInt(ms) * 10_000n);
    }
    case 0x2a: // DATETIME2N
    case 0x2b: { // DATETIMEOFFSETN (UTC instant; the offset is dropped)
      const scale = r.u8();
      const len = r.u8();
      if (len === 0) return null;
      const timeBytes = scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
      const time = r.uintN(timeBytes) * 10n ** BigInt(7 - scale);
      const days = r.uintN(3);
      if (type === 0x2b) r.i16();
      return new SqlTime((days - EPOCH_DAYS) * TICKS_PER_DAY + time);
    }
    case 0x28: { // DATEN
      const len = r.u8();
      if (len === 0) return null;
      return new SqlTime((r.uintN(3) - EPOCH_DAYS) * TICKS_PER_DAY);
    }
    case 0x6a:
    case 0x6c: { // DECIMALN / NUMERICN
      r.u8();
      r.u8();
      const scale = r.u8();
      const len = r.u8();
      if (len === 0) return null;
      const sign = r.u8() === 1 ? 1 : -1;
      const magnitude = r.uintN(len - 1);
      return sign * Number(magnitude) / 10 ** scale;
    }
    default:
      throw new TdsTypeError(type);
  }
}

export class TdsTypeError extends Error {
  constructor(readonly type: number) {
    super(`The simulator does not accept parameters of TDS type 0x${type.toString(16)}`);
  }
}

function readShortLen(r: ByteReader): Uint8Array | null {
  const len = r.u16();
  return len === 0xffff ? null : r.bytes(len);
}

function readPlp(r: ByteReader): Uint8Array | null {
  const total = r.u64();
  if (total === 0xffffffffffffffffn) return null;
  const parts: Uint8Array[] = [];
  for (let len = r.u32(); len !== 0; len = r.u32()) parts.push(r.bytes(len));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
