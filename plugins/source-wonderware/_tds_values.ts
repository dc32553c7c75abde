/**
 * TDS column metadata and row values (MS-TDS 2.2.5.5, 2.2.7.4, 2.2.7.17–19), read where they lie
 * in a packet buffer into plain values: what _tds_rows.ts decodes History rows with.
 */
import type { Buffer } from "node:buffer";

/** A decoded value: ints, floats, strings, booleans, datetime/datetime2 as ticks, NULL. */
export type RowValue = number | string | boolean | bigint | null;

type Kind =
  | "intn"
  | "int1"
  | "int2"
  | "int4"
  | "bitn"
  | "bit"
  | "fltn"
  | "flt4"
  | "flt8"
  | "datetime2n"
  | "datetimen"
  | "datetime"
  | "nvar";

/** The fixed-length types' value sizes. */
const FIXED_SIZE: Partial<Record<Kind, number>> = {
  int1: 1,
  bit: 1,
  int2: 2,
  int4: 4,
  flt4: 4,
  flt8: 8,
  datetime: 8,
};

export interface Column {
  kind: Kind;
  /** Bytes of a value of a fixed-length type (int1 … flt8, datetime); 0 for the others. */
  size: number;
  /** datetime2: ticks per unit of its scale. */
  unit: number;
  /** datetime/datetime2: the last day seen, its ticks, and the last value (rows share times). */
  day: number;
  dayTicks: bigint;
  part: number;
  ticks: bigint;
}

const TICKS_PER_DAY = 864_000_000_000n;
/** Days from 0001-01-01 (datetime2) and from 1900-01-01 (datetime) to 1970-01-01. */
const UNIX_DAY_2 = 719_162;
const UNIX_DAY_1 = 25_567;
/**
 * COLMETADATA at p: its end and columns; undefined if incomplete; a reason (string) if it
 * holds a type this decoder does not read.
 */
export function readColumns(
  b: Buffer,
  view: DataView,
  p: number,
): [number, Column[]] | string | undefined {
  if (p + 3 > b.length) return undefined;
  const count = view.getUint16(p + 1, true);
  if (count === 0xffff) return [p + 3, []];
  const columns: Column[] = [];
  let q = p + 3;
  for (let i = 0; i < count; i++) {
    if (q + 7 > b.length) return undefined;
    const type = b[q + 6]!; // after UserType (4) and Flags (2)
    q += 7;
    let kind: Kind;
    let unit = 1;
    switch (type) {
      case 0x26: // INTN
      case 0x68: // BITN
      case 0x6d: // FLTN
      case 0x6f: { // DATETIMN
        if (q + 1 > b.length) return undefined;
        const len = b[q++]!;
        if (type === 0x26 && len === 8) return "bigint columns";
        kind = type === 0x26
          ? "intn"
          : type === 0x68
          ? "bitn"
          : type === 0x6d
          ? "fltn"
          : "datetimen";
        break;
      }
      case 0x2a: { // DATETIME2N
        if (q + 1 > b.length) return undefined;
        const scale = b[q++]!;
        if (scale > 7) return `datetime2 of scale ${scale}`;
        kind = "datetime2n";
        unit = 10 ** (7 - scale);
        break;
      }
      case 0xe7: // NVARCHAR
      case 0xef: { // NCHAR
        if (q + 7 > b.length) return undefined;
        if (view.getUint16(q, true) === 0xffff) return "nvarchar(max) columns";
        q += 7; // max length, collation
        kind = "nvar";
        break;
      }
      case 0x30:
        kind = "int1";
        break;
      case 0x34:
        kind = "int2";
        break;
      case 0x38:
        kind = "int4";
        break;
      case 0x32:
        kind = "bit";
        break;
      case 0x3b:
        kind = "flt4";
        break;
      case 0x3e:
        kind = "flt8";
        break;
      case 0x3d:
        kind = "datetime";
        break;
      default:
        return `columns of TDS type 0x${type.toString(16)}`;
    }
    if (q + 1 > b.length) return undefined;
    q += 1 + b[q]! * 2; // ColName: B_VARCHAR
    if (q > b.length) return undefined;
    const size = FIXED_SIZE[kind] ?? 0;
    columns.push({ kind, size, unit, day: -1, dayTicks: 0n, part: -1, ticks: 0n });
  }
  return [q, columns];
}

/** A ROW (or NBCROW) token at p into `values`; its end, or -1 if incomplete. */
export function readRow(
  b: Buffer,
  view: DataView,
  p: number,
  columns: Column[],
  values: RowValue[],
  nbc: boolean,
): number {
  const n = b.length;
  let q = p + 1;
  const bitmap = q;
  if (nbc) q += (columns.length + 7) >> 3;
  for (let i = 0; i < columns.length; i++) {
    if (nbc && (b[bitmap + (i >> 3)]! & (1 << (i & 7)))) {
      values[i] = null;
      continue;
    }
    const c = columns[i]!;
    switch (c.kind) {
      case "intn":
      case "bitn":
      case "fltn":
      case "datetimen":
      case "datetime2n": {
        if (q >= n) return -1;
        const len = b[q++]!;
        if (q + len > n) return -1;
        values[i] = len === 0 ? null : fixed(c, view, q, len);
        q += len;
        break;
      }
      case "nvar": {
        if (q + 2 > n) return -1;
        const len = view.getUint16(q, true);
        q += 2;
        if (len === 0xffff) {
          values[i] = null;
          break;
        }
        if (q + len > n) return -1;
        values[i] = b.toString("utf16le", q, q + len);
        q += len;
        break;
      }
      default: {
        const len = c.size;
        if (q + len > n) return -1;
        values[i] = fixed(c, view, q, len);
        q += len;
      }
    }
  }
  return q;
}

/** A value of `len` bytes at q. */
function fixed(c: Column, view: DataView, q: number, len: number): RowValue {
  switch (c.kind) {
    case "intn":
    case "int1":
    case "int2":
    case "int4":
      return len === 1
        ? view.getUint8(q)
        : len === 2
        ? view.getInt16(q, true)
        : view.getInt32(q, true);
    case "bitn":
    case "bit":
      return view.getUint8(q) !== 0;
    case "fltn":
    case "flt4":
    case "flt8":
      return len === 4 ? view.getFloat32(q, true) : view.getFloat64(q, true);
    case "datetime2n": {
      // time in units of the scale (len − 3 bytes), then days since 0001-01-01 (3 bytes)
      let time = 0;
      for (let k = len - 4; k >= 0; k--) time = time * 256 + view.getUint8(q + k);
      const at = q + len - 3;
      const day = view.getUint8(at) | view.getUint8(at + 1) << 8 | view.getUint8(at + 2) << 16;
      return ticks(c, day - UNIX_DAY_2, time * c.unit);
    }
    default: {
      // datetime: days since 1900-01-01 and 1/300 s (smalldatetime: days and minutes), rounded
      // to the millisecond as the driver rounds it
      if (len === 4) {
        const day = view.getUint16(q, true) - UNIX_DAY_1;
        return ticks(c, day, view.getUint16(q + 2, true) * 600_000_000);
      }
      const day = view.getInt32(q, true) - UNIX_DAY_1;
      return ticks(c, day, Math.round(view.getUint32(q + 4, true) * 10 / 3) * 10_000);
    }
  }
}

/** Ticks since 1970 of a day and a time in it, without a bigint for a time just seen. */
function ticks(c: Column, day: number, part: number): bigint {
  if (day === c.day) {
    if (part === c.part) return c.ticks;
  } else {
    c.day = day;
    c.dayTicks = BigInt(day) * TICKS_PER_DAY;
  }
  c.part = part;
  return c.ticks = c.dayTicks + BigInt(part);
}
