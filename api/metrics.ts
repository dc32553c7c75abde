/**
 * `/metrics` in Prometheus' text format: API requests by route and status, request latency as a
 * histogram (so a p95 can be computed), backfill progress, rows ingested, sync duration, the time
 * of the last successful sync, lag, errors by kind (counters that only go up), build info.
 */
import type { Health } from "../engine/health.ts";

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

export function metricsText(health: Health, stats: RequestStats, version = "unknown"): string {
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
  return lines.join("\n") + "\n";
}
