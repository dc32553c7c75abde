/**
 * A self-signed X.509 certificate made in process (no openssl on the path needed): an ECDSA
 * P-256 key, the host names and IP addresses as subject alternative names, usable by clients as
 * their own CA file. DER is written by hand; only the few ASN.1 types a certificate needs.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";

export interface Certificate {
  /** PEM, the certificate a client can trust as its CA. */
  cert: string;
  /** PEM, PKCS#8. */
  key: string;
}

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};

function tlv(tag: number, ...body: Uint8Array[]): Uint8Array {
  const content = cat(...body);
  const n = content.length;
  const length = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return cat(new Uint8Array([tag, ...length]), content);
}

const seq = (...body: Uint8Array[]) => tlv(0x30, ...body);
const utf8 = (s: string) => new TextEncoder().encode(s);

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, new Uint8Array(bytes));
}

function integer(bytes: Uint8Array): Uint8Array {
  // Positive: a leading 0x00 when the high bit is set.
  return tlv(0x02, bytes[0]! & 0x80 ? cat(new Uint8Array([0]), bytes) : bytes);
}

function time(d: Date): Uint8Array {
  const s = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z"; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, utf8(s.slice(2))) : tlv(0x18, utf8(s));
}

function ipBytes(ip: string): Uint8Array {
  if (ip.includes(":")) {
    const [head, tail = ""] = ip.split("::");
    const h = head ? head.split(":") : [];
    const t = tail ? tail.split(":") : [];
    const groups = ip.includes("::")
      ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
      : h;
    return new Uint8Array(groups.flatMap((g) => {
      const v = parseInt(g, 16);
      return [v >> 8, v & 0xff];
    }));
  }
  return new Uint8Array(ip.split(".").map(Number));
}

const pem = (label: string, der: Uint8Array) => {
  const b64 = btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
};

/** A certificate for `names` (DNS) and `ips`, valid from an hour ago for `days`. */
export function selfSignedCertificate(
  options: { names?: string[]; ips?: string[]; days?: number; commonName?: string } = {},
): Certificate {
  const names = options.names ?? ["localhost"];
  const ips = options.ips ?? ["127.0.0.1", "::1"];
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const name = seq(
    tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, utf8(options.commonName ?? names[0]!)))),
  );
  const from = new Date(Date.now() - 3_600_000);
  const to = new Date(from.getTime() + (options.days ?? 825) * 86_400_000);
  const san = seq(
    ...names.map((n) => tlv(0x82, utf8(n))),
    ...ips.map((ip) => tlv(0x87, ipBytes(ip))),
  );
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid("2.5.29.17"), tlv(0x04, san)),
      // basicConstraints CA:TRUE, so a client can name this certificate as its CA file.
      seq(
        oid("2.5.29.19"),
        tlv(0x01, new Uint8Array([0xff])),
        tlv(0x04, seq(tlv(0x01, new Uint8Array([0xff])))),
      ),
      // keyUsage digitalSignature, keyCertSign; extendedKeyUsage serverAuth.
      seq(oid("2.5.29.15"), tlv(0x04, tlv(0x03, new Uint8Array([0x02, 0x84])))),
      seq(oid("2.5.29.37"), tlv(0x04, seq(oid("1.3.6.1.5.5.7.3.1")))),
    ),
  );
  const serial = new Uint8Array(randomBytes(16));
  serial[0]! &= 0x7f;
  const tbs = seq(
    tlv(0xa0, integer(new Uint8Array([2]))),
    integer(serial),
    ecdsaSha256,
    name,
    seq(time(from), time(to)),
    name,
    spki,
    extensions,
  );
  const signature = new Uint8Array(sign("sha256", tbs, privateKey));
  const der = seq(tbs, ecdsaSha256, tlv(0x03, new Uint8Array([0]), signature));
  return {
    cert: pem("CERTIFICATE", der),
    key: privateKey.export({ format: "pem", type: "pkcs8" }) as string,
  };
}
