/**
 * The sink's pipeline-state capability: watermarks, finished units and run records in small
 * ReplacingMergeTree tables next to the data they describe. Units are recorded by the writer's
 * commit; this reads them back.
 */
import type { PipelineState, RunRecord, StateStore, Ticks } from "../../engine/mod.ts";
import { command, insertBytes, rows } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { q, STATE_TABLES } from "./ddl.ts";
import { encoderFor, RowWriter } from "./rowbinary.ts";

export function createState(conn: Conn, pipelineOf: () => string): StateStore {
  const { db } = conn;
  return {
    async load(): Promise<PipelineState> {
      const pipeline = pipelineOf();
      const wm = await rows<{ tag: string; ticks: string }>(
        conn,
        "reading watermarks",
        `SELECT tag, toString(intDiv(toUnixTimestamp64Nano(watermark), 100)) AS ticks FROM ${db}.${
          q(STATE_TABLES.watermarks)
        } FINAL WHERE pipeline = {p:String}`,
        { p: pipeline },
      );
      const units = await rows<{ unit: string }>(
        conn,
        "reading finished units",
        `SELECT unit FROM ${db}.${q(STATE_TABLES.units)} FINAL WHERE pipeline = {p:String}`,
        { p: pipeline },
      );
      return {
        watermarks: new Map(wm.map((r) => [r.tag, BigInt(r.ticks)])),
        doneUnits: new Set(units.map((r) => r.unit)),
      };
    },

    async saveWatermarks(watermarks: Map<string, Ticks>) {
      if (watermarks.size === 0) return;
      const pipeline = pipelineOf();
      const w = new RowWriter();
      const time = encoderFor("DateTime64(7)");
      for (const [tag, ticks] of watermarks) {
        w.string(pipeline);
        w.string(tag);
        time(w, ticks);
      }
      await insertBytes(conn, {
        what: "saving watermarks",
        sql: `INSERT INTO ${db}.${
          q(STATE_TABLES.watermarks)
        } (pipeline, tag, watermark) FORMAT RowBinary`,
        body: w.take(),
        rows: watermarks.size,
        // The same watermarks saved twice must not be mistaken for a retried insert and dropped.
        settings: { insert_deduplicate: 0 },
      });
    },

    async saveRun(r: RunRecord) {
      const pipeline = pipelineOf();
      await command(
        conn,
        `saving run ${r.id}`,
        `INSERT INTO ${db}.${q(STATE_TABLES.runs)} ` +
          `(pipeline, id, kind, started, finished, rows, status, error) SELECT ` +
          `{p:String}, {id:String}, {kind:String}, fromUnixTimestamp64Milli({started:Int64}), ` +
          `fromUnixTimestamp64Milli({finished:Int64}), {rows:UInt64}, {status:String}, {error:String}`,
        {
          p: pipeline,
          id: r.id,
          kind: r.kind,
          started: r.started.getTime(),
          finished: r.finished.getTime(),
          rows: r.rows,
          status: r.status,
          error: r.error ?? "",
        },
      );
    },
  };
}

/** Records a unit as done (idempotent: the table keeps one row per unit). */
export async function recordUnit(conn: Conn, pipeline: string, unit: string, count: number) {
  await command(
    conn,
    `recording unit ${unit}`,
    `INSERT INTO ${conn.db}.${q(STATE_TABLES.units)} (pipeline, unit, rows) ` +
      `SELECT {p:String}, {unit:String}, {rows:UInt64}`,
    { p: pipeline, unit, rows: count },
  );
}
