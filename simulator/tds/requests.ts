/** Decoding what clients send: LOGIN7, SQL batches and RPC requests (sp_executesql). */
import { ByteReader } from "./_bytes.ts";
import { readTypedValue } from "./types.ts";
import type { Param } from "./types.ts";
import { TdsError } from "./server.ts";
import type { LoginInfo } from "./server.ts";

function skipAllHeaders(r: ByteReader) {
  const total = r.u32();
  r.pos += Math.max(0, total - 4);
}

export function parseBatch(data: Uint8Array): string {
  const r = new ByteReader(data);
  skipAllHeaders(r);
  return new TextDecoder("utf-16le").decode(r.rest());
}

export function parseRpc(data: Uint8Array): { sql: string; params: Param[]; rpc: true } {
  const r = new ByteReader(data);
  skipAllHeaders(r);
  const nameLen = r.u16();
  const proc = nameLen === 0xffff ? r.u16() : r.ucs2(nameLen);
  if (proc !== 10 && String(proc).toLowerCase() !== "sp_executesql") {
    throw new TdsError(2812, `Could not find stored procedure '${proc}'.`);
  }
  r.u16(); // option flags
  const values: Param[] = [];
  while (r.pos < r.buf.length) {
    const name = r.bVarchar();
    r.u8(); // status
    values.push({ name, value: readTypedValue(r) });
  }
  const [statement, declarations, ...params] = values;
  if (!statement || typeof statement.value !== "string") {
    throw new TdsError(8144, "Procedure sp_executesql expects parameter '@statement'.");
  }
  void declarations;
  return { sql: statement.value, params, rpc: true };
}

export function parseLogin7(data: Uint8Array): LoginInfo {
  const r = new ByteReader(data);
  const field = (offsetAt: number) => {
    r.pos = offsetAt;
    const offset = r.u16();
    const length = r.u16();
    return { offset, length };
  };
  const text = (offsetAt: number) => {
    const { offset, length } = field(offsetAt);
    r.pos = offset;
    return r.ucs2(length);
  };
  r.pos = 8;
  const packetSize = r.u32();
  const user = text(40);
  const pw = field(44);
  r.pos = pw.offset;
  const raw = r.bytes(pw.length * 2);
  const decoded = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]! ^ 0xa5;
    decoded[i] = ((b & 0x0f) << 4) | (b >> 4);
  }
  return {
    user,
    password: new TextDecoder("utf-16le").decode(decoded),
    appName: text(48),
    database: text(68),
    packetSize,
  };
}
