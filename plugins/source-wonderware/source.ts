/**
 * Reading AVEVA Historian through SQL Server, losslessly (shared/reference/historian.md §11, §12):
 *
 * - every value is a typed parameter (tag names included: quotes are harmless);
 * - `DateTime > @from AND DateTime <= @to`: an exclusive start fabricates no initial-value row,
 *   adjacent windows never overlap, and bounds keep their 100-ns ticks (`nanosecondDelta`);
 * - `wwRetrievalMode = 'Full'` (every stored point, repeats included) unless configured,
 *   `wwVersion = 'Latest'`, `wwTimeZone = 'UTC'`: times are UTC whatever the server's zone;
 * - NULL rows are kept (gap markers) and string values come from vValue;
 * - only the columns that vary per row cross the wire; the columns that echo the query's own
 *   options are learned once per query shape (one probe row) and attached to each batch;
 * - rows stream with pause/resume: memory holds at most a batch or two, whatever the window;
 * - "now" is the server's SYSUTCDATETIME(), never this machine's clock.
 *
 * Split by role: discover.ts (tags), read.ts (History), _tds_rows.ts and _tds_values.ts (its
 * rows decoded from the TDS stream), summaries.ts (the summary views, for verify), _errors.ts
 * (what errors mean), _time.ts (100-ns times); this file puts them together as the engine's
 * Source.
 */
import type sql from "mssql";
import { PluginError } from "../../engine/mod.ts";
import type { Logger, Source, Ticks } from "../../engine/mod.ts";
import { classify, PLUGIN } from "./_errors.ts";
import { ticksOf } from "./_time.ts";
import type { HistoryDate } from "./_time.ts";
import { discoverTags } from "./discover.ts";
import type { Options } from "./options.ts";
import { countHistory, readHistory } from "./read.ts";
import { readSummaries } from "./summaries.ts";

export { classify } from "./_errors.ts";
export { dateOf, ticksOf } from "./_time.ts";

export interface SourceDeps {
  pool: sql.ConnectionPool;
  address: string;
  options: Options;
  log: Logger;
  onClose?: () => Promise<void>;
}

export function createSource(deps: SourceDeps): Source {
  const { pool, address, options, log } = deps;
  const reader = {
    pool,
    address,
    mode: options.retrieval_mode === "full" ? "Full" : "Delta",
    echoes: new Map<string, Record<string, unknown>>(),
    keys: new Map<string, number>(),
    log,
  };

  /** Runs `fn`, classifying what it throws; retries and the breaker are the engine's. */
  async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw classify(what, e, address, { loggedInBefore: true });
    }
  }

  return {
    discover: () => guarded("discovering tags", () => discoverTags(pool, options, log)),
    read: (tags, window, readOptions) => readHistory(reader, tags, window, readOptions),
    count: (tags, window) => guarded("counting History", () => countHistory(reader, tags, window)),
    summaries: (tags, window, resolutionMs) =>
      guarded("reading the summary views", () => readSummaries(pool, tags, window, resolutionMs)),

    async serverTime(): Promise<Ticks> {
      return await guarded("reading the Historian's clock", async () => {
        const result = await pool.request().query("SELECT SYSUTCDATETIME() AS now");
        const now = result.recordset[0]?.now as HistoryDate | undefined;
        if (!now) {
          throw new PluginError(PLUGIN, "SYSUTCDATETIME() returned no row", { retriable: true });
        }
        return ticksOf(now);
      });
    },

    async close() {
      await pool.close();
      await deps.onClose?.();
    },
  };
}
