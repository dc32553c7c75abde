/**
 * Options of the ClickHouse sink. `url` wins; otherwise `host`/`port` (the seed's
 * CLICKHOUSE_HOST/PORT); the embedded store only when `embedded.enabled` says so.
 */
import { z } from "zod";
import { duration } from "../../engine/mod.ts";
import {
  CLUSTER_DEFAULTS,
  replicaNameProblem,
  replicaPathProblem,
  shardingKeyProblem,
} from "./cluster.ts";
import type { Target } from "./ddl.ts";

/** A string refined by a function that says what is wrong with it. */
const checked = (problem: (text: string) => string | undefined) =>
  z.string().superRefine((text, ctx) => {
    const message = problem(text);
    if (message) ctx.addIssue({ code: "custom", message });
  });

/** Cluster mode (cluster.ts): the cluster, how rows are sharded and replicated. */
const cluster = z.strictObject({
  name: z.string().min(1).describe("The cluster's name in the servers' remote_servers"),
  sharding_key: checked(shardingKeyProblem).default(CLUSTER_DEFAULTS.shardingKey).describe(
    "A hash over {site} and {tag}, the same for every table: all rows of a tag live on one shard",
  ),
  replica_path: checked(replicaPathProblem).default(CLUSTER_DEFAULTS.replicaPath).describe(
    "Keeper path of a sharded table's replicas, with {shard}, {database} and {table}",
  ),
  replica_name: checked(replicaNameProblem).default(CLUSTER_DEFAULTS.replicaName).describe(
    "Name of a replica within its shard, with {replica}",
  ),
  deduplication_window: z.strictObject({
    blocks: z.int().max(1_000_000).default(CLUSTER_DEFAULTS.deduplicationWindow).superRefine(
      (n, ctx) => {
        if (n >= 100) return;
        ctx.addIssue({
          code: "custom",
          message:
            `${n} is too few: a retry that comes after its block's hash is dropped is stored twice; keep at least 100`,
        });
      },
    )
      .describe(
        "replicated_deduplication_window: the last inserted blocks a retry is checked against",
      ),
    time: duration({ min: 3_600_000 }).prefault("7d").describe(
      "replicated_deduplication_window_seconds: how long a block's hash is kept",
    ),
  }).prefault({}).describe(
    "How long a retried insert is still recognized; set on every replicated table, because the sink's exactly-once rests on it",
  ),
});

/** `TTL … TO VOLUME`: tables on a storage policy whose rows move to cheaper volumes as they age. */
const tiering = z.strictObject({
  policy: z.string().min(1).describe(
    "A storage policy of the server (storage_configuration) holding the volumes named below",
  ),
  tables: z.record(
    z.string(),
    z.array(z.strictObject({
      after: duration({ min: 3_600_000 }).describe(
        "Age (from the table's TTL or time column) at which rows move",
      ),
      volume: z.string().min(1).describe("The volume of the policy they move to"),
    })).min(1),
  ).describe("Per table or aggregation: its moves, earliest first; the table's ttl deletes after"),
}).superRefine((t, ctx) => {
  for (const [name, moves] of Object.entries(t.tables)) {
    moves.forEach((m, i) => {
      const before = moves[i - 1];
      if (before && m.after <= before.after) {
        ctx.addIssue({
          code: "custom",
          path: ["tables", name, i, "after"],
          message: "must be later than the move before it",
        });
      }
    });
  }
});

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
  cluster: z.preprocess(
    (v) => typeof v === "string" ? (v.trim() === "" ? undefined : { name: v.trim() }) : v,
    cluster.optional(),
  ).describe(
    "A ClickHouse cluster (its name, or name and layout): Replicated <table>_local tables ON CLUSTER behind Distributed tables sharded by (site, tag). Untested on a real cluster",
  ),
  tiering: tiering.optional().describe(
    "A storage policy whose volumes tables move through as they age (TTL … TO VOLUME)",
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
  if (o.cluster && o.embedded.enabled) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster"],
      message:
        "needs a ClickHouse cluster, and the embedded store is one process without Keeper: set url or host to a node of the cluster",
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

/** Where the sink's DDL goes: the database, and on a cluster its layout. */
export function targetOf(opts: Options): Target {
  const c = opts.cluster;
  return {
    database: opts.database,
    ...(c && {
      cluster: c.name,
      layout: {
        shardingKey: c.sharding_key,
        replicaPath: c.replica_path,
        replicaName: c.replica_name,
        deduplicationWindow: c.deduplication_window.blocks,
        deduplicationWindowMs: c.deduplication_window.time,
      },
    }),
    ...(opts.tiering && { tiering: opts.tiering }),
  };
}

/** The HTTP URL to use, or undefined when neither url nor host is set. */
export function endpointUrl(opts: Options): string | undefined {
  if (opts.url.trim()) return opts.url.trim();
  if (opts.host.trim()) {
    return `${opts.secure ? "https" : "http"}://${opts.host.trim()}:${opts.port}`;
  }
  return undefined;
}
