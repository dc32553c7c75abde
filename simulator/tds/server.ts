/**
 * A TDS 7.4 server on a loopback TCP port: PRELOGIN (in-band TLS when given a certificate,
 * optionally required), LOGIN7, SQL
 * batches, RPC sp_executesql with typed parameters, streamed result sets split into packets of
 * the negotiated size and written with backpressure, and attention (cancel) answered the way
 * tedious needs it. It knows nothing about the Historian: a `TdsHandler` answers logins and
 * requests with result events.
 */
import { ByteReader, ByteWriter } from "./_bytes.ts";
import {
  DONE_ATTN,
  DONE_COUNT,
  DONE_ERROR,
  DONE_MORE,
  messages,
  Outbox,
  STATUS_IGNORE,
  TYPE,
} from "./packets.ts";
import type { Link, Message } from "./packets.ts";
import { parseBatch, parseLogin7, parseRpc } from "./requests.ts";
import {
  answerEncryption,
  clientEncryption,
  ENCRYPT,
  encryption,
  startsTls,
  startTls,
} from "./tls.ts";
import type { Encryption, TlsSettings } from "./tls.ts";
import { COLLATION, TdsTypeError, writeColumnMetadata, writeRow } from "./types.ts";
import type { Column, Param, SqlValue } from "./types.ts";

export interface LoginInfo {
  user: string;
  password: string;
  /** The database the client asked for; once logged in, the session's current database. */
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

/**
 * What a handler yields: a result set's columns, its rows, and the end of the result set; or
 * the session's new current database (`USE`).
 */
export type ResultEvent =
  | { columns: Column[] }
  | { row: SqlValue[] }
  | { done: number }
  | { database: string };

export interface TdsHandler {
  /**
   * Lets the client in, answering the database its session starts in; throw a TdsError to
   * refuse the login (SQL Server's 18456 follows any other error, as it does there).
   */
  login(info: LoginInfo): Promise<{ database: string }> | { database: string };
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

export interface TdsServer {
  port: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
  /** Cuts every open connection, keeping the listener. */
  dropConnections(): void;
  connections(): number;
}

export function serveTds(
  options: {
    hostname?: string;
    port?: number;
    handler: TdsHandler;
    serverName?: string;
    /** Offer (or with `require`, insist on) TLS with this certificate. */
    tls?: TlsSettings;
    /** Counts sessions that went through TLS. */
    stats?: { encrypted: number };
  },
): TdsServer {
  const enc = options.tls && encryption(options.tls);
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
  });
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  (async () => {
    for await (const conn of listener) {
      open.add(conn);
      const task = handleConnection(
        conn,
        options.handler,
        options.serverName ?? "SIMHIST",
        enc,
        options.stats,
      )
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

function done(w: ByteWriter, token: number, status: number, rows: number, curCmd = 0xc1) {
  w.u8(token).u16(status).u16(curCmd).u64(BigInt(rows));
}

/** An ERROR token, or with `token` 0xab an INFO token (the same layout). */
function error(w: ByteWriter, e: TdsError, serverName: string, proc = "", token = 0xaa) {
  const start = w.pos;
  w.u8(token).u16(0).u32(e.number).u8(e.state).u8(e.severity).usVarchar(e.message.slice(0, 4000))
    .bVarchar(serverName).bVarchar(proc).u32(1);
  w.patchU16(start + 1, w.pos - start - 3);
}

function envChange(w: ByteWriter, type: number, value: string, old: string) {
  const start = w.pos;
  w.u8(0xe3).u16(0).u8(type).bVarchar(value).bVarchar(old);
  w.patchU16(start + 1, w.pos - start - 3);
}

/**
 * A transaction manager request (MS-TDS 2.2.6.9), as python-tds sends one after login and
 * tedious for beginTransaction(): begin answers ENVCHANGE 8 with a new 8-byte descriptor,
 * commit and rollback ENVCHANGE 9 and 10 giving it back. The simulator's tables are read-only,
 * so there is nothing to undo; isolation levels and names are accepted as given.
 */
function transaction(w: ByteWriter, data: Uint8Array, xact: { id: bigint }, serverName: string) {
  const r = new ByteReader(data);
  const headers = r.u32(); // ALL_HEADERS, skipped
  r.pos += Math.max(0, headers - 4);
  const kind = r.u16();
  const descriptor = (id: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, id, true);
    return b;
  };
  const change = (type: number, next: Uint8Array, old: Uint8Array) => {
    const start = w.pos;
    w.u8(0xe3).u16(0).u8(type).u8(next.length).bytes(next).u8(old.length).bytes(old);
    w.patchU16(start + 1, w.pos - start - 3);
  };
  if (kind === 5) { // TM_BEGIN_XACT
    const previous = xact.id;
    xact.id = previous + 1n || 1n;
    change(8, descriptor(xact.id), previous ? descriptor(previous) : new Uint8Array());
  } else if (kind === 7 || kind === 8) { // TM_COMMIT_XACT, TM_ROLLBACK_XACT
    if (xact.id === 0n) {
      error(
        w,
        new TdsError(
          3902,
          "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.",
          16,
        ),
        serverName,
      );
      return done(w, 0xfd, DONE_ERROR, 0);
    }
    change(kind === 7 ? 9 : 10, new Uint8Array(), descriptor(xact.id));
    xact.id = 0n;
  } else {
    error(
      w,
      new TdsError(4002, `The simulator does not handle transaction request ${kind}.`),
      serverName,
    );
    return done(w, 0xfd, DONE_ERROR, 0);
  }
  done(w, 0xfd, 0, 0, 0);
}

/** Lets the client read a refusal and hang up first; closing at once races its parser. */
async function drain(conn: Deno.Conn, incoming: AsyncGenerator<Message>, ms = 5_000) {
  const timer = setTimeout(() => conn.close(), ms);
  try {
    while (!(await incoming.next()).done) { /* ignore anything after a refusal */ }
  } catch {
    /* closed */
  } finally {
    clearTimeout(timer);
  }
}

/**
 * PRELOGIN (and TLS when both sides want it) and LOGIN7: the session of a client the handler
 * let in and the messages that follow, or undefined.
 */
async function handshake(
  conn: Deno.Conn,
  out: Outbox,
  handler: TdsHandler,
  serverName: string,
  enc: Encryption | undefined,
  stats: { encrypted: number },
): Promise<{ session: LoginInfo; incoming: AsyncGenerator<Message> } | undefined> {
  // PRELOGIN: answer VERSION and ENCRYPTION.
  let incoming = messages(conn);
  const pre = await incoming.next();
  if (pre.done || pre.value.type !== TYPE.PRELOGIN) return undefined;
  const asked = clientEncryption(pre.value.data);
  const answer = answerEncryption(asked, enc);
  await out.message((w) => {
    w.u8(0x00).u16be(11).u16be(6).u8(0x01).u16be(17).u16be(1).u8(0xff);
    w.u8(16).u8(0).u16be(4096).u16be(0).u8(answer);
  });
  if (enc && startsTls(asked, answer)) {
    // The raw reader holds nothing more: the client waits for each handshake answer.
    const link: Link = await startTls(conn, incoming, out, enc);
    out.link = link;
    incoming = messages(link);
    stats.encrypted++;
  } else if (answer === ENCRYPT.REQ) {
    // Encryption required and the client will not: tedious hangs up after reading the answer,
    // FreeTDS waits for the server to.
    await drain(conn, incoming, 500);
    return undefined;
  }

  const loginMsg = await incoming.next();
  if (loginMsg.done || loginMsg.value.type !== TYPE.LOGIN7) return undefined;
  const session = parseLogin7(loginMsg.value.data);
  try {
    session.database = (await handler.login(session)).database;
  } catch (e) {
    const failed = new TdsError(18456, `Login failed for user '${session.user}'.`, 14);
    const err = e instanceof TdsError ? e : failed;
    await out.message((w) => {
      error(w, err, serverName);
      if (err.number !== failed.number) error(w, failed, serverName);
      done(w, 0xfd, DONE_ERROR, 0, 0);
    });
    await drain(conn, incoming);
    return undefined;
  }
  out.packetSize = Math.min(32_767, Math.max(512, session.packetSize || 4096));
  await out.message((w) => {
    envChange(w, 1, session.database, "master");
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
  return { session, incoming };
}

async function handleConnection(
  conn: Deno.Conn,
  handler: TdsHandler,
  serverName: string,
  enc: Encryption | undefined,
  stats: { encrypted: number } = { encrypted: 0 },
) {
  const out = new Outbox(conn);
  const shaken = await handshake(conn, out, handler, serverName, enc, stats);
  if (!shaken) return;
  const { session, incoming } = shaken;

  // The transaction the client began with a transaction manager request, if any.
  const xact = { id: 0n };
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
    if (m.type === TYPE.TRANSACTION) {
      await out.message((w) => transaction(w, m.data, xact, serverName));
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

/** Switches the session's database as `USE` does on SQL Server: ENVCHANGE, then message 5701. */
function useDatabase(w: ByteWriter, session: LoginInfo, database: string, serverName: string) {
  envChange(w, 1, database, session.database);
  const changed = new TdsError(5701, `Changed database context to '${database}'.`, 0);
  error(w, changed, serverName, "", 0xab);
  session.database = database;
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
  // The row count of the statement that ended last, -1 for one without a count (USE).
  let pendingDone: number | null = null;
  let rows = 0;
  let dones = 0;
  const flushDone = (more: boolean) => {
    if (pendingDone === null) return;
    dones++;
    const count = pendingDone >= 0 ? DONE_COUNT : 0;
    if (rpc) done(w, 0xff, count | DONE_MORE, Math.max(0, pendingDone));
    else done(w, 0xfd, count | (more ? DONE_MORE : 0), Math.max(0, pendingDone));
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
      } else if ("database" in event) {
        flushDone(true);
        useDatabase(w, session, event.database, serverName);
        pendingDone = -1;
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
    } else if (dones === 0 && rows === 0 && columns.length === 0) {
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
