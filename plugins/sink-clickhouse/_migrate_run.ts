/**
 * What an apply does in bounded, resumable pieces: chunks of stored rows (a tag chunk × a time
 * window on the UTC grid, or a partition), each recorded as done in the pipeline state
 * (_pipeline_units, as `migrate:…` units) once its statement ran, so an interrupted apply
 * skips them; and a marker per fill or rebuild (started, finished) that tells a later plan that
 * a table which exists is still being filled.
 */
import { PluginError } from "../../engine/mod.ts";
import type { MigrateOptions, MigrationStep, QueryParams } from "../../engine/mod.ts";
import type { ClickHouseSettings } from "@clickhouse/client";
import { attempt, PLUGIN, rows } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { q, STATE_TABLES } from "./ddl.ts";
import { recordUnit } from "./state.ts";

const DAY = 86_400_000;

/** Runs one statement; the rows it wrote. */
export async function exec(
  conn: Conn,
  what: string,
  sql: string,
  params: QueryParams = {},
  settings: ClickHouseSettings = {},
): Promise<number> {
  const r = await attempt(
    conn,
    what,
    () => conn.root.command({ query: sql, query_params: params, clickhouse_settings: settings }),
  );
  return Number(r.summary?.written_rows ?? 0);
}

/** A marker's `rows`: the step started and has not finished, or it finished. */
export const STARTED = 0;
export const FINISHED = 1;
export type MarkKind = "fill" | "refill" | "rebuild";
export const markOf = (kind: MarkKind, table: string) => `migrate:${kind}:${table}`;

/** The pipeline's `migrate:` units with their `rows` (empty before the state table exists). */
export async function readMarks(conn: Conn, pipeline: string): Promise<Map<string, number>> {
  const [{ n } = { n: "0" }] = await rows<{ n: string }>(
    conn,
    "looking for the pipeline state",
    "SELECT count() AS n FROM system.tables WHERE database = {d:String} AND name = {t:String}",
    { d: conn.target.database, t: STATE_TABLES.units },
  );
  if (Number(n) === 0) return new Map();
  const found = await rows<{ unit: string; rows: string }>(
    conn,
    "reading migrate's progress",
    `SELECT unit, toString(rows) AS rows FROM ${conn.db}.${
      q(STATE_TABLES.units)
    } FINAL WHERE pipeline = {p:String} AND startsWith(unit, 'migrate:')`,
    { p: pipeline },
  );
  return new Map(found.map((r) => [r.unit, Number(r.rows)]));
}

export async function mark(conn: Conn, pipeline: string, unit: string, state: number) {
  await recordUnit(conn, pipeline, unit, state);
}

/** Forgets the chunks of a finished step: the state keeps one row for the step, not thousands. */
export async function forgetChunks(conn: Conn, pipeline: string, prefix: string) {
  await exec(
    conn,
    "forgetting finished chunks",
    `DELETE FROM ${conn.db}.${
      q(STATE_TABLES.units)
    } WHERE pipeline = {p:String} AND startsWith(unit, {prefix:String})`,
    { p: pipeline, prefix: `${prefix}:` },
  );
}

/** A bounded piece of stored rows: tags of one site in a time window `[from, to)`, or a partition. */
export interface Chunk {
  id: string;
  site?: string;
  tags?: string[];
  /** ms since 1970, on the grid of the window. */
  from?: number;
  to?: number;
  partition?: string;
}

/** Where chunks come from: a table and, to cut it by tag and time, its tag and time columns. */
export interface ChunkSource {
  table: string;
  tag?: string;
  time?: string;
  site?: string;
  /** Windows are whole multiples of this (an aggregation's bucket), in ms. */
  bucket?: number;
  /** No window starting before this (ms): rows older may have been trimmed by retention. */
  since?: number;
}

/** The window width for `source`: the spec's chunking window, rounded up to whole buckets. */
export function windowOf(source: ChunkSource, options: MigrateOptions): number {
  const window = options.window ?? DAY;
  const bucket = source.bucket ?? 1;
  return Math.max(1, Math.ceil(window / bucket)) * bucket;
}

/** How a chunk of `source` is described in the plan. */
export function chunkSize(source: ChunkSource, options: MigrateOptions): string {
  if (!source.tag || !source.time) return "a partition";
  const tags = options.tagsPerChunk ?? 50;
  return `${tags} ${tags === 1 ? "tag" : "tags"} × ${duration(windowOf(source, options))}`;
}

function duration(ms: number): string {
  for (
    const [unit, size] of [["d", DAY], ["h", 3_600_000], ["min", 60_000], ["s", 1000]] as const
  ) {
    if (ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

/** The chunks of what `source` holds now, in a stable order with stable ids. */
export async function listChunks(
  conn: Conn,
  source: ChunkSource,
  options: MigrateOptions,
): Promise<Chunk[]> {
  if (!source.tag || !source.time) return await partitionChunks(conn, source.table);
  const site = source.site ? `toString(${q(source.site)}) AS s, ` : "";
  const ms = (f: string) =>
    `toString(toUnixTimestamp64Milli(toDateTime64(${f}(${q(source.time!)}), 3)))`;
  const found = await rows<{ s?: string; t: string; lo: string; hi: string }>(
    conn,
    `listing the tags stored in ${source.table}`,
    `SELECT ${site}toString(${q(source.tag)}) AS t, ${ms("min")} AS lo, ${ms("max")} AS hi ` +
      `FROM ${conn.db}.${q(source.table)} GROUP BY ${site ? "s, " : ""}t ORDER BY ${
        site ? "s, " : ""
      }t`,
  );
  const per = Math.max(1, options.tagsPerChunk ?? 50);
  const w = windowOf(source, options);
  const out: Chunk[] = [];
  for (let i = 0; i < found.length;) {
    const s = found[i]!.s;
    const group = [];
    while (i < found.length && found[i]!.s === s && group.length < per) group.push(found[i++]!);
    const tags = group.map((g) => g.t);
    const id = await hashOf(JSON.stringify([s ?? null, tags]));
    const lo = Math.min(...group.map((g) => Number(g.lo)));
    const hi = Math.max(...group.map((g) => Number(g.hi)));
    let from = Math.floor(lo / w) * w;
    if (source.since !== undefined) from = Math.max(from, Math.ceil(source.since / w) * w);
    for (; from <= hi; from += w) {
      out.push({
        id: `${id}:${new Date(from).toISOString()}`,
        site: s,
        tags,
        from,
        to: from + w,
      });
    }
  }
  return out;
}

async function partitionChunks(conn: Conn, table: string): Promise<Chunk[]> {
  const parts = await rows<{ p: string }>(
    conn,
    `listing the partitions of ${table}`,
    "SELECT DISTINCT partition_id AS p FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active ORDER BY p",
    { d: conn.target.database, t: table },
  );
  return parts.map((p) => ({ id: `partition:${p.p}`, partition: p.p }));
}

/** The first 16 hex digits of the SHA-256 of `text`: stable ids for chunks and definitions. */
export async function hashOf(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).slice(0, 8)).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** What a step's run did. */
export interface Ran {
  chunks: number;
  skipped: number;
  rows: number;
}

/**
 * Runs `run` for each chunk not recorded under `prefix`, recording each as it finishes, with
 * progress; stops between chunks when the signal aborts (what is recorded stays done).
 */
export async function runChunks(
  conn: Conn,
  pipeline: string,
  step: MigrationStep,
  prefix: string,
  chunks: Chunk[],
  run: (c: Chunk, unit: string) => Promise<number>,
  options: MigrateOptions,
  marks: Map<string, number>,
): Promise<Ran> {
  const ran: Ran = { chunks: 0, skipped: 0, rows: 0 };
  const report = () =>
    options.onProgress?.({
      step,
      done: ran.chunks + ran.skipped,
      total: chunks.length,
      skipped: ran.skipped,
      rows: ran.rows,
    });
  for (const c of chunks) {
    const unit = `${prefix}:${c.id}`;
    if (marks.has(unit)) {
      ran.skipped++;
      continue;
    }
    if (options.signal?.aborted) {
      throw new PluginError(PLUGIN, `migrate stopped in ${step.name}: ${options.signal.reason}`, {
        cause: options.signal.reason,
      });
    }
    const written = await run(c, unit);
    await recordUnit(conn, pipeline, unit, written);
    ran.chunks++;
    ran.rows += written;
    report();
  }
  if (ran.chunks === 0) report();
  return ran;
}

/** A step of the plan and the code that does it. */
export interface Planned {
  step: MigrationStep;
  run(): Promise<Ran>;
}

export const NONE: Ran = { chunks: 0, skipped: 0, rows: 0 };

/** The rebuilt copy of `table` while it is filled, before the exchange. */
export const rebuiltName = (table: string) => `${table}__migrate`;

/** What a step discards, for the plan; undefined when nothing. */
export function lost(columns: string[]): string | undefined {
  return columns.length ? `the stored values of ${columns.join(", ")}` : undefined;
}

/** A step that cannot be done as planned: not retried, the message says what to do. */
export function refused(message: string): PluginError {
  return new PluginError(PLUGIN, message, { reason: "invalid" });
}
