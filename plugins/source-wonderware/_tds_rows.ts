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
 * Token layouts are those of TDS 7.2 and later (SQL Server 2005 on, which every supported
 * Historian needs): 4-byte UserType in column metadata, 8-byte row counts in DONE tokens.
 *
 * It hooks two internals of the pinned versions (mssql's `_setCurrentRequest`, tedious's
 * `createTokenStreamParser`); were either to change, nothing is decoded here and the driver
 * reads the rows (tests pin that the decoder is used).
 */
import { Buffer } from "node:buffer";
import tedious from "tedious";
import type sql from "mssql";
import { readColumns, readRow } from "./_tds_values.ts";
import type { Column, RowValue } from "./_tds_values.ts";

export type { RowValue } from "./_tds_values.ts";

/** What one request's rows went to, and whether the decoder stepped aside. */
export interface RowDecoder {
  /** Rows decoded here (the rest, if any, went to the driver). */
  rows: number;
  /** Why the decoder passed the stream to the driver, if it did. */
  passedOn?: string;
}

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
