/**
 * Filling an aggregation from the rows already stored: its buckets recomputed by the sink's own
 * statement (aggregates.ts, the one a unit's commit runs), chunk by chunk of tags and time
 * window, each chunk recorded as done; a new derived table filled by its view's SELECT.
 */
import { aggregationInput } from "../../engine/mod.ts";
import { NO_INSERT_MERGE } from "./_client.ts";
import { q } from "./ddl.ts";
import type { Ddl } from "./ddl.ts";
import type { TableDiff } from "./_migrate_diff.ts";
import { countChunks, pending, runAlters, stepOf } from "./_migrate_plan.ts";
import type { Planner } from "./_migrate_plan.ts";
import {
  chunkSize,
  exec,
  FINISHED,
  forgetChunks,
  hashOf,
  listChunks,
  lost,
  mark,
  markOf,
  runChunks,
  STARTED,
} from "./_migrate_run.ts";
import type { ChunkSource, Planned } from "./_migrate_run.ts";
import { chTime } from "./insert.ts";

/**
 * An aggregation filled by recomputing its buckets from its source, chunk by chunk, with the
 * sink's own recompute statement (aggregates.ts): new (`fill`, every stored row), or changed
 * (`refill`: a column added; buckets whose source rows retention may have trimmed keep theirs).
 */
export async function fillStep(
  p: Planner,
  name: string,
  kind: "fill" | "refill",
  diff?: TableDiff,
  create?: string,
): Promise<Planned> {
  const agg = p.model.aggregations[name]!;
  const sql = p.sql.get(name)!;
  const input = aggregationInput(p.model, agg.from)!;
  const keep = p.model.tables[agg.from]?.ttl?.keep ?? p.model.aggregations[agg.from]?.ttl;
  const source: ChunkSource = {
    table: agg.from,
    tag: agg.tag_column,
    time: agg.time_column,
    site: input.site,
    bucket: agg.bucket,
    since: kind === "refill" && keep ? Date.now() - keep + agg.bucket : undefined,
  };
  const prefix = `${markOf(kind, name)}:${await hashOf(sql)}`;
  const counted = p.filling.has(agg.from) ? undefined : await countChunks(p, source, prefix);
  p.filling.add(name);
  const changes = [
    ...(diff?.changes ?? [`new aggregation of ${agg.from}`]),
    ...(pending(p, kind, name) ? ["an interrupted apply was filling it"] : []),
    ...(kind === "refill"
      ? [
        `every bucket is recomputed from ${agg.from}${
          keep ? ", except buckets whose source rows retention may have trimmed" : ""
        }`,
      ]
      : []),
  ];
  const step = stepOf(p, name, "fill", {
    changes,
    statements: create ? [create] : (diff?.alters ?? []).map((a) => a.sql),
    chunks: {
      statements: [sql],
      size: chunkSize(source, p.options),
      total: counted?.total,
      done: counted?.done ?? 0,
      from: agg.from,
    },
    loses: lost(diff?.loses ?? []),
  });
  return {
    step,
    run: async () => {
      await mark(p.conn, p.pipeline, markOf(kind, name), STARTED);
      if (create) await exec(p.conn, `creating ${name}`, create);
      await runAlters(p, name, diff?.alters ?? []);
      const chunks = await listChunks(p.conn, source, p.options);
      const ran = await runChunks(
        p.conn,
        p.pipeline,
        step,
        prefix,
        chunks,
        (c) =>
          exec(p.conn, `filling ${name}`, sql, {
            tags: c.tags!,
            from: chTime(BigInt(c.from!) * 10_000n),
            to: chTime(BigInt(c.to!) * 10_000n - 1n),
            site: c.site ?? p.model.site ?? p.pipeline,
          }, NO_INSERT_MERGE),
        p.options,
        p.marks,
      );
      await mark(p.conn, p.pipeline, markOf(kind, name), FINISHED);
      await forgetChunks(p.conn, p.pipeline, prefix);
      return ran;
    },
  };
}

/** A new derived table: its view's SELECT over the stored rows, in one statement. */
export function fillDerivedStep(p: Planner, d: Ddl, from: string): Planned {
  const table = p.model.tables[d.name]!;
  const view = p.ddl.find((x) => x.name === `${d.name}__mv`)!;
  const insert = `INSERT INTO ${p.conn.db}.${q(d.name)} (${
    Object.keys(table.columns).map(q).join(", ")
  }) ${view.select}`;
  p.filling.add(d.name);
  const prefix = markOf("fill", d.name);
  const step = stepOf(p, d.name, "fill", {
    changes: [`new table derived from ${from}`],
    statements: [d.sql],
    chunks: {
      statements: [insert],
      size: "the whole table (a derived table's SELECT is not cut by tag and time)",
      total: 1,
      done: p.marks.has(`${prefix}:all`) ? 1 : 0,
      from,
    },
  });
  return {
    step,
    run: async () => {
      await mark(p.conn, p.pipeline, prefix, STARTED);
      await exec(p.conn, `creating ${d.name}`, d.sql);
      const ran = await runChunks(
        p.conn,
        p.pipeline,
        step,
        prefix,
        [{ id: "all" }],
        () => exec(p.conn, `filling ${d.name}`, insert),
        p.options,
        p.marks,
      );
      await mark(p.conn, p.pipeline, prefix, FINISHED);
      return ran;
    },
  };
}
