/**
 * History reads of `(from, to]` across every partition that overlaps the window, found through
 * sqlth_partitions (never by building names), deduplicated by name, checked to exist (a pruned
 * partition is skipped, also one dropped between listing and reading), read in one ordered
 * query through a cursor so memory holds a batch at a time. All value columns are read: the
 * numeric value is whichever of intvalue/floatvalue holds one (rows sometimes sit in the wrong
 * column), text is stringvalue (or datevalue, as stored), and a row with none is a gap marker.
 */
import type postgres from "postgres";
import type { Reading, ReadingBatch, TagInfo, Ticks, TimeWindow } from "../../engine/mod.ts";
import type { IgnitionTag } from "./discover.ts";
import type { Options } from "./options.ts";
import { qualityOf } from "./quality.ts";

const TICKS_PER_MS = 10_000n;
const PARTITION_NAME = /^[a-z0-9_]+$/;

interface Row {
  tagid: number;
  t_stamp: string;
  intvalue: string | null;
  floatvalue: number | null;
  stringvalue: string | null;
  datevalue: string | null;
  dataintegrity: number | null;
}

/** The window in Ignition's epoch ms: t > lo and t <= hi is the same as ticks in (from, to]. */
export function msWindow(window: TimeWindow): [number, number] {
  const floor = (t: Ticks) => t / TICKS_PER_MS - (t % TICKS_PER_MS < 0n ? 1n : 0n);
  return [Number(floor(window.from)), Number(floor(window.to))];
}

const ignitionOf = (t: TagInfo) => t.fields as unknown as IgnitionTag;

/** Partition tables that overlap [lo, hi] for these drivers and exist now, oldest first. */
async function partitions(
  sql: postgres.Sql,
  options: Options,
  drivers: number[],
  lo: number,
  hi: number,
): Promise<string[]> {
  const listed = await sql<{ pname: string }[]>`
    SELECT pname FROM ${sql(options.schema)}.sqlth_partitions
    WHERE drvid = ANY(${drivers}) AND start_time <= ${hi} AND end_time >= ${lo}
    GROUP BY pname ORDER BY min(start_time)`;
  const names = listed.map((r) => r.pname).filter((n) => PARTITION_NAME.test(n));
  // Partitioning off: everything is in sqlth_1_data.
  names.push("sqlth_1_data");
  const present = await sql<{ name: string }[]>`
    SELECT n AS name FROM unnest(${names}::text[]) AS n
    WHERE to_regclass(${options.schema} || '.' || n) IS NOT NULL`;
  const have = new Set(present.map((r) => r.name));
  return [...new Set(names)].filter((n) => have.has(n));
}

/** One ordered query over the partitions (a UNION ALL), as a postgres.js fragment. */
function union(
  sql: postgres.Sql,
  options: Options,
  tables: string[],
  ids: number[],
  lo: number,
  hi: number,
  columns: string,
) {
  return tables.map((t, i) =>
    sql`${i ? sql`UNION ALL ` : sql``}SELECT ${sql.unsafe(columns)} FROM ${sql(options.schema)}.${
      sql(t)
    } WHERE tagid = ANY(${ids}) AND t_stamp > ${lo} AND t_stamp <= ${hi} `
  );
}

const UNDEFINED_TABLE = "42P01";

/** Runs `fn` over the partitions; once more without a table that was pruned meanwhile. */
async function overPartitions<T>(
  sql: postgres.Sql,
  options: Options,
  drivers: number[],
  window: [number, number],
  fn: (tables: string[]) => Promise<T>,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    const tables = await partitions(sql, options, drivers, window[0], window[1]);
    try {
      return await fn(tables);
    } catch (e) {
      if ((e as { code?: string }).code !== UNDEFINED_TABLE || attempt >= 2) throw e;
    }
  }
}

export async function* readHistory(
  sql: postgres.Sql,
  options: Options,
  tags: readonly TagInfo[],
  window: TimeWindow,
  batchSize = 10_000,
): AsyncIterable<ReadingBatch> {
  if (tags.length === 0 || window.to <= window.from) return;
  const [lo, hi] = msWindow(window);
  const byId = new Map<number, { tag: TagInfo; fields: Record<string, unknown> }>();
  for (const t of tags) {
    const ig = ignitionOf(t);
    // One fields object per version, shared by its rows.
    for (const id of ig.ids) {
      byId.set(id, {
        tag: t,
        fields: { provider: ig.provider, tagpath: ig.tagpath, datatype: ig.types?.[id] ?? null },
      });
    }
  }
  const ids = [...byId.keys()];
  const drivers = [...new Set(tags.flatMap((t) => ignitionOf(t).drivers))];
  const batches: Reading[][] = [];
  // A cursor cannot be retried halfway; a pruned table is found before the first row.
  const tables = await partitions(sql, options, drivers, lo, hi);
  if (tables.length === 0) return;
  const query = sql`SELECT * FROM (${
    union(
      sql,
      options,
      tables,
      ids,
      lo,
      hi,
      "tagid, t_stamp::text AS t_stamp, intvalue::text AS intvalue, floatvalue, stringvalue, datevalue::text AS datevalue, dataintegrity",
    )
  }) AS h ORDER BY t_stamp, tagid`;
  let current: Reading[] = [];
  try {
    for await (const rows of query.cursor(Math.min(batchSize, 10_000))) {
      for (const r of rows as unknown as Row[]) {
        const owner = byId.get(r.tagid)!;
        const numeric = r.intvalue !== null ? Number(r.intvalue) : r.floatvalue;
        current.push({
          tag: owner.tag.name,
          time: BigInt(r.t_stamp) * TICKS_PER_MS,
          value: numeric ?? null,
          text: numeric === null || numeric === undefined ? (r.stringvalue ?? r.datevalue) : null,
          quality: qualityOf(r.dataintegrity),
          qualityCode: r.dataintegrity,
          fields: owner.fields,
        });
        if (current.length >= batchSize) {
          batches.push(current);
          current = [];
        }
      }
      while (batches.length) yield { readings: batches.shift()! };
    }
  } catch (e) {
    if ((e as { code?: string }).code !== UNDEFINED_TABLE) throw e;
    // Pruned between listing and reading: what was read is right; the rest is gone.
  }
  if (current.length) yield { readings: current };
}

/** Readings per tag in the window, counted by PostgreSQL over the same partitions. */
export async function countHistory(
  sql: postgres.Sql,
  options: Options,
  tags: readonly TagInfo[],
  window: TimeWindow,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (tags.length === 0 || window.to <= window.from) return counts;
  const [lo, hi] = msWindow(window);
  const owner = new Map<number, string>();
  for (const t of tags) for (const id of ignitionOf(t).ids) owner.set(id, t.name);
  const drivers = [...new Set(tags.flatMap((t) => ignitionOf(t).drivers))];
  const rows = await overPartitions(sql, options, drivers, [lo, hi], async (tables) => {
    if (tables.length === 0) return [];
    return await sql<{ tagid: number; n: string }[]>`SELECT tagid, count(*)::text AS n FROM (${
      union(sql, options, tables, [...owner.keys()], lo, hi, "tagid")
    }) AS h GROUP BY tagid`;
  });
  for (const r of rows) {
    const name = owner.get(r.tagid)!;
    counts.set(name, (counts.get(name) ?? 0) + Number(r.n));
  }
  return counts;
}
