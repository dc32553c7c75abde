/**
 * What PostgreSQL and npm:postgres errors mean, for the engine (retriable or not, and why) and
 * for the user (what to fix). The database is named by one setting, a URL (IGNITION_DATABASE_URL
 * with the shipped spec): a message names it as the user sets it, and the part of it to check.
 * The address in a message is host:port/database, never the URL with its password.
 */
import { PluginError } from "../../engine/mod.ts";

export const PLUGIN = "source-ignition";

export interface ClassifyOptions {
  /** How the user sets an option (context.setting); default: its YAML path. */
  setting?(key: string): string;
  /** The login in the URL, for messages about it. */
  user?: string;
}

/** Connection problems are worth retrying; SQL errors (a missing table, a grant) are not. */
export function classify(
  what: string,
  e: unknown,
  address: string,
  options: ClassifyOptions = {},
): PluginError {
  if (e instanceof PluginError) return e;
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  const url = options.setting?.("url") ?? "source.ignition.url";
  const who = options.user ? ` as "${options.user}"` : "";
  const fail = (text: string, reason: PluginError["reason"], retriable: boolean) =>
    new PluginError(PLUGIN, text, { cause: e, retriable, unavailable: retriable, reason });

  if (err.code === "28P01") {
    return fail(
      `login to ${address}${who} was refused (${message}): check the user and password in ${url}`,
      "auth",
      false,
    );
  }
  if (err.code === "28000") {
    return fail(
      `login to ${address}${who} was refused (${message}): check the user in ${url}, and that the server's pg_hba.conf lets it connect from this machine`,
      "auth",
      false,
    );
  }
  if (err.code === "3D000") {
    return fail(
      `${what} at ${address} failed (${message}): check the database in ${url} (the path after the port: the database Ignition stores its history in)`,
      "invalid",
      false,
    );
  }
  if (err.code === "42501") {
    return fail(
      `${what} at ${address} was denied (${message}): the user needs SELECT on the sqlth_* and partition tables`,
      "permission",
      false,
    );
  }
  const hostAndPort = `the host and port in ${url}`;
  const unreachable: Record<string, [string, PluginError["reason"]]> = {
    ECONNREFUSED: [
      `nothing accepts connections on that port: check ${hostAndPort}; PostgreSQL must listen there (listen_addresses and port in postgresql.conf)`,
      "connection",
    ],
    ENOTFOUND: [
      `the host name is not known here: check the host in ${url} (a name this machine resolves, or an IP address)`,
      "connection",
    ],
    EHOSTUNREACH: [
      `the host cannot be reached: check ${hostAndPort}, and the network route and firewalls between this machine and the server`,
      "connection",
    ],
    CONNECT_TIMEOUT: [
      `no answer in time: check ${hostAndPort}, and that no firewall drops connections to that port; on a slow network raise ${
        options.setting?.("connect_timeout") ?? "source.ignition.connect_timeout"
      }`,
      "timeout",
    ],
  };
  const code = err.code === "EAI_AGAIN"
    ? "ENOTFOUND"
    : err.code === "ENETUNREACH"
    ? "EHOSTUNREACH"
    : err.code === "ETIMEDOUT"
    ? "CONNECT_TIMEOUT"
    : err.code ?? "";
  const known = unreachable[code];
  if (known) return fail(`cannot connect to ${address} (${message}): ${known[0]}`, known[1], true);
  if (/before secure TLS connection/i.test(message)) {
    return fail(
      `cannot connect to ${address} (${message}): the server does not offer TLS: remove sslmode from ${url}, or enable ssl on the server`,
      "connection",
      true,
    );
  }
  const transient = /^(08|57P|53)/.test(err.code ?? "") ||
    /ECONNREFUSED|ECONNRESET|EPIPE|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED)|socket has been ended|socket hang up|timeout/i
      .test(`${err.code} ${message}`);
  return fail(
    `${what} at ${address} failed: ${message}`,
    transient ? "connection" : "invalid",
    transient,
  );
}

/**
 * npm:postgres never gives up on a server that closes every connection before the login (it
 * reconnects at once, thousands of times a second): the first query is bounded here instead.
 */
export function noLoginInTime(address: string, ms: number, url: string): PluginError {
  return new PluginError(
    PLUGIN,
    `cannot connect to ${address}: no login completed within ${ms} ms (the server closes the connection, or does not answer): check that the host and port in ${url} name the PostgreSQL server`,
    { retriable: true, unavailable: true, reason: "timeout" },
  );
}
