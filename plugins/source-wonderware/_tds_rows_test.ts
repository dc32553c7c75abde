/**
 * The row decoder against tedious's own token parser: the same bytes, split anywhere, give the
 * same values, and every other token reaches tedious intact.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import StreamParser from "tedious/lib/token/stream-parser.js";
import { ByteWriter } from "../../simulator/tds/_bytes.ts";
import { filter } from "./_tds_rows.ts";
import type { RowDecoder, RowValue } from "./_tds_rows.ts";

/** tedious's token parser (its default export is the class; the types say otherwise). */
const Parser = StreamParser as unknown as {
  parseTokens(chunks: Iterable<Buffer>, options: unknown): AsyncIterable<unknown>;
};
const OPTIONS = {
  tdsVersion: "7_4",
  useUTC: true,
  useColumnNames: false,
  camelCaseColumns: false,
  lowerCaseGuids: false,
  columnNameReplacer: undefined,
};

/** A column: TYPE_INFO bytes, and how to write a value (null: the type's NULL). */
interface Col {
  info: number[];
  write: (w: ByteWriter, v: unknown) => void;
  fixedNull?: boolean;
}
/** datetime2 of a scale: [days since 0001-01-01, time in units of the scale]. */
function datetime2(scale: number, timeBytes: number): Col {
  return {
    info: [0x2a, scale],
    write: (w, v) => {
      if (v === null) return void w.u8(0);
      const [days, time] = v as [number, number];
      w.u8(timeBytes + 3).uintN(BigInt(time), timeBytes).uintN(BigInt(days), 3);
    },
  };
}

const COLS: Record<string, Col> = {
  tinyint: { info: [0x26, 1], write: (w, v) => v === null ? w.u8(0) : w.u8(1).u8(v as number) },
  smallint: { info: [0x26, 2], write: (w, v) => v === null ? w.u8(0) : w.u8(2).i16(v as number) },
  int: { info: [0x26, 4], write: (w, v) => v === null ? w.u8(0) : w.u8(4).i32(v as number) },
  real: {
    info: [0x6d, 4],
    write: (w, v) => {
      if (v === null) return void w.u8(0);
      const b = new DataView(new ArrayBuffer(4));
      b.setFloat32(0, v as number, true);
      w.u8(4).bytes(new Uint8Array(b.buffer));
    },
  },
  float: { info: [0x6d, 8], write: (w, v) => v === null ? w.u8(0) : w.u8(8).f64(v as number) },
  bit: { info: [0x68, 1], write: (w, v) => v === null ? w.u8(0) : w.u8(1).u8(v ? 1 : 0) },
  int4: { info: [0x38], write: (w, v) => w.i32(v as number), fixedNull: true },
  int1: { info: [0x30], write: (w, v) => w.u8(v as number), fixedNull: true },
  flt8: { info: [0x3e], write: (w, v) => w.f64(v as number), fixedNull: true },
  datetime2_7: datetime2(7, 5),
  datetime2_3: datetime2(3, 4),
  datetime: {
    info: [0x6f, 8],
    write: (w, v) => {
      if (v === null) return void w.u8(0);
      const [days, t300] = v as [number, number];
      w.u8(8).i32(days).u32(t300);
    },
  },
  nvarchar: {
    info: [0xe7, 0x40, 0x00, 0x09, 0x04, 0xd0, 0x00, 0x34],
    write: (w, v) => v === null ? w.u16(0xffff) : w.u16((v as string).length * 2).ucs2(v as string),
  },
};

const ROWS: Record<string, unknown[]> = {
  tinyint: [0, 255, null],
  smallint: [-32768, 7, null],
  int: [-2147483648, 2147483647, null],
  real: [1.5, -0.1, null],
  float: [Math.PI, -1e300, null],
  bit: [true, false, null],
  int4: [42, -7, 0],
  int1: [3, 200, 0],
  flt8: [2.5, -0, 1e-300],
  datetime2_7: [[739_000, 863_999_999_999], [1, 0], null],
  datetime2_3: [[739_000, 86_399_999], [739_001, 1], null],
  datetime: [[45_000, 25_919_999], [-1, 1], null],
  nvarchar: ["Reactor_01.Temp ⌀ °C", "", null],
};

function stream(names: string[], nbc: boolean): Uint8Array {
  const w = new ByteWriter();
  w.u8(0x81).u16(names.length);
  for (const n of names) {
    w.u32(0).u16(0x0001).bytes(new Uint8Array(COLS[n]!.info));
    w.u8(n.length).ucs2(n);
  }
  // an INFO token between the metadata and the rows, as SQL Server may send
  const msg = "rows follow";
  const info = new ByteWriter();
  info.i32(5701).u8(1).u8(0).u16(msg.length).ucs2(msg).u8(0).u8(0).i32(1);
  const infoBytes = info.take();
  w.u8(0xab).u16(infoBytes.length).bytes(infoBytes);
  for (let r = 0; r < 3; r++) {
    const nulls = names.map((n) => ROWS[n]![r] === null && !COLS[n]!.fixedNull);
    if (nbc) {
      w.u8(0xd2);
      for (let i = 0; i < names.length; i += 8) {
        let byte = 0;
        for (let k = 0; k < 8 && i + k < names.length; k++) if (nulls[i + k]) byte |= 1 << k;
        w.u8(byte);
      }
    } else w.u8(0xd1);
    names.forEach((n, i) => {
      if (!(nbc && nulls[i])) COLS[n]!.write(w, ROWS[n]![r]);
    });
    w.u8(0xff).u16(0x11).u16(0xc1).u64(1n); // DONEINPROC after each row, count 1
  }
  w.u8(0xfd).u16(0x10).u16(0xc1).u64(3n);
  return w.take();
}

/** What tedious's parser makes of the bytes: rows as ticks/values, other tokens by name. */
async function tediousTokens(chunks: Uint8Array[]) {
  const rows: RowValue[][] = [];
  const others: string[] = [];
  for await (const t of Parser.parseTokens(chunks.map((c) => Buffer.from(c)), OPTIONS)) {
    const token = t as { name: string; columns?: { value: unknown }[] };
    if (token.name === "ROW" || token.name === "NBCROW") {
      rows.push(token.columns!.map(({ value }) => asValue(value)));
    } else others.push(JSON.stringify(token, (_k, v) => typeof v === "bigint" ? `${v}n` : v));
  }
  return { rows, others };
}

function asValue(v: unknown): RowValue {
  if (v instanceof Date) {
    const sub = Math.round(((v as { nanosecondsDelta?: number }).nanosecondsDelta ?? 0) * 1e7);
    return BigInt(v.getTime()) * 10_000n + BigInt(sub);
  }
  return v as RowValue;
}

async function* chunked(bytes: Uint8Array, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield Buffer.from(bytes.subarray(i, i + size));
}

for (const nbc of [false, true]) {
  Deno.test(`the decoder reads ${nbc ? "NBCROW" : "ROW"} tokens of every type as tedious does, split anywhere`, async () => {
    const names = Object.keys(COLS);
    const bytes = stream(names, nbc);
    const truth = await tediousTokens([bytes]);
    assert.equal(truth.rows.length, 3);
    for (const size of [1, 2, 3, 7, 13, 64, 1000, bytes.length]) {
      const rows: RowValue[][] = [];
      const state: RowDecoder = { rows: 0 };
      const forwarded: Uint8Array[] = [];
      for await (const c of filter(chunked(bytes, size), (v) => rows.push([...v]), state)) {
        forwarded.push(c);
      }
      assert.equal(state.passedOn, undefined);
      assert.equal(state.rows, 3, `chunks of ${size}`);
      assert.deepEqual(rows, truth.rows, `chunks of ${size}`);
      const rest = await tediousTokens(forwarded);
      assert.deepEqual(rest.rows, [], "no row reaches tedious");
      assert.deepEqual(rest.others, truth.others, `chunks of ${size}: the other tokens intact`);
    }
  });
}

Deno.test("a column type the decoder does not read passes the whole response to tedious", async () => {
  const bytes = stream(["int", "nvarchar"], false);
  // make the nvarchar an nvarchar(max): the decoder steps aside at the metadata
  const max = new Uint8Array(bytes);
  const at = max.indexOf(0xe7);
  max[at + 1] = 0xff;
  max[at + 2] = 0xff;
  const state: RowDecoder = { rows: 0 };
  const forwarded: Uint8Array[] = [];
  for await (const c of filter(chunked(max, 5), () => assert.fail("no row decoded"), state)) {
    forwarded.push(c);
  }
  assert.equal(state.passedOn, "nvarchar(max) columns");
  assert.deepEqual(Buffer.concat(forwarded), Buffer.from(max));
});
