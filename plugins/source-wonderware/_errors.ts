/** What the Historian's SQL Server errors mean, for the engine: retriable or not, and why. */
import { PluginError } from "../../engine/mod.ts";

export const PLUGIN = "source-wonderware";

/** Turns a driver error into a PluginError that says whether retrying can help and what to fix. */
export function classify(
  what: string,
  e: unknown,
  address: string,
  options: { loggedInBefore?: boolean } = {},
): PluginError {
  if (e instanceof PluginError) return e;
  const err = e as { code?: string; number?: number; message?: string };
  const message = err.message ?? String(e);
  if (err.code === "ELOGIN" || err.number === 18456) {
    // The same credentials worked before: a Historian restarting refuses logins for a while.
    if (options.loggedInBefore) {
      return new PluginError(PLUGIN, `${what} at ${address}: login refused for now (${message})`, {
        cause: e,
        retriable: true,
        unavailable: true,
        reason: "auth",
      });
    }
    return new PluginError(
      PLUGIN,
      `login to ${address} was refused (${message}): check WONDERWARE_USERNAME and WONDERWARE_PASSWORD`,
      { cause: e, reason: "auth" },
    );
  }
  if (err.number === 229 || err.number === 230 || err.number === 262) {
    return new PluginError(
      PLUGIN,
      `${what} at ${address} was denied (${message}): the login needs read access to the Runtime database (the aaUsers role)`,
      { cause: e, reason: "permission" },
    );
  }
  if (err.code === "EENCRYPT" && /did not negotiate/i.test(message)) {
    return new PluginError(
      PLUGIN,
      `${address} does not offer encryption and the source has encrypt: true: give the SQL Server a certificate (SQL Server Configuration Manager → Protocols → Certificate), or set encrypt: false to connect unencrypted`,
      { cause: e, reason: "invalid" },
    );
  }
  if (err.code === "EENCRYPT") {
    return new PluginError(
      PLUGIN,
      `${address} requires encrypted connections and the source has encrypt: false: set encrypt: true in the source options (WONDERWARE_ENCRYPT=true with the shipped spec), and ca_file to the server's CA certificate (or trust_server_certificate: true for a self-signed one)`,
      { cause: e, reason: "invalid" },
    );
  }
  const tls =
    /self[- ]signed certificate|unable to (verify|get local issuer)|certificate (has expired|is not yet valid|verify failed)|does not match certificate|altnames/i
      .exec(message);
  if (tls) {
    return new PluginError(
      PLUGIN,
      `the TLS certificate of ${address} was not accepted (${
        tls[0]
      }): set ca_file to the PEM of the CA that signed it (or of the server's own self-signed certificate), or trust_server_certificate: true to skip the check; a name mismatch means the host must be written as the certificate names it`,
      { cause: e, reason: "invalid" },
    );
  }
  const transient =
    ["ESOCKET", "ECONNCLOSED", "ETIMEOUT", "ECONNRESET", "EINSTLOOKUP", "ENOTOPEN", "ECANCEL"]
      .includes(err.code ?? "") ||
    /ECONNREFUSED|ECONNRESET|socket|Connection lost|timeout|closed/i.test(message);
  return new PluginError(PLUGIN, `${what} at ${address} failed: ${message}`, {
    cause: e,
    retriable: transient,
    unavailable: transient,
    reason: /timeout/i.test(message) || err.code === "ETIMEOUT"
      ? "timeout"
      : transient
      ? "connection"
      : "invalid",
  });
}
