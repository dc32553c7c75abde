/**
 * History rows decoded straight from the TDS token stream, beside the driver.
 *
 * tedious decodes each value of each row into an object (`{ value, metadata }`, after a
 * `{ value, offset }` of its own) and mssql copies them into a row again: 2.5 s of CPU per
 * million History rows, most of the reader's time and most of its garbage. Here the response's
 * ROW and NBCROW tokens are decoded where they lie in the packets, into one reused array of
 * plain values (datetime2 as the engine's 100-ns ticks, a bigint); every other token (column
 * metadata, DONE, errors, environment changes) goes on to tedious, which keeps the protocol:
 * login, TLS, errors, cancellation, pause and resume. A response whose columns include a type
 * this decoder does not read (nvarchar(max), sql_variant, decimal…) passes through untouched
 * from that point, and its rows reach the driver's `row` event as before.
 *
 * It hooks two internals of the pinned versions (mssql's `_setCurrentRequest`, tedious's
 * `createTokenStreamParser`); were either to change, nothing is decoded here and the driver
 * reads the rows (tests pin that the decoder is used).
 */
import { Buffer } from "node:buffer";
import tedious from "tedious";
import type sql from "mssql";

/** A decoded value: ints, floats, strings, booleans, datetime/datetime2 as ticks, NULL. */
export type RowValue = number | string | boolean | bigint | null;

/** What one request's rows went to, and whether the decoder stepped aside. */
export interface RowDecoder {
  /** Rows decoded here (the rest, if any, went to the driver). */
  rows: number;
  /** Why the decoder passed the stream to the driver, if it did. */
  passedOn?: string;
}

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

interface Column {
  kind: Kind;
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
const EMPTY = Buffer.alloc(0);

/** The token types whose length follows as a USHORT, and those of fixed length. */
const USHORT_LEN = new Set([0xaa, 0xab, 0xe3, 0xa9, 0xa4, 0xa5, 0xad, 0xed]);
const FIXED_LEN = new Map([[0xfd, 12], [0xfe, 12], [0xff, 12], [0x79, 4]]);

const decoders = new WeakMap<object, (message: AsyncIterable<Buffer>) => AsyncIterable<Buffer>>();
let hooked = false;

/**
 * Decodes the rows of `request`'s response into `onRow` (the array is reused: read it, do not
 * keep it) instead of its `row` events.
 */
export function decodeRows(
  request: sql.Request,
  onRow: (values: RowValue[]) => void,
): RowDecoder {
  hook();
  const state: RowDecoder = { rows: 0 };
  const r = request as unknown as { _setCurrentRequest?: (req: object) => void };
  const set = r._setCurrentRequest;
  if (typeof set !== "function") return state;
  r._setCurrentRequest = function (req: object) {
    decoders.set(req, (message) => filter(message, onRow, state));
    return set.call(this, req);
  };
  return state;
}

function hook() {
  if (hooked) return;
  hooked = true;
  const proto = tedious.Connection.prototype as unknown as {
    createTokenStreamParser?: (message: unknown, handler: unknown) => unknown;
  };
  const create = proto.createTokenStreamParser;
  if (typeof create !== "function") return;
  proto.createTokenStreamParser = function (
    this: { request?: object },
    message: unknown,
    handler: unknown,
  ) {
    const wrap = this.request && decoders.get(this.request);
    if (wrap) {
      decoders.delete(this.request!);
      message = wrap(message as AsyncIterable<Buffer>);
    }
    return create.call(this, message, handler);
  };
}

/** The message's bytes minus its rows, which go to onRow (exported for its tests). */
export async function* filter(
  message: AsyncIterable<Buffer>,
  onRow: (values: RowValue[]) => void,
  state: RowDecoder,
): AsyncIterable<Buffer> {
  let columns: Column[] | undefined;
  let values: RowValue[] = [];
  /**
   * Tokens of `b` from `from` (one only if `once`): rows to onRow, the other tokens' bytes to
   * `out`. Returns where it stopped: the end, an incomplete token's start, or (passedOn set) the
   * start of the token handed on to the driver.
   */
  const parse = (b: Buffer, from: number, once: boolean, out: Buffer[]): number => {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let p = from;
    let forward = from; // start of the bytes not yet forwarded or dropped
    while (p < b.length) {
      const type = b[p]!;
      let end: number;
      if ((type === 0xd1 || type === 0xd2) && columns) {
        end = readRow(b, view, p, columns, values, type === 0xd2);
        if (end < 0) break;
        if (p > forward) out.push(b.subarray(forward, p));
        forward = end;
        state.rows++;
        onRow(values);
      } else if (type === 0x81) {
        const meta = readColumns(b, view, p);
        if (meta === undefined) break;
        if (typeof meta === "string") {
          state.passedOn = meta;
          break;
        }
        [end, columns] = meta;
        values = new Array(columns.length).fill(null);
      } else {
        end = tokenEnd(b, p);
        if (end === -2) {
          state.passedOn = `token 0x${type.toString(16)}`;
          break;
        }
        if (end < 0) break;
      }
      p = end;
      if (once) break;
    }
    if (p > forward) out.push(b.subarray(forward, p));
    return p;
  };
  // The start of a token the previous packet ended in the middle of.
  let carry: Buffer | undefined;
  // Iterated by hand: leaving a for-await early would destroy tedious's message stream.
  const iterator = message[Symbol.asyncIterator]();
  while (true) {
    const next = await iterator.next();
    if (next.done) break;
    const b: Buffer = next.value;
    if (state.passedOn !== undefined) {
      yield b;
      continue;
    }
    const out: Buffer[] = [];
    let p = 0;
    if (carry) {
      // Only the token across the boundary is copied, with as much of this packet as it needs.
      let take = Math.min(b.length, 4096);
      while (true) {
        const joined = Buffer.concat([carry, b.subarray(0, take)]);
        const end = parse(joined, 0, true, out);
        if (state.passedOn !== undefined) {
          out.push(joined.subarray(end), b.subarray(take));
          p = b.length;
          carry = undefined;
        } else if (end > 0) {
          p = end - carry.length;
          carry = undefined;
        } else if (take === b.length) {
          carry = joined;
          p = b.length;
        } else {
          take = Math.min(b.length, take * 4);
          continue;
        }
        break;
      }
    }
    if (p < b.length) {
      const stop = parse(b, p, false, out);
      if (state.passedOn !== undefined) out.push(b.subarray(stop));
      else if (stop < b.length) carry = b.subarray(stop);
    }
    // At least one (maybe empty) chunk a packet, so tedious can pause between packets.
    if (out.length === 0) yield EMPTY;
    for (const chunk of out) yield chunk;
  }
  if (carry) yield carry; // an incomplete token at the end: tedious reports it
}

/** The end of a token that is neither COLMETADATA nor a row; -1 if incomplete, -2 unknown. */
function tokenEnd(b: Buffer, p: number): number {
  const type = b[p]!;
  const fixed = FIXED_LEN.get(type);
  if (fixed !== undefined) return p + 1 + fixed <= b.length ? p + 1 + fixed : -1;
  if (USHORT_LEN.has(type)) {
    if (p + 3 > b.length) return -1;
    const end = p + 3 + (b[p + 1]! | b[p + 2]! << 8);
    return end <= b.length ? end : -1;
  }
  return -2;
}

/**
 * COLMETADATA at p: its end and columns; undefined if incomplete; a reason (string) if it
 * holds a type this decoder does not read.
 */
function readColumns(
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
    columns.push({ kind, unit, day: -1, dayTicks: 0n, part: -1, ticks: 0n });
  }
  return [q, columns];
}

/** A ROW (or NBCROW) token at p into `values`; its end, or -1 if incomplete. */
function readRow(
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
        const len = c.kind === "int1" || c.kind === "bit"
          ? 1
          : c.kind === "int2"
          ? 2
          : c.kind === "int4" || c.kind === "flt4"
          ? 4
          : 8;
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
