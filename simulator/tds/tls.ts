/**
 * Encryption as SQL Server negotiates it in TDS 7.x (MS-TDS 2.2.6.5): the PRELOGIN ENCRYPTION
 * answer, then a TLS handshake whose flights travel as the payload of PRELOGIN messages, after
 * which TLS records carry the whole TDS packet stream. The TLS engine is node:tls on an
 * in-memory duplex; the server caps TLS at 1.2 as SQL Server does on TDS 7.x, so the end of each
 * of its flights can be read from the records (ServerHelloDone; ChangeCipherSpec + Finished).
 * "Login-only" encryption (both sides OFF) is not offered: a client that asks for it is answered
 * NOT_SUP, or REQ when encryption is required.
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { createSecureContext, TLSSocket } from "node:tls";
import type { SecureContext } from "node:tls";
import type { Link, Message, Outbox } from "./packets.ts";
import { TYPE } from "./packets.ts";

export const ENCRYPT = { OFF: 0, ON: 1, NOT_SUP: 2, REQ: 3 } as const;

export interface TlsSettings {
  /** PEM certificate chain and private key. */
  cert: string;
  key: string;
  /** Refuse clients that will not encrypt (ENCRYPT_REQ), as "Force Encryption" does. */
  require?: boolean;
}

export interface Encryption {
  settings: TlsSettings;
  context: SecureContext;
}

export function encryption(settings: TlsSettings): Encryption {
  return {
    settings,
    context: createSecureContext({ cert: settings.cert, key: settings.key, maxVersion: "TLSv1.2" }),
  };
}

/** The client's ENCRYPTION byte from a PRELOGIN payload; NOT_SUP when it sends none. */
export function clientEncryption(payload: Uint8Array): number {
  for (let at = 0; at + 5 <= payload.length && payload[at] !== 0xff; at += 5) {
    if (payload[at] !== 0x01) continue;
    const offset = (payload[at + 1]! << 8) | payload[at + 2]!;
    return payload[offset] ?? ENCRYPT.NOT_SUP;
  }
  return ENCRYPT.NOT_SUP;
}

/** The server's answer: ON for clients that ask, REQ or NOT_SUP for the others. */
export function answerEncryption(client: number, enc: Encryption | undefined): number {
  if (!enc) return ENCRYPT.NOT_SUP;
  if (client === ENCRYPT.ON || client === ENCRYPT.REQ) return ENCRYPT.ON;
  return enc.settings.require ? ENCRYPT.REQ : ENCRYPT.NOT_SUP;
}

/** Whether the answer starts TLS (a client that said NOT_SUP to REQ is hung up on instead). */
export function startsTls(client: number, answer: number): boolean {
  return answer === ENCRYPT.ON || (answer === ENCRYPT.REQ && client === ENCRYPT.OFF);
}

const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out;
};

/** Whether TLS 1.2 records written by a server make a whole flight. */
export function flightComplete(b: Uint8Array): boolean {
  const handshake: Uint8Array[] = [];
  let afterCipherChange = false;
  let at = 0;
  while (at + 5 <= b.length) {
    const type = b[at]!;
    const end = at + 5 + ((b[at + 3]! << 8) | b[at + 4]!);
    if (end > b.length) return false;
    if (type === 21) return end === b.length; // alert
    if (type === 20) afterCipherChange = true;
    else if (type === 22 && afterCipherChange) return end === b.length; // Finished
    else if (type === 22) handshake.push(b.subarray(at + 5, end));
    at = end;
  }
  if (at !== b.length) return false;
  const h = concat(handshake);
  for (let i = 0; i + 4 <= h.length;) {
    const next = i + 4 + ((h[i + 1]! << 16) | (h[i + 2]! << 8) | h[i + 3]!);
    if (next > h.length) return false;
    if (h[i] === 14) return next === h.length; // ServerHelloDone
    i = next;
  }
  return false;
}

async function writeAll(link: Link, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await link.write(bytes.subarray(at));
}

/**
 * Runs the handshake over `incoming` PRELOGIN messages and `out`, then returns the link that
 * reads and writes plaintext TDS through TLS on `conn`.
 */
export async function startTls(
  conn: Link,
  incoming: AsyncGenerator<Message>,
  out: Outbox,
  enc: Encryption,
): Promise<Link> {
  let handshaking = true;
  let flight: Uint8Array[] = [];
  let flightDone: (() => void) | undefined;
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (handshaking) {
        flight.push(new Uint8Array(chunk));
        if (flightComplete(concat(flight))) flightDone?.();
        callback();
      } else {
        writeAll(conn, new Uint8Array(chunk)).then(() => callback(), callback);
      }
    },
  });
  const socket = new TLSSocket(wire, { isServer: true, secureContext: enc.context });
  let failure: Error | undefined;
  let secure = false;
  const settled = new Promise<void>((resolve) => {
    socket.once("secure", () => (secure = true, resolve()));
    socket.once("error", (e: Error) => (failure = e, resolve()));
  });

  while (!secure && !failure) {
    const m = await incoming.next();
    if (m.done) throw new Error("client left during the TLS handshake");
    if (m.value.type !== TYPE.PRELOGIN) {
      throw new Error(`expected a TLS handshake in a PRELOGIN message, got type ${m.value.type}`);
    }
    const answered = new Promise<void>((resolve) => (flightDone = resolve));
    wire.push(Buffer.from(m.value.data));
    await Promise.race([answered, settled]);
    // 'secure' can come before the Finished flight is out: wait for the flight itself.
    if (!failure && !flightComplete(concat(flight))) {
      await Promise.race([answered, new Promise((r) => setTimeout(r, 1_000))]);
    }
    const bytes = concat(flight);
    flight = [];
    if (bytes.length > 0) await out.message((w) => w.bytes(bytes), TYPE.PRELOGIN);
  }
  if (failure) throw failure;
  handshaking = false;

  (async () => {
    const chunk = new Uint8Array(65_536);
    try {
      for (let n; (n = await conn.read(chunk)) !== null;) wire.push(Buffer.from(chunk.slice(0, n)));
    } catch { /* connection gone */ }
    wire.push(null);
  })();

  const queue: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on("data", (d: Buffer) => (queue.push(new Uint8Array(d)), wake?.()));
  const end = () => (ended = true, wake?.());
  socket.on("end", end).on("close", end).on("error", end);
  return {
    async read(p: Uint8Array) {
      while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
      const head = queue[0];
      if (!head) return null;
      const n = Math.min(p.length, head.length);
      p.set(head.subarray(0, n));
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
      return n;
    },
    write(p: Uint8Array) {
      // Copied: the caller reuses its buffer as soon as this resolves.
      return new Promise<number>((resolve, reject) =>
        socket.write(Buffer.from(p), (e) => (e ? reject(e) : resolve(p.length)))
      );
    },
  };
}
