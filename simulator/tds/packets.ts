/**
 * TDS packets: reading them from a connection and assembling messages; writing messages as
 * packets of the negotiated size, awaiting the socket (backpressure).
 */
import { ByteWriter } from "./_bytes.ts";

export const TYPE = {
  BATCH: 0x01,
  RPC: 0x03,
  TRANSACTION: 0x0e,
  REPLY: 0x04,
  ATTENTION: 0x06,
  LOGIN7: 0x10,
  PRELOGIN: 0x12,
} as const;
export const STATUS_EOM = 0x01;
export const STATUS_IGNORE = 0x02;
export const DONE_MORE = 0x01;
export const DONE_ERROR = 0x02;
export const DONE_COUNT = 0x10;
export const DONE_ATTN = 0x20;

/** What packets travel over: a TCP connection, or TLS on one. */
export interface Link {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
}

export interface Message {
  type: number;
  status: number;
  data: Uint8Array;
}

/** Reads TDS packets from a connection and assembles them into messages. */
export async function* messages(conn: Link): AsyncGenerator<Message> {
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
export class Outbox {
  packetSize = 4096;
  #lock: Promise<void> = Promise.resolve();
  #packet = new Uint8Array(0);
  /** Swapped for the TLS link once encryption starts. */
  constructor(public link: Link) {}

  async #write(bytes: Uint8Array) {
    let at = 0;
    while (at < bytes.length) at += await this.link.write(bytes.subarray(at));
  }

  /** Sends what `w` holds as full packets, keeping back what does not fill one unless `eom`. */
  async packets(w: ByteWriter, eom: boolean, type: number = TYPE.REPLY) {
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
        packet[0] = type;
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

  async message(build: (w: ByteWriter) => void, type: number = TYPE.REPLY) {
    const w = new ByteWriter(256);
    build(w);
    await this.packets(w, true, type);
  }
}
