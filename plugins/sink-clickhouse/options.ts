/**
 * Options of the ClickHouse sink. `url` wins; otherwise `host`/`port` (the seed's
 * CLICKHOUSE_HOST/PORT); the embedded store only when `embedded.enabled` says so.
 */
import { z } from "zod";
import { duration } from "../../engine/mod.ts";

export const options = z.strictObject({
  url: z.string().default("").describe(
    'ClickHouse HTTP(S) URL (CLICKHOUSE_URL), e.g. "https://ch.example:8443"',
  ),
  host: z.string().default("").describe(
    "ClickHouse host (CLICKHOUSE_HOST), used when url is empty",
  ),
  port: z.int().min(1).max(65535).default(8123).describe("ClickHouse HTTP port (CLICKHOUSE_PORT)"),
  secure: z.boolean().default(false).describe("Use HTTPS with host/port"),
  user: z.string().default("default").describe("ClickHouse user (CLICKHOUSE_USER)"),
  password: z.string().default("").describe(
    "ClickHouse password (CLICKHOUSE_PASSWORD); never logged",
  ),
  database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "use letters, digits and _ only").default(
    "default",
  )
    .describe("Database of the pipeline's tables (CLICKHOUSE_DB)"),
  request_timeout: duration().prefault("60s").describe("Timeout of one request"),
  cluster: z.string().default("").describe(
    "Cluster name: DDL runs ON CLUSTER and tables use Replicated engines",
  ),
  embedded: z.strictObject({
    enabled: z.boolean().default(false).describe(
      "Start the embedded store (chDB) and write there; only where url and host are empty",
    ),
    host: z.string().min(1).default("127.0.0.1").describe(
      "Listen address of the embedded store: loopback by default; 0.0.0.0 for a Grafana elsewhere",
    ),
    port: z.int().min(0).max(65535).default(8123).describe(
      "Port of the embedded store (0: any free port)",
    ),
    path: z.string().min(1).default("data/clickhouse").describe(
      "Where the embedded store keeps its data",
    ),
  }).prefault({}).describe("The embedded ClickHouse store: for demos and trials, never implied"),
}).superRefine((o, ctx) => {
  const target = o.url.trim() !== "" || o.host.trim() !== "";
  if (!target && !o.embedded.enabled) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message:
        "no ClickHouse to write to: set url or host (CLICKHOUSE_URL or CLICKHOUSE_HOST in the shipped spec), or embedded.enabled: true for the embedded store; `deno task demo` runs on it",
    });
  } else if (target && o.embedded.enabled) {
    ctx.addIssue({
      code: "custom",
      path: ["embedded", "enabled"],
      message: "is true although url or host names a ClickHouse: choose one",
    });
  }
  const url = o.url.trim() && urlProblem(o.url.trim());
  if (url) ctx.addIssue({ code: "custom", path: ["url"], message: url });
  const host = !o.url.trim() && o.host.trim() && hostProblem(o.host.trim());
  if (host) ctx.addIssue({ code: "custom", path: ["host"], message: host });
});

/** URL parameters @clickhouse/client takes; it refuses any other (`Unknown URL parameters`). */
const CLIENT_PARAMS = new Set([
  "application",
  "pathname",
  "request_timeout",
  "max_open_connections",
  "compression_request",
  "compression_response",
  "log_level",
  "keep_alive_enabled",
  "keep_alive_idle_socket_ttl",
]);

/** What @clickhouse/client would refuse of `url`, or the sink could not work with. */
function urlProblem(url: string): string | undefined {
  // The value is repeated only when it holds no credentials.
  const shown = url.includes("@") ? "the URL" : `"${url}"`;
  if (!/^[a-z][\w+.-]*:\/\//i.test(url)) {
    const fix = url.includes("@") ? "start it with http://" : `write "http://${url}"`;
    return `${shown} has no scheme: ${fix}, or https:// for TLS`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${shown} is not a URL: write it as http://host:8123, or https://host:8443 for TLS`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `the sink speaks ClickHouse's HTTP interface, not ${
      parsed.protocol.slice(0, -1)
    }: use http:// (port 8123) or https:// (port 8443)`;
  }
  if (parsed.pathname !== "/") {
    return `the path "${parsed.pathname}" would be taken for a database by the ClickHouse client; ` +
      "set database (CLICKHOUSE_DB) instead, or ?pathname=... for a proxy's path";
  }
  for (const key of parsed.searchParams.keys()) {
    if (key === "access_token") {
      return "access_token is not supported: the sink signs in with user and password";
    }
    if (key === "session_id") {
      return "session_id is not supported: the sink sends requests in parallel, which one session refuses";
    }
    if (!CLIENT_PARAMS.has(key) && !/^(clickhouse_setting_|ch_|http_header_)./.test(key)) {
      return `unknown URL parameter "${key}": the ClickHouse client takes ${
        [...CLIENT_PARAMS].join(", ")
      }, ch_<setting> and http_header_<name>`;
    }
  }
  return undefined;
}

/** What keeps `host` from being the host of http(s)://host:port. */
function hostProblem(host: string): string | undefined {
  if (/^[a-z][\w+.-]*:\/\//i.test(host)) {
    return "is a URL, not a host name: set url (CLICKHOUSE_URL) to it";
  }
  if (!host.startsWith("[") && (host.match(/:/g)?.length ?? 0) > 1) {
    return "an IPv6 address goes in brackets, e.g. [::1]";
  }
  if (/:\d*$/.test(host)) return "holds a port: set port (CLICKHOUSE_PORT) instead";
  try {
    new URL(`http://${host}`);
  } catch {
    return "is not a host name";
  }
  return undefined;
}

export type Options = z.output<typeof options>;

/** The HTTP URL to use, or undefined when neither url nor host is set. */
export function endpointUrl(opts: Options): string | undefined {
  if (opts.url.trim()) return opts.url.trim();
  if (opts.host.trim()) {
    return `${opts.secure ? "https" : "http"}://${opts.host.trim()}:${opts.port}`;
  }
  return undefined;
}
