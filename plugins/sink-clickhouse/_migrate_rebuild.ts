/**
 * What cannot change in place (the engine, a key, the partitioning, a key column's type) is
 * rebuilt: a new table of the spec's definition under `<name>__migrate`, filled from the old one
 * chunk by chunk with `INSERT … SELECT` (each chunk with its own deduplication token, so a chunk
 * run again after a crash is stored once), counted against it, `EXCHANGE TABLES`, and the old
 * one dropped. Materialized views name their tables, so after the exchange they read and fill
 * the new one. An interrupted rebuild is resumed, or finished by dropping the old table.
 */
import type { QueryParams } from "../../engine/mod.ts";
import { isReadingsTable } from "../../engine/mod.ts";
import { NO_INSERT_MERGE, rows } from "./_client.ts";
import { createTable, q, supportsFinal, tagColumnOf, timeColumnOf } from "./ddl.ts";
import type { Ddl } from "./ddl.ts";
import { columnInfo, tableInfo } from "./drift.ts";
import type { Inspection } from "./drift.ts";
import { isStored, tableDiff } from "./_migrate_diff.ts";
import type { TableDiff } from "./_migrate_diff.ts";
import { countChunks, manualStep, pending, stepOf, tableOf } from "./_migrate_plan.ts";
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
  NONE,
  rebuiltName,
  refused,
  runChunks,
  STARTED,
} from "./_migrate_run.ts";
import type { Chunk, ChunkSource, Planned } from "./_migrate_run.ts";
import { chTime } from "./insert.ts";

/** Where a table's rows are cut for copying: by tag and time where it has both, else by partition. */
function copySource(p: Planner, name: string): ChunkSource {
  const t = p.model.tables[name];
  if (t && isReadingsTable(t)) return { table: name, tag: tagColumnOf(t), time: timeColumnOf(t) };
  const a = p.model.aggregations[name];
  if (a) return { table: name, tag: a.tag_column, time: a.bucket_column, bucket: a.bucket };
  return { table: name };
}

/**
 * What cannot change in place: a new table of the spec's definition, filled from the old one
 * chunk by chunk (each insert with its own deduplication token, so a chunk run again after a
 * crash is stored once), counted against it, exchanged with it, and the old one dropped.
 */
export async function rebuildStep(
  p: Planner,
  ins: Inspection,
  diff: TableDiff,
): Promise<Planned> {
  const d = ins.ddl;
  const name = d.name;
  const copy = rebuiltName(name);
  const db = p.conn.db;
  const create = createTable(p.conn.target, copy, d.shape!);
  const have = new Set(ins.have!.map((c) => c.name));
  const columns = ins.want!.filter((c) => isStored(c) && c.default_kind !== "MATERIALIZED")
    .map((c) => c.name).filter((c) => have.has(c));
  const wanted = new Set(ins.want!.map((c) => c.name));
  const loses = ins.have!.filter((c) => isStored(c) && !wanted.has(c.name)).map((c) => c.name);
  const source = copySource(p, name);
  const where = source.tag && source.time
    ? `${q(source.tag)} IN {tags:Array(String)} AND ${
      q(source.time)
    } >= {from:DateTime64(3, 'UTC')} AND ${q(source.time)} < {to:DateTime64(3, 'UTC')}`
    : "_partition_id = {partition:String}";
  const list = columns.map(q).join(", ");
  // In the new sort key's order: each retried chunk forms the same blocks, so its token
  // (token_0, token_1, … per block) finds every one of them already stored.
  const key = d.shape!.orderBy.filter((c) => columns.includes(c));
  const order = (key.length ? key : columns).map(q).join(", ");
  const insert = `INSERT INTO ${db}.${q(copy)} (${list}) SELECT ${list} FROM ${db}.${
    q(name)
  } WHERE ${where} ORDER BY ${order}`;
  const prefix = `${markOf("rebuild", name)}:${await hashOf(create)}`;
  const counted = await countChunks(p, source, prefix);
  const then = [
    `EXCHANGE TABLES ${db}.${q(copy)} AND ${db}.${q(name)}`,
    `DROP TABLE ${db}.${q(copy)} SYNC`,
  ];
  const step = stepOf(p, name, "rebuild", {
    changes: [
      ...diff.rebuild,
      ...diff.changes,
      `rows are copied into ${copy}, counted against ${name} (the copy must hold as many), exchanged, and the old table dropped`,
    ],
    statements: [create],
    chunks: {
      statements: [insert],
      size: chunkSize(source, p.options),
      ...counted,
      from: name,
    },
    then,
    loses: lost(loses),
  });
  return {
    step,
    run: async () => {
      await mark(p.conn, p.pipeline, markOf("rebuild", name), STARTED);
      await exec(p.conn, `creating ${copy}`, create);
      const chunks = await listChunks(p.conn, source, p.options);
      const ran = await runChunks(
        p.conn,
        p.pipeline,
        step,
        prefix,
        chunks,
        (c, unit) =>
          exec(p.conn, `copying ${name}`, insert, chunkParams(c), {
            insert_deduplicate: 1,
            insert_deduplication_token: unit,
            ...NO_INSERT_MERGE,
          }),
        p.options,
        p.marks,
      );
      await checkCopy(p, name, copy, d, columns);
      for (const sql of then) await exec(p.conn, `rebuilding ${name}`, sql);
      await mark(p.conn, p.pipeline, markOf("rebuild", name), FINISHED);
      await forgetChunks(p.conn, p.pipeline, prefix);
      return ran;
    },
  };
}

/** The copy holds every row of the old table (every key, where the new engine collapses them). */
async function checkCopy(p: Planner, name: string, copy: string, d: Ddl, columns: string[]) {
  const db = p.conn.db;
  const collapses = supportsFinal(d.shape!.engine);
  const key = d.shape!.orderBy.filter((c) => columns.includes(c)).map(q).join(", ");
  const [want] = await rows<{ n: string }>(
    p.conn,
    `counting the rows of ${name}`,
    collapses && key
      ? `SELECT count() AS n FROM (SELECT 1 FROM ${db}.${q(name)} GROUP BY ${key})`
      : `SELECT count() AS n FROM ${db}.${q(name)}`,
  );
  const [got] = await rows<{ n: string }>(
    p.conn,
    `counting the rows of ${copy}`,
    `SELECT count() AS n FROM ${db}.${q(copy)}${collapses ? " FINAL" : ""}`,
  );
  if (want!.n !== got!.n) {
    throw refused(
      `${name} was not exchanged: its copy ${copy} holds ${got!.n} rows, ${name} holds ${
        want!.n
      }; ` +
        `${name} is unchanged: drop ${copy} (DROP TABLE ${db}.${q(copy)}) and apply again`,
    );
  }
}

/** A rebuild an apply did not finish: copy the rest, or, once exchanged, drop the old table. */
export async function resumeRebuild(p: Planner, ins: Inspection): Promise<Planned> {
  const name = ins.ddl.name;
  const copy = rebuiltName(name);
  const db = p.conn.db;
  if (!pending(p, "rebuild", name)) {
    return manualStep(stepOf(p, name, "manual", {
      changes: [
        `${copy} exists, but no rebuild of ${name} is under way: drop it by hand (DROP TABLE ${db}.${
          q(copy)
        }) once you know it holds nothing you need; then plan again`,
      ],
    }));
  }
  const diff = ins.existing ? tableDiff(tableOf(p, name), ins) : undefined;
  if (diff && diff.changes.length + diff.rebuild.length === 0) {
    const drop = `DROP TABLE ${db}.${q(copy)} SYNC`;
    const step = stepOf(p, name, "rebuild", {
      changes: [`an interrupted rebuild exchanged the tables: the old rows are left in ${copy}`],
      then: [drop],
    });
    return {
      step,
      run: async () => {
        await exec(p.conn, `dropping ${copy}`, drop);
        await mark(p.conn, p.pipeline, markOf("rebuild", name), FINISHED);
        return NONE;
      },
    };
  }
  if (!ins.existing || !diff) {
    return manualStep(stepOf(p, name, "manual", {
      changes: [`${copy} exists but ${name} does not: rename ${copy} to ${name} by hand`],
    }));
  }
  // The copy of an interrupted rebuild of another definition is dropped and started again.
  const [info] = await tableInfo(p.conn.root, p.conn.target.database, copy);
  const columns = await columnInfo(p.conn.root, p.conn.target.database, copy);
  const same = info?.engine_full === ins.declared!.engine_full &&
    JSON.stringify(columns) === JSON.stringify(ins.want);
  const planned = await rebuildStep(p, ins, {
    ...diff,
    rebuild: diff.rebuild.length ? diff.rebuild : ["an interrupted apply was rebuilding it"],
  });
  if (same) {
    planned.step.changes.unshift("an interrupted apply was rebuilding it");
    return planned;
  }
  const drop = `DROP TABLE ${db}.${q(copy)} SYNC`;
  planned.step.statements.unshift(drop);
  planned.step.changes.unshift(
    `${copy}, left by an interrupted apply, has another definition: started again`,
  );
  const run = planned.run;
  return {
    step: planned.step,
    run: async () => {
      await exec(p.conn, `dropping ${copy}`, drop);
      return await run();
    },
  };
}

function chunkParams(c: Chunk): QueryParams {
  return c.partition !== undefined ? { partition: c.partition } : {
    tags: c.tags!,
    from: chTime(BigInt(c.from!) * 10_000n).slice(0, 23),
    to: chTime(BigInt(c.to!) * 10_000n).slice(0, 23),
  };
}
