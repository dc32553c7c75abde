/**
 * `/metrics` in Prometheus' text format: API requests by route and status, request latency as a
 * histogram (so a p95 can be computed), backfill progress, rows ingested, sync duration, the time
 * of the last successful sync, lag, errors by kind (counters that only go up), build info, and
 * per table of the store the rows and bytes on disk (what retention costs).
 */
import type { Health } from "../engine/health.ts";
import type { QueryService } from "../engine/plugin.ts";

/** Rows and compressed bytes on disk of one table, over its active parts. */
export interface TableSize {
  table: string;
  rows: number;
  bytes: number;
}

/**
 * The store's tables by size: ClickHouse's system.parts for the database the queries run in,
 * active parts only. Parts not yet merged still count rows a ReplacingMergeTree will collapse,
 * so right after a backfill the figures are above what the table settles at.
 */
export const TABLE_SIZES_SQL =
  "SELECT table, toString(sum(rows)) AS rows, toString(sum(data_compressed_bytes)) AS bytes " +
  "FROM system.parts WHERE database = currentDatabase() AND active AND NOT startsWith(table, '__') " +
  "GROUP BY table ORDER BY table";

/**
 * Table sizes, read at most every `everyMs` (a scrape or a status request per second costs one
 * query per period); undefined when the store does not answer within `waitMs` (a hung store
 * holds up neither /metrics nor the status route).
 */
export function tableSizes(
  queries: QueryService | undefined,
  options: { everyMs?: number; waitMs?: number } = {},
): () => Promise<TableSize[] | undefined> {
  const { everyMs = 30_000, waitMs = 2_000 } = options;
  let last: { at: number; sizes: Promise<TableSize[] | undefined> } | undefined;
  return () => {
    if (!queries) return Promise.resolve(undefined);
    if (last && performance.now() - last.at < everyMs) return last.sizes;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(new Error("no answer in time")), waitMs);
    const sizes = queries.query<{ table: string; rows: string; bytes: string }>(
      TABLE_SIZES_SQL,
      {},
      { timeoutMs: waitMs, signal: stop.signal },
    ).then(
      (rows) =>
        rows.filter((r) => typeof r.table === "string").map((r) => ({
          table: r.table,
          rows: Number(r.rows),
          bytes: Number(r.bytes),
        })),
      () => undefined,
    ).finally(() => clearTimeout(timer));
    last = { at: performance.now(), sizes };
    return sizes;
  };
}

/** Per table: rows, bytes on disk and bytes per row, as the status route answers them. */
export function storageView(sizes: TableSize[]): Record<string, Record<string, number | null>> {
  return Object.fromEntries(sizes.map((s) => [s.table, {
    rows: s.rows,
    bytes: s.bytes,
    bytes_per_row: s.rows > 0 ? Math.round(s.bytes / s.rows * 100) / 100 : null,
  }]));
}

/** Upper bounds of the latency buckets, in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface RouteStats {
  count: Map<string, number>;
  /** Requests at or under each bucket's bound (cumulative at exposition). */
  buckets: number[];
  seconds: number;
  requests: number;
}

export interface RequestStats {
  note(route: string, status: number, seconds: number): void;
  routes: Map<string, RouteStats>;
}

export function createRequestStats(): RequestStats {
  const routes = new Map<string, RouteStats>();
  return {
    routes,
    note(route, status, seconds) {
      const s = routes.get(route) ??
        { count: new Map(), buckets: LATENCY_BUCKETS.map(() => 0), seconds: 0, requests: 0 };
      s.count.set(String(status), (s.count.get(String(status)) ?? 0) + 1);
      const bucket = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
      if (bucket !== -1) s.buckets[bucket]!++;
      s.seconds += seconds;
      s.requests++;
      routes.set(route, s);
    },
  };
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function metricsText(
  health: Health,
  stats: RequestStats,
  version = "unknown",
  sizes: TableSize[] = [],
): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  metric("historian_sync_build_info", "gauge", "The running build (always 1)");
  lines.push(`historian_sync_build_info{version="${label(version)}"} 1`);
  metric("historian_sync_api_requests_total", "counter", "API requests by route and status");
  for (const [route, s] of stats.routes) {
    for (const [status, n] of s.count) {
      lines.push(
        `historian_sync_api_requests_total{route="${label(route)}",status="${status}"} ${n}`,
      );
    }
  }
  metric("historian_sync_api_request_seconds", "histogram", "API request latency by route");
  for (const [route, s] of stats.routes) {
    const r = label(route);
    let cumulative = 0;
    LATENCY_BUCKETS.forEach((le, i) => {
      cumulative += s.buckets[i]!;
      lines.push(
        `historian_sync_api_request_seconds_bucket{route="${r}",le="${le}"} ${cumulative}`,
      );
    });
    lines.push(`historian_sync_api_request_seconds_bucket{route="${r}",le="+Inf"} ${s.requests}`);
    lines.push(`historian_sync_api_request_seconds_sum{route="${r}"} ${s.seconds}`);
    lines.push(`historian_sync_api_request_seconds_count{route="${r}"} ${s.requests}`);
  }
  const b = health.backfill;
  metric("historian_sync_backfill_units", "gauge", "Backfill work units by state");
  lines.push(`historian_sync_backfill_units{state="total"} ${b?.units ?? 0}`);
  lines.push(`historian_sync_backfill_units{state="done"} ${b?.done ?? 0}`);
  lines.push(`historian_sync_backfill_units{state="failed"} ${b?.failed ?? 0}`);
  metric("historian_sync_rows_ingested_total", "counter", "Readings stored by this process");
  lines.push(`historian_sync_rows_ingested_total{stage="backfill"} ${b?.rows ?? 0}`);
  lines.push(`historian_sync_rows_ingested_total{stage="sync"} ${health.syncRows ?? 0}`);
  metric("historian_sync_last_sync_seconds", "gauge", "Duration of the last sync");
  if (health.lastSync?.seconds !== undefined) {
    lines.push(`historian_sync_last_sync_seconds ${health.lastSync.seconds}`);
  }
  metric(
    "historian_sync_last_success_timestamp_seconds",
    "gauge",
    "When the last successful sync finished (Unix time)",
  );
  if (health.lastSuccess) {
    lines.push(
      `historian_sync_last_success_timestamp_seconds ${health.lastSuccess.getTime() / 1000}`,
    );
  }
  metric(
    "historian_sync_lag_seconds",
    "gauge",
    "How far the synced data is behind now (upper bound of the last successful sync)",
  );
  const upper = health.lastSync?.upper;
  if (upper) {
    lines.push(
      `historian_sync_lag_seconds ${Math.max(0, (Date.now() - Date.parse(upper)) / 1000)}`,
    );
  }
  metric("historian_sync_errors_total", "counter", "Errors by kind since the start");
  for (const [kind, n] of health.errorCounts) {
    lines.push(`historian_sync_errors_total{kind="${label(kind)}"} ${n}`);
  }
  if (sizes.length > 0) {
    metric("historian_sync_table_rows", "gauge", "Rows stored per table (active parts)");
    for (const s of sizes) {
      lines.push(`historian_sync_table_rows{table="${label(s.table)}"} ${s.rows}`);
    }
    metric("historian_sync_table_bytes", "gauge", "Compressed bytes on disk per table");
    for (const s of sizes) {
      lines.push(`historian_sync_table_bytes{table="${label(s.table)}"} ${s.bytes}`);
    }
    metric("historian_sync_table_bytes_per_row", "gauge", "Bytes on disk per stored row");
    for (const s of sizes.filter((s) => s.rows > 0)) {
      lines.push(
        `historian_sync_table_bytes_per_row{table="${label(s.table)}"} ${s.bytes / s.rows}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
