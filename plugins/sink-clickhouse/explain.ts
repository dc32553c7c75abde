/**
 * `validate --connect` against ClickHouse: the model is created in a scratch database (so
 * ClickHouse itself checks every type, key, TTL and materialized view), each aggregation's
 * SELECT and each route's SQL is EXPLAINed there with sample parameter values, and the scratch
 * database is dropped. Nothing of the pipeline's own database is touched.
 */
import type { ModelIssue, SpecStatement, StorageModel } from "../../engine/mod.ts";
import { aggregateSql } from "./aggregates.ts";
import { reasonOf } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { modelDdl, q } from "./ddl.ts";
import type { Ddl } from "./ddl.ts";
import { chTime } from "./insert.ts";

/** Where in the spec a DDL statement comes from. */
function pathOf(d: Ddl, model: StorageModel): (string | number)[] {
  const name = d.name.replace(/__mv$/, "");
  if (name in model.tables) return ["tables", name];
  if (name in model.aggregations) return ["aggregations", name];
  return model.assets ? ["assets"] : [];
}

/** ClickHouse's own words, without the stack or the version suffix. */
function said(e: unknown): string {
  return reasonOf(e).replace(/^.*?DB::Exception: /, "").replace(/\s*\(version [^)]*\)\.?$/, "")
    .replace(/ In scope .*?(?= Maybe you meant|$)/, "").trim();
}

export async function explainModel(
  conn: Conn,
  model: StorageModel,
  pipeline: string,
  statements: SpecStatement[],
): Promise<ModelIssue[]> {
  const scratch = `${conn.target.database}__validate_${crypto.randomUUID().slice(0, 8)}`;
  const issues: ModelIssue[] = [];
  const client = conn.clientFor(scratch);
  try {
    for (const d of modelDdl({ database: scratch }, pipeline, model)) {
      try {
        await conn.root.command({ query: d.sql });
      } catch (e) {
        issues.push({ path: pathOf(d, model), message: `ClickHouse refuses it: ${said(e)}` });
        if (d.kind === "database") return issues;
      }
    }
    const now = chTime(BigInt(Date.now()) * 10_000n);
    for (const agg of aggregateSql(q(scratch), model)) {
      try {
        await client.command({
          query: `EXPLAIN ${agg.select}`,
          query_params: { tags: [""], from: now, to: now, site: "" },
        });
      } catch (e) {
        issues.push({ path: ["aggregations", agg.name], message: `ClickHouse: ${said(e)}` });
      }
    }
    for (const s of statements) {
      try {
        await client.command({ query: `EXPLAIN ${s.sql}`, query_params: s.params });
      } catch (e) {
        issues.push({ path: s.path, message: `ClickHouse: ${said(e)}` });
      }
    }
  } finally {
    await conn.root.command({ query: `DROP DATABASE IF EXISTS ${q(scratch)} SYNC` }).catch(
      () => {},
    );
    await client.close();
  }
  return issues;
}
