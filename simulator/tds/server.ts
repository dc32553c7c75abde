/**
 * A TDS 7.4 server on a loopback TCP port: PRELOGIN (encryption not supported), LOGIN7, SQL
 * batches, RPC sp_executesql with typed parameters, streamed result sets split into packets of
 * the negotiated size and written with backpressure, and attention (cancel) answered the way
 * tedious needs it. It knows nothing about the Historian: a `TdsHandler` answers logins and
 * requests with result events.
 */
import { ByteReader, ByteWriter } from "./_bytes.ts";
import { COLLATION, readTypedValue, TdsTypeError, writeColumnMetadata, writeRow } from "./types.ts";
import type { Column, Param, SqlValue } from "./types.ts";

export interface LoginInfo {
  user: string;
  password: string;
  database: string;
  appName: string;
  packetSize: number;
}

export interface TdsRequest {
  sql: string;
  params: Param[];
  /** True for RPC (sp_executesql), false for a SQL batch. */
  rpc: boolean;
}

/** What a handler yields: a result set's columns, its rows, and the end of the result set. */
export type ResultEvent = { columns: Column[] } | { row: SqlValue[] } | { done: number };

export interface TdsHandler {
  /** Throw a TdsError to refuse the login. */
  login(info: LoginInfo): Promise<void> | void;
  execute(request: TdsRequest, session: LoginInfo, signal: AbortSignal): AsyncIterable<ResultEvent>;
}

/** A SQL Server error: number, severity class and state, as the client will see them. */
export class TdsError extends Error {
  constructor(
    readonly number: number,
    message: string,
    readonly severity = 16,
    readonly state = 1,
  ) {
    super(message);
    this.name = "TdsError";
  }
}

/** Thrown by a handler to cut the connection abruptly (a simulated network failure). */
export class DropConnection extends Error {
  constructor() {
    super("connection dropped on purpose");
  }
}

const TYPE = {
  BATCH: 0x01,
  RPC: 0x03,
  REPLY: 0x04,
  ATTENTION: 0x06,
  LOGIN7: 0x10,
  PRELOGIN: 0x12,
} as const;
const STATUS_EOM = 0x01;
const STATUS_IGNORE = 0x02;
const DONE_MORE = 0x01;
const DONE_ERROR = 0x02;
const DONE_COUNT = 0x10;
const DONE_ATTN = 0x20;

export interface TdsServer {
  port: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
  /** Cuts every open connection, keeping the listener. */
  dropConnections(): void;
  connections(): number;
}

export function serveTds(
  options: { hostname?: string; port?: number; handler: TdsHandler; serverName?: string },
): TdsServer {
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
  });
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  (async () => {
    for await (const conn of listener) {
      open.add(conn);
      const task = handleConnection(conn, options.handler, options.serverName ?? "SIMHIST")
        .catch(() => {})
        .finally(() => {
          open.delete(conn);
          tasks.delete(task);
          try {
            conn.close();
          } catch { /* already closed */ }
        });
      tasks.add(task);
    }
  })().catch(() => {});
  const dropConnections = () => {
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      dropConnections();
      await Promise.allSettled([...tasks]);
    },
    dropConnections,
    connections: () => open.size,
  };
}

interface Message {
  type: number;
  status: number;
  data: Uint8Array;
}

/** Reads TDS packets from a connection and assembles them into messages. */
async function* messages(conn: Deno.Conn): AsyncGenerator<Message> {
  let buf = new Uint8Array(0);
  let parts: Uint8Array[] = [];
  let type = 0;
  const chunk = new Uint8Array(65_536);
  while (true) {
    while (buf.length >= 8) {
      const length = (buf[2]! << 8) | buf[3]!;
      if (length < 8) throw new Error("bad TDS packet length");
      if (buf.length < length) break;
      const status = buf[1]!;
      if (parts.length === 0) type = buf[0]!;
      parts.push(buf.slice(8, length));
      buf = buf.subarray(length);
      if (status & STATUS_EOM) {
        const size = parts.reduce((n, p) => n + p.length, 0);
        const data = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          data.set(p, at);
          at += p.length;
        }
        parts = [];
        yield { type, status, data };
      }
    }
    const n = await conn.read(chunk);
    if (n === null) return;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
  }
}

/** Writes messages as packets of the negotiated size; awaits the socket (backpressure). */
class Outbox {
  packetSize = 4096;
  #lock: Promise<void> = Promise.resolve();
  #packet = new Uint8Array(0);
  constructor(private conn: Deno.Conn) {}

  async #write(bytes: Uint8Array) {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** Sends what `w` holds as full packets, keeping back what does not fill one unless `eom`. */
  async packets(w: ByteWriter, eom: boolean) {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((r) => (release = r));
    await previous;
    try {
      const size = this.packetSize - 8;
      if (this.#packet.length !== this.packetSize) this.#packet = new Uint8Array(this.packetSize);
      const packet = this.#packet;
      let at = 0;
      while (w.pos - at > size || (eom && at <= w.pos)) {
        const len = Math.min(size, w.pos - at);
        const last = eom && at + len >= w.pos;
        packet[0] = TYPE.REPLY;
        packet[1] = last ? STATUS_EOM : 0;
        packet[2] = (len + 8) >> 8;
        packet[3] = (len + 8) & 0xff;
        packet[6] = 1;
        packet.set(w.buf.subarray(at, at + len), 8);
        // The packet buffer is reused: each write completes before the next fills it.
        await this.#write(packet.subarray(0, len + 8));
        at += len;
        if (last) break;
      }
      w.buf.copyWithin(0, at, w.pos);
      w.pos -= at;
    } finally {
      release();
    }
  }

  async message(build: (w: ByteWriter) => void) {
    const w = new ByteWriter(256);
    build(w);
    await this.packets(w, true);
  }
}

function done(w: ByteWriter, token: number, status: number, rows: number, curCmd = 0xc1) {
  w.u8(token).u16(status).u16(curCmd).u64(BigInt(rows));
}

function error(w: ByteWriter, e: TdsError, serverName: string, proc = "") {
  const start = w.pos;
  w.u8(0xaa).u16(0).u32(e.number).u8(e.state).u8(e.severity).usVarchar(e.message.slice(0, 4000))
    .bVarchar(serverName).bVarchar(proc).u32(1);
  w.patchU16(start + 1, w.pos - start - 3);
}

function envChange(w: ByteWriter, type: number, value: string, old: string) {
  const start = w.pos;
  w.u8(0xe3).u16(0).u8(type).bVarchar(value).bVarchar(old);
  w.patchU16(start + 1, w.pos - start - 3);
}

async function handleConnection(conn: Deno.Conn, handler: TdsHandler, serverName: string) {
  const out = new Outbox(conn);
  const incoming = messages(conn);

  // PRELOGIN: answer VERSION and ENCRYPTION = not supported.
  const pre = await incoming.next();
  if (pre.done || pre.value.type !== TYPE.PRELOGIN) return;
  await out.message((w) => {
    w.u8(0x00).u16be(11).u16be(6).u8(0x01).u16be(17).u16be(1).u8(0xff);
    w.u8(16).u8(0).u16be(4096).u16be(0).u8(0x02);
  });

  const loginMsg = await incoming.next();
  if (loginMsg.done || loginMsg.value.type !== TYPE.LOGIN7) return;
  const session = parseLogin7(loginMsg.value.data);
  try {
    await handler.login(session);
  } catch (e) {
    const err = e instanceof TdsError
      ? e
      : new TdsError(18456, `Login failed for user '${session.user}'.`, 14);
    await out.message((w) => {
      error(w, err, serverName);
      done(w, 0xfd, DONE_ERROR, 0, 0);
    });
    // Let the client read the error and hang up first; closing at once races its parser.
    const timer = setTimeout(() => conn.close(), 5_000);
    try {
      while (!(await incoming.next()).done) { /* ignore anything after a refused login */ }
    } finally {
      clearTimeout(timer);
    }
    return;
  }
  out.packetSize = Math.min(32_767, Math.max(512, session.packetSize || 4096));
  await out.message((w) => {
    envChange(w, 1, session.database || "Runtime", "master");
    const start = w.pos;
    w.u8(0xe3).u16(0).u8(7).u8(5).bytes(COLLATION).u8(0);
    w.patchU16(start + 1, w.pos - start - 3);
    envChange(w, 4, String(out.packetSize), String(out.packetSize));
    const ack = w.pos;
    w.u8(0xad).u16(0).u8(1).u32be(0x74000004).bVarchar("Microsoft SQL Server").u8(16).u8(0).u8(0x10)
      .u8(0);
    w.patchU16(ack + 1, w.pos - ack - 3);
    done(w, 0xfd, 0, 0, 0);
  });

  // From here on a reader task watches for ATTENTION while requests run.
  const state = {
    active: null as AbortController | null,
    attention: false,
    wake: null as (() => void) | null,
    ended: false,
  };
  const queue: Message[] = [];
  (async () => {
    try {
      for await (const m of incoming) {
        if (m.type === TYPE.ATTENTION) {
          if (state.active) {
            state.attention = true;
            state.active.abort();
          } else {
            await out.message((w) => done(w, 0xfd, DONE_ATTN, 0, 0));
          }
          continue;
        }
        queue.push(m);
        state.wake?.();
      }
    } catch { /* connection gone */ }
    state.ended = true;
    state.wake?.();
  })();

  while (true) {
    while (queue.length === 0 && !state.ended) await new Promise<void>((r) => (state.wake = r));
    state.wake = null;
    const m = queue.shift();
    if (!m) return;
    if (m.status & STATUS_IGNORE) {
      await out.message(() => {});
      continue;
    }
    if (m.type !== TYPE.BATCH && m.type !== TYPE.RPC) {
      await out.message((w) => {
        error(
          w,
          new TdsError(4002, `The simulator does not handle TDS messages of type ${m.type}.`),
          serverName,
        );
        done(w, 0xfd, DONE_ERROR, 0);
      });
      continue;
    }
    state.active = new AbortController();
    state.attention = false;
    try {
      const keepGoing = await respond(m, session, handler, state.active.signal, out, serverName);
      if (!keepGoing) return;
    } finally {
      state.active = null;
    }
    if (state.attention) await out.message((w) => done(w, 0xfd, DONE_ATTN, 0, 0));
  }
}

/** Runs one request; false when the connection must be cut. */
async function respond(
  m: Message,
  session: LoginInfo,
  handler: TdsHandler,
  signal: AbortSignal,
  out: Outbox,
  serverName: string,
): Promise<boolean> {
  const rpc = m.type === TYPE.RPC;
  const w = new ByteWriter(out.packetSize * 2);
  let columns: Column[] = [];
  let pendingDone: number | null = null;
  let rows = 0;
  const flushDone = (more: boolean) => {
    if (pendingDone === null) return;
    if (rpc) done(w, 0xff, DONE_COUNT | DONE_MORE, pendingDone);
    else done(w, 0xfd, DONE_COUNT | (more ? DONE_MORE : 0), pendingDone);
    pendingDone = null;
  };
  try {
    const request = rpc ? parseRpc(m.data) : { sql: parseBatch(m.data), params: [], rpc: false };
    for await (const event of handler.execute(request, session, signal)) {
      if (signal.aborted) break;
      if ("columns" in event) {
        flushDone(true);
        columns = event.columns;
        rows = 0;
        writeColumnMetadata(w, columns);
      } else if ("row" in event) {
        writeRow(w, columns, event.row);
        rows++;
      } else {
        pendingDone = event.done;
      }
      if (w.pos >= out.packetSize) await out.packets(w, false);
    }
    if (signal.aborted) {
      done(w, 0xfd, 0, 0);
      await out.packets(w, true);
      return true;
    }
    flushDone(false);
    if (rpc) {
      w.u8(0x79).i32(0);
      done(w, 0xfe, 0, 0, 0xe0);
    } else if (pendingDone === null && rows === 0 && columns.length === 0) {
      done(w, 0xfd, 0, 0);
    }
    await out.packets(w, true);
    return true;
  } catch (e) {
    if (e instanceof DropConnection) return false;
    const err = e instanceof TdsError
      ? e
      : e instanceof TdsTypeError || e instanceof RangeError
      ? new TdsError(
        8016,
        `The incoming tabular data stream (TDS) RPC protocol stream is incorrect: ${e.message}`,
      )
      : new TdsError(50000, `Simulator failure: ${(e as Error).message}`);
    flushDone(true);
    error(w, err, serverName, rpc ? "sp_executesql" : "");
    if (rpc) done(w, 0xfe, DONE_ERROR, 0, 0xe0);
    else done(w, 0xfd, DONE_ERROR, 0);
    await out.packets(w, true);
    return true;
  }
}

function skipAllHeaders(r: ByteReader) {
  const total = r.u32();
  r.pos += Math.max(0, total - 4);
}

function parseBatch(data: Uint8Array): string {
  const r = new ByteReader(data);
  skipAllHeaders(r);
  return new TextDecoder("utf-16le").decode(r.rest());
}

function parseRpc(data: Uint8Array): { sql: string; params: Param[]; rpc: true } {
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

function parseLogin7(data: Uint8Array): LoginInfo {
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
