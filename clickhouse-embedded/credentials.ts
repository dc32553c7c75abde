/**
 * The embedded store's two users and their passwords. Authentication is always on, as a
 * ClickHouse server's default user is password-protected or local-only: the writer (`default`,
 * the engine's sink) and `reader` (dashboards and the API: read-only). A password given to the
 * store replaces the generated one; otherwise each is generated once, at first start, into
 * `<data folder>/credentials.env`, readable by its owner only, and never printed.
 *
 * The supervisor reads this too, so it imports nothing of the store's engine or HTTP front end.
 */

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
