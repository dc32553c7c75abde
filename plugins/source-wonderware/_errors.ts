/**
 * What the Historian's SQL Server errors mean, for the engine: retriable or not, and why; and,
 * for the user, what to fix. A message that points at a setting names it as the user sets it:
 * the environment variable the spec reads it from (WONDERWARE_HOST with the shipped spec), or
 * its YAML path. It never carries the password.
 */
import { PluginError } from "../../engine/mod.ts";

export const PLUGIN = "source-wonderware";

/** Where the source connects, and how the user sets each part of it (context.setting). */
export interface Endpoint {
  host: string;
  port: number;
  database: string;
  user: string;
  setting?(key: string): string;
}

/** An error the server sent during the login, before the one the driver reports. */
export interface ServerError {
  number: number;
  message: string;
}

export interface ClassifyOptions {
  /** A call after a successful login: a refusal now is the server restarting, not the login. */
  loggedInBefore?: boolean;
  /** Known while connecting: the messages then say which setting to check. */
  endpoint?: Endpoint;
  /** Every error the server sent during the login (4060 comes before 18456). */
  serverErrors?: readonly ServerError[];
}

/** Turns a driver error into a PluginError that says whether retrying can help and what to fix. */
export function classify(
  what: string,
  e: unknown,
  address: string,
  options: ClassifyOptions = {},
): PluginError {
  if (e instanceof PluginError) return e;
  const err = e as { code?: string; number?: number; message?: string };
  const message = err.message ?? String(e);
  const name = (key: string) => options.endpoint?.setting?.(key) ?? `source.wonderware.${key}`;
  const assign = (key: string, value: string) => {
    const setting = name(key);
    return setting.includes(".") ? `${setting}: ${value}` : `${setting}=${value}`;
  };
  const fail = (text: string, reason: PluginError["reason"], retriable: boolean) =>
    new PluginError(PLUGIN, text, { cause: e, retriable, unavailable: retriable, reason });

  const database = databaseRefusal(err, options.serverErrors);
  if (database && !options.loggedInBefore) {
    const { database: db = "", user = "" } = options.endpoint ?? {};
    return fail(
      `the database "${db}" at ${address} cannot be opened by the login "${user}" (${database}): check ${
        name("database")
      } (the Historian's database is Runtime) and that the login is a user of that database`,
      "invalid",
      false,
    );
  }
  if (err.code === "ELOGIN" || err.number === 18456) {
    // The same credentials worked before: a Historian restarting refuses logins for a while.
    if (options.loggedInBefore) {
      return fail(`${what} at ${address}: login refused for now (${message})`, "auth", true);
    }
    const user = options.endpoint?.user;
    const who = user ? ` as "${user}"` : user === "" ? " without a user name" : "";
    return fail(
      `login to ${address}${who} was refused (${message}): check ${name("user")} and ${
        name("password")
      }; the server must allow SQL Server logins (SQL Server and Windows Authentication mode)`,
      "auth",
      false,
    );
  }
  if (err.number === 229 || err.number === 230 || err.number === 262) {
    return fail(
      `${what} at ${address} was denied (${message}): the login needs read access to the Runtime database (the aaUsers role)`,
      "permission",
      false,
    );
  }
  if (err.code === "EENCRYPT" && /did not negotiate/i.test(message)) {
    return fail(
      `${address} does not offer encryption and the source has encrypt: true: give the SQL Server a certificate (SQL Server Configuration Manager → Protocols → Certificate), or set ${
        assign("encrypt", "false")
      } to connect unencrypted`,
      "invalid",
      false,
    );
  }
  if (err.code === "EENCRYPT") {
    return fail(
      `${address} requires encrypted connections and the source has encrypt: false: set ${
        assign("encrypt", "true")
      }, and ${name("ca_file")} to the server's CA certificate (or ${
        assign("trust_server_certificate", "true")
      } for a self-signed one)`,
      "invalid",
      false,
    );
  }
  const tls =
    /self[- ]signed certificate|unable to (verify|get local issuer)|certificate (has expired|is not yet valid|verify failed)|does not match certificate|altnames/i
      .exec(message);
  if (tls) {
    return fail(
      `the TLS certificate of ${address} was not accepted (${tls[0]}): set ${
        name("ca_file")
      } to the PEM of the CA that signed it (or of the server's own self-signed certificate), or ${
        assign("trust_server_certificate", "true")
      } to skip the check; a name mismatch means ${
        name("host")
      } must be written as the certificate names it`,
      "invalid",
      false,
    );
  }
  const unreachable = options.loggedInBefore ? undefined : connectFailure(e, message);
  if (unreachable) {
    const hostAndPort = `${name("host")} and ${name("port")}`;
    const fix = {
      refused:
        `nothing accepts connections on that port: check ${hostAndPort}; SQL Server must accept TCP/IP connections there (a named instance listens on a port of its own: SQL Server Configuration Manager → Protocols → TCP/IP → IP Addresses)`,
      unknown: `the host name is not known here: check ${
        name("host")
      } (a name this machine resolves, or an IP address)`,
      unreachable:
        `the host cannot be reached: check ${hostAndPort}, and the network route and firewalls between this machine and the server`,
      timeout:
        `no answer in time: check ${hostAndPort}, and that no firewall drops connections to that port; on a slow network raise ${
          name("connect_timeout")
        }`,
      closed:
        `the server closed the connection before the login: check that ${hostAndPort} name the SQL Server (another service on that port closes the connection like this)`,
    }[unreachable.kind];
    return fail(
      `cannot connect to ${address} (${unreachable.detail}): ${fix}`,
      unreachable.kind === "timeout" ? "timeout" : "connection",
      true,
    );
  }
  const transient =
    ["ESOCKET", "ECONNCLOSED", "ETIMEOUT", "ECONNRESET", "EINSTLOOKUP", "ENOTOPEN", "ECANCEL"]
      .includes(err.code ?? "") ||
    /ECONNREFUSED|ECONNRESET|socket|Connection lost|timeout|closed/i.test(message);
  return fail(
    `${what} at ${address} failed: ${message}`,
    /timeout/i.test(message) || err.code === "ETIMEOUT"
      ? "timeout"
      : transient
      ? "connection"
      : "invalid",
    transient,
  );
}

/** The server's 4060 ("Cannot open database"), which the driver reports as the 18456 after it. */
function databaseRefusal(
  err: { number?: number; message?: string },
  serverErrors: readonly ServerError[] = [],
): string | undefined {
  if (err.number === 4060) return err.message;
  return serverErrors.find((s) => s.number === 4060)?.message;
}

type Unreachable = {
  kind: "refused" | "unknown" | "unreachable" | "timeout" | "closed";
  detail: string;
};

/**
 * Why no connection could be made, from the socket error the driver wraps: tedious reports a
 * refused port as "Could not connect (sequence)" and keeps the real reason inside.
 */
function connectFailure(e: unknown, message: string): Unreachable | undefined {
  for (const inner of causes(e)) {
    const { code, message: text = "" } = inner as { code?: string; message?: string };
    if (code === "ECONNREFUSED") return { kind: "refused", detail: text };
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { kind: "unknown", detail: text };
    if (code === "EHOSTUNREACH" || code === "ENETUNREACH") {
      return { kind: "unreachable", detail: text };
    }
    if (code === "ETIMEDOUT") return { kind: "timeout", detail: text };
  }
  const err = e as { code?: string };
  if (err.code === "ETIMEOUT" && /^Failed to connect/.test(message)) {
    return { kind: "timeout", detail: message };
  }
  if (/^Connection lost - socket hang up/.test(message)) return { kind: "closed", detail: message };
  if (/Could not connect/.test(message)) return { kind: "unreachable", detail: message };
  return undefined;
}

/** The error, what it wraps (`cause`, mssql's `originalError`) and an AggregateError's errors. */
function* causes(e: unknown, depth = 0): Generator<unknown> {
  if (!e || typeof e !== "object" || depth > 5) return;
  yield e;
  const { cause, originalError, errors } = e as {
    cause?: unknown;
    originalError?: unknown;
    errors?: unknown;
  };
  if (originalError !== e) yield* causes(originalError, depth + 1);
  yield* causes(cause, depth + 1);
  if (Array.isArray(errors)) { for (const inner of errors) yield* causes(inner, depth + 1); }
}
