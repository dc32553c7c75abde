/**
 * Which SQL a request runs. A plain route runs its `sql`; a route with variants runs the SQL of
 * its `by` parameter's value; the `fit` value (aggregation=auto) picks by the bucket width the
 * request implies, before the query, so ClickHouse plans only the SQL that is needed. With
 * `raw_tags`, the tags that must be read raw (text tags) go to the finest level in a query of
 * their own, and the two parts' series are merged.
 */
import type { ParamValue } from "./params.ts";
import type { RouteSpec } from "./spec.ts";

type Values = Record<string, ParamValue | undefined>;

export interface PlannedQuery {
  sql: string;
  values: Values;
}

/** The level of `fit` for a request: the widest whose buckets are not wider than the request's. */
export function fitLevel(
  fit: NonNullable<NonNullable<RouteSpec["variants"]>["fit"]>,
  values: Values,
): { level: string; finest: string } {
  const span = Number(values[fit.to]) - Number(values[fit.from]);
  const buckets = Math.max(Math.floor(Number(values[fit.points]) / fit.per_bucket), 1);
  const width = Math.floor(span / buckets) + 1;
  // Finest first; the finest is used when every level is wider than the request's buckets.
  const levels = Object.entries(fit.levels).sort((a, b) => a[1] - b[1]);
  let pick = levels[0]!;
  for (const level of levels) if (level[1] <= width) pick = level;
  return { level: pick[0], finest: levels[0]![0] };
}

/**
 * The queries that answer a request (one, or two when raw tags are split off). `rawTags` runs
 * the fit's raw_tags lookup; it is called only when the request reads a level above the finest.
 */
export async function planQueries(
  route: RouteSpec,
  values: Values,
  rawTags: (sql: string) => Promise<ReadonlySet<string>>,
): Promise<PlannedQuery[]> {
  if (route.sql) return [{ sql: route.sql, values }];
  const { by, sql, fit } = route.variants!;
  const value = String(values[by]);
  if (!fit || value !== fit.value) return [{ sql: sql[value]!, values }];
  const { level, finest } = fitLevel(fit, values);
  if (!fit.raw_tags || level === finest) return [{ sql: sql[level]!, values }];
  const param = fit.raw_tags.param;
  const raw = await rawTags(fit.raw_tags.sql);
  const tags = values[param] as string[];
  const rest = tags.filter((t) => !raw.has(t));
  const read = tags.filter((t) => raw.has(t));
  return [
    ...(rest.length > 0 ? [{ sql: sql[level]!, values: { ...values, [param]: rest } }] : []),
    ...(read.length > 0 ? [{ sql: sql[finest]!, values: { ...values, [param]: read } }] : []),
  ];
}
