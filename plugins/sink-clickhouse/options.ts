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
});

export type Options = z.output<typeof options>;

/** The HTTP URL to use, or undefined when neither url nor host is set. */
export function endpointUrl(opts: Options): string | undefined {
  if (opts.url.trim()) return opts.url.trim();
  if (opts.host.trim()) {
    return `${opts.secure ? "https" : "http"}://${opts.host.trim()}:${opts.port}`;
  }
  return undefined;
}
