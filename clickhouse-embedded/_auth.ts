/**
 * Who may talk to the embedded store. Authentication is always on, as a ClickHouse server's
 * default user is password-protected or local-only: two users, the writer (`default`, the
 * engine's sink) and `reader` (dashboards and the API: read-only). A password given to the
 * store replaces the generated one; otherwise each is generated once, at first start, into
 * `<data folder>/credentials.env`, readable by its owner only, and never printed.
 */
import { SqlError } from "./_sql.ts";
import type { Role } from "./_policy.ts";

export interface Credentials {
  writer: { user: string; password: string };
  reader: { user: string; password: string };
}

export const READER = "reader";
const FILE = "credentials.env";
const WRITER_KEY = "CLICKHOUSE_EMBEDDED_PASSWORD";
const READER_KEY = "CLICKHOUSE_EMBEDDED_READER_PASSWORD";

/** Where the generated passwords are kept. */
export function credentialsFile(dataPath: string): string {
  return `${dataPath.replace(/\/+$/, "")}/${FILE}`;
}

/**
 * The store's credentials: given passwords win; the others come from the credentials file,
 * written (mode 0600) with new random passwords when it has none.
 */
export async function loadCredentials(
  dataPath: string,
  given: { user?: string; password?: string; readerPassword?: string } = {},
): Promise<Credentials> {
  const file = credentialsFile(dataPath);
  const stored = await readEnvFile(file);
  let changed = false;
  const pick = (key: string, value: string | undefined) => {
    if (value) return value;
    if (stored[key]) return stored[key]!;
    stored[key] = randomPassword();
    changed = true;
    return stored[key]!;
  };
  const writer = pick(WRITER_KEY, given.password);
  const reader = pick(READER_KEY, given.readerPassword);
  if (changed) {
    await Deno.mkdir(dataPath, { recursive: true });
    const text =
      `# The embedded ClickHouse store's generated passwords (users "${
        given.user ?? "default"
      }" and "${READER}"). Keep this file private.\n` +
      Object.entries(stored).map(([k, v]) => `${k}=${v}\n`).join("");
    await Deno.writeTextFile(file, text, { mode: 0o600 });
    await Deno.chmod(file, 0o600).catch(() => {}); // mode applies only to a new file
  }
  return {
    writer: { user: given.user ?? "default", password: writer },
    reader: { user: READER, password: reader },
  };
}

/** KEY=value lines; anything else is ignored. */
async function readEnvFile(file: string): Promise<Record<string, string>> {
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw e;
  }
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.+)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
}

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
