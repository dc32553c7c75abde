/**
 * Why connecting to Redis failed, in words that say what to fix. Redis is set by one URL
 * (REDIS_URL with the shipped spec): a message names it as the user sets it and the part of it
 * to check. The address in a message is host:port, never the URL with its password.
 */
import { PluginError } from "../../engine/mod.ts";

export const PLUGIN = "cache-redis";

/** A failure to connect at start: the engine then follows `cache.fallback`. */
export function connectError(e: Error, address: string, url: string): PluginError {
  const code = (e as { code?: string }).code ?? "";
  const message = e.message;
  const hostAndPort = `the host and port in ${url}`;
  const [fix, reason]: [string, PluginError["reason"]] = code === "ECONNREFUSED"
    ? [`nothing accepts connections on that port: check ${hostAndPort}`, "connection"]
    : code === "ENOTFOUND" || code === "EAI_AGAIN"
    ? [
      `the host name is not known here: check the host in ${url} (a name this machine resolves, or an IP address)`,
      "connection",
    ]
    : code === "EHOSTUNREACH" || code === "ENETUNREACH"
    ? [`the host cannot be reached: check ${hostAndPort} and the network route to it`, "connection"]
    : code === "EPIPE" || code === "ECONNRESET" || /Connection is closed/.test(message)
    ? [
      `the server closed the connection: check that ${hostAndPort} name a Redis server (rediss:// for one that requires TLS)`,
      "connection",
    ]
    : code === "ETIMEDOUT" || /timed out/i.test(message)
    ? [
      `no answer in time: check ${hostAndPort}, that no firewall drops connections to that port, and the scheme: redis:// for a server without TLS (rediss:// waits for a TLS handshake)`,
      "timeout",
    ]
    : /^WRONGPASS/.test(message)
    ? [`the login was refused: check the user and password in ${url}`, "auth"]
    : /^NOAUTH/.test(message)
    ? [
      `the server requires a password: put it in ${url} (redis://:password@host:6379, or redis://user:password@host:6379)`,
      "auth",
    ]
    : [`check ${url}`, "connection"];
  const first = message.split("\n")[0]!.slice(0, 200);
  return new PluginError(
    PLUGIN,
    `cannot connect to Redis at ${address} (${first}): ${fix}; leave ${url} empty to use the built-in memory cache`,
    { cause: e, retriable: reason !== "auth", unavailable: true, reason },
  );
}
