/**
 * What to check when ClickHouse cannot be reached or refuses the login: each failure of the
 * connection names the settings to look at, by the environment variable the spec reads them from
 * (`CLICKHOUSE_URL`, …, through the engine's `setting()`), never a password. The embedded store
 * is the sink's own: its failures say so instead.
 */

/** The name a user sets a sink option by: its variable in the spec, or its YAML path. */
export type SettingName = (key: string) => string;

/** What the user should check for `e`, or undefined when the error says it already. */
export function fixFor(e: unknown, setting: SettingName, embedded: boolean): string | undefined {
  const errno = String((e as { code?: unknown })?.code ?? "");
  const text = e instanceof Error ? e.message : String(e);
  const server = Number((e as { code?: unknown })?.code);
  const url = setting("url");
  const where = `${url} (or ${setting("host")} and ${setting("port")})`;
  if (embedded) {
    if (/ECONNREFUSED|ECONNRESET|socket hang up|EPIPE/.test(errno + text)) {
      return "the embedded store is not answering; the sink restarts it, and retries";
    }
    return undefined;
  }
  if (errno === "ECONNREFUSED" || /ECONNREFUSED/.test(text)) {
    return `nothing accepts connections on that port: check ${where}; 8123 is ClickHouse's HTTP port, 9000 its native one, which this sink does not speak`;
  }
  if (
    errno === "ENOTFOUND" || errno === "EAI_AGAIN" ||
    /ENOTFOUND|EAI_AGAIN|failed to lookup address/i.test(text)
  ) {
    return `the host name is not known here: check the host in ${url} (or ${setting("host")})`;
  }
  if (/socket hang up|ECONNRESET|EPIPE/i.test(errno + text)) {
    return `the server closed the connection: check that ${url} names ClickHouse's HTTP port, and https:// for a TLS port (8443)`;
  }
  if (/timeout|ETIMEDOUT/i.test(errno + text)) {
    return `no answer in time: check ${where}, and that no firewall drops connections to that port`;
  }
  if (/certificate|self.signed|TLS|SSL/i.test(text)) {
    return `TLS failed: check the scheme of ${url} (https:// only where the port speaks TLS) and that this machine trusts the server's certificate`;
  }
  if ([516, 192, 193].includes(server)) {
    return `the login was refused: check ${setting("user")} and ${
      setting("password")
    } (or the user:password in ${url})`;
  }
  if (server === 81) return `the database does not exist: check ${setting("database")}`;
  return undefined;
}
