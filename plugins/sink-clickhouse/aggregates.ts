/**
 * Aggregations, kept by ClickHouse: for the tags and buckets a unit touched, one
 * `INSERT … SELECT … FINAL … GROUP BY` recomputes every bucket from the deduplicated raw rows
 * into a ReplacingMergeTree, so retries, replays and revisions never double count.
 */
import { aggregationInput, orderedAggregations } from "../../engine/mod.ts";
import type { StorageModel } from "../../engine/mod.ts";
import { COMPUTED_AT, q, supportsFinal } from "./ddl.ts";

export interface AggregateSql {
  name: string;
  /** Takes {tags:Array(String)}, {from:DateTime64(7)}, {to:DateTime64(7)} and {site:String}. */
  sql: string;
  /** The SELECT of `sql`, for EXPLAIN. */
  select: string;
}

/**
 * In dependency order: a rollup (an aggregation of an aggregation) recomputes its coarser
 * buckets from the finer ones just recomputed, not from the raw rows again.
 */
export function aggregateSql(db: string, model: StorageModel): AggregateSql[] {
  return orderedAggregations(model).map(([name, a]) => {
    const source = aggregationInput(model, a.from)!;
    const seconds = Math.round(a.bucket / 1000);
    const bucketOf = (expr: string) => `toStartOfInterval(${expr}, INTERVAL ${seconds} SECOND)`;
    const bucket = bucketOf(q(a.time_column));
    // Where sites share the source table, buckets are per site and tag.
    const site = source.site;
    const keys = site ? [site, a.tag_column] : [a.tag_column];
    const columns = [...keys, a.bucket_column, ...Object.keys(a.columns), COMPUTED_AT];
    const exprs = Object.values(a.columns).map((c) => c.expr).join(", ");
    const select = `SELECT ${keys.map(q).join(", ")}, ${bucket}, ${exprs}, now64(3) ` +
      `FROM ${db}.${q(a.from)}${supportsFinal(source.engine) ? " FINAL" : ""} ` +
      `WHERE ${site ? `${q(site)} = {site:String} AND ` : ""}` +
      `${q(a.tag_column)} IN {tags:Array(String)} ` +
      `AND ${q(a.time_column)} >= ${bucketOf("{from:DateTime64(7, 'UTC')}")} ` +
      `AND ${q(a.time_column)} < ${
        bucketOf("{to:DateTime64(7, 'UTC')}")
      } + INTERVAL ${seconds} SECOND ` +
      `GROUP BY ${keys.map(q).join(", ")}, ${bucket}`;
    const sql = `INSERT INTO ${db}.${q(name)} (${columns.map(q).join(", ")}) ${select}`;
    return { name, sql, select };
  });
}
