/**
 * Who a request is: the writer or the read-only reader (credentials.ts keeps their passwords),
 * from the headers or parameters ClickHouse's HTTP interface takes a login from.
 */
import { SqlError } from "./_sql.ts";
import type { Role } from "./_policy.ts";
import type { Credentials } from "./credentials.ts";

/**
 * The role of a request's user, from basic auth, X-ClickHouse-User/Key headers or (not from a
 * browser) user/password URL parameters, as ClickHouse's HTTP interface takes them. A request
 * that a browser sent (it carries Origin or Sec-Fetch-* headers) must authenticate with a
 * header: a page on another origin can put parameters in an `<img>` or a `no-cors` POST, but
 * cannot add headers without a CORS preflight, which the store never grants.
 */
export function authenticate(req: Request, url: URL, creds: Credentials): Role {
  const fromBrowser = req.headers.has("Origin") || req.headers.has("Sec-Fetch-Mode") ||
    req.headers.has("Sec-Fetch-Site");
  let user = req.headers.get("X-ClickHouse-User");
  let password = req.headers.get("X-ClickHouse-Key");
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.get("Authorization") ?? "");
  if (basic) {
    let decoded = "";
    try {
      decoded = atob(basic[1]!);
    } catch { /* not base64: fails below */ }
    const colon = decoded.indexOf(":");
    user = colon === -1 ? decoded : decoded.slice(0, colon);
    password = colon === -1 ? "" : decoded.slice(colon + 1);
  }
  if (user === null && password === null && !fromBrowser) {
    user = url.searchParams.get("user");
    password = url.searchParams.get("password");
  }
  const name = user ?? "default";
  if (fromBrowser && password === null) {
    throw new SqlError(
      516,
      `${name}: Authentication failed: requests from a browser must authenticate with a header`,
      "AUTHENTICATION_FAILED",
    );
  }
  if (name === creds.writer.user && same(password, creds.writer.password)) return "writer";
  if (name === creds.reader.user && same(password, creds.reader.password)) return "reader";
  throw new SqlError(
    516,
    `${name}: Authentication failed: password is incorrect, or there is no user with such name`,
    "AUTHENTICATION_FAILED",
  );
}

/** Compares in time independent of where the strings differ. */
function same(given: string | null, expected: string): boolean {
  const a = new TextEncoder().encode(given ?? "");
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}
