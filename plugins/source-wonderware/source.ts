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
 */
import sql from "mssql";
import { compilePattern, PluginError, TICKS_PER_MS } from "../../engine/mod.ts";
import type {
  Logger,
  Quality,
  Reading,
  ReadingBatch,
  ReadOptions,
  TagInfo,
  Ticks,
  TimeWindow,
} from "../../engine/mod.ts";
import { ECHO_FIELDS } from "./fields.ts";
import type { Options } from "./options.ts";

const PLUGIN = "source-wonderware";

/** The History columns that vary per row; the rest echo the query's options. */
const ROW_COLUMNS = "DateTime, TagName, Value, vValue, Quality, QualityDetail, OPCQuality";
const ECHO_COLUMNS = Object.keys(ECHO_FIELDS);
const TAG_TYPES: Record<number, TagInfo["type"]> = { 1: "analog", 2: "discrete", 3: "string" };

type HistoryDate = Date & { nanosecondsDelta?: number };

export function ticksOf(d: HistoryDate): Ticks {
  return BigInt(d.getTime()) * TICKS_PER_MS + BigInt(Math.round((d.nanosecondsDelta ?? 0) * 1e7));
}

/** A Date carrying the sub-millisecond ticks tedious sends for datetime2(7) parameters. */
export function dateOf(ticks: Ticks): Date {
  const ms = ticks / TICKS_PER_MS - (ticks % TICKS_PER_MS < 0n ? 1n : 0n);
  const d = new Date(Number(ms)) as Date & { nanosecondDelta?: number };
  d.nanosecondDelta = Number(ticks - ms * TICKS_PER_MS) / 1e7;
  return d;
}

/** The Historian's summary quality (0 good, 16 doubtful, 1 bad) in the engine's terms. */
export function normalizedQuality(quality: number): Quality {
  return quality === 0 ? "good" : quality === 16 ? "uncertain" : "bad";
}

/** Turns a driver error into a PluginError that says whether retrying can help and what to fix. */
export function classify(
  what: string,
  e: unknown,
  address: string,
  options: { loggedInBefore?: boolean } = {},
): PluginError {
  if (e instanceof PluginError) return e;
  const err = e as { code?: string; number?: number; message?: string };
  const message = err.message ?? String(e);
  if (err.code === "ELOGIN" || err.number === 18456) {
    // The same credentials worked before: a Historian restarting refuses logins for a while.
    if (options.loggedInBefore) {
      return new PluginError(PLUGIN, `${what} at ${address}: login refused for now (${message})`, {
        cause: e,
        retriable: true,
        unavailable: true,
        reason: "auth",
      });
    }
    return new PluginError(
      PLUGIN,
      `login to ${address} was refused (${message}): check WONDERWARE_USERNAME and WONDERWARE_PASSWORD`,
      { cause: e, reason: "auth" },
    );
  }
  if (err.number === 229 || err.number === 230 || err.number === 262) {
    return new PluginError(
      PLUGIN,
      `${what} at ${address} was denied (${message}): the login needs read access to the Runtime database (the aaUsers role)`,
      { cause: e, reason: "permission" },
    );
  }
  const transient =
    ["ESOCKET", "ECONNCLOSED", "ETIMEOUT", "ECONNRESET", "EINSTLOOKUP", "ENOTOPEN", "ECANCEL"]
      .includes(err.code ?? "") ||
    /ECONNREFUSED|ECONNRESET|socket|Connection lost|timeout|closed/i.test(message);
  return new PluginError(PLUGIN, `${what} at ${address} failed: ${message}`, {
    cause: e,
    retriable: transient,
    unavailable: transient,
    reason: /timeout/i.test(message) || err.code === "ETIMEOUT"
      ? "timeout"
      : transient
      ? "connection"
      : "invalid",
  });
}

export interface SourceDeps {
  pool: sql.ConnectionPool;
  address: string;
  options: Options;
  log: Logger;
  onClose?: () => Promise<void>;
}

export function createSource(deps: SourceDeps) {
  const { pool, address, options, log } = deps;
  const echoes = new Map<string, Record<string, unknown>>();
  const mode = options.retrieval_mode === "full" ? "Full" : "Delta";

  /** Runs `fn`, classifying what it throws; retries and the breaker are the engine's. */
  async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw classify(what, e, address, { loggedInBefore: true });
    }
  }

  function historyWhere(
    request: sql.Request,
    tags: readonly TagInfo[],
    window: TimeWindow,
  ): string {
    tags.forEach((t, i) => request.input(`t${i}`, sql.NVarChar(256), t.name));
    request.input("from", sql.DateTime2(7), dateOf(window.from));
    request.input("to", sql.DateTime2(7), dateOf(window.to));
    return `TagName IN (${
      tags.map((_, i) => `@t${i}`).join(", ")
    }) AND DateTime > @from AND DateTime <= @to ` +
      `AND wwRetrievalMode = '${mode}' AND wwVersion = 'Latest' AND wwTimeZone = 'UTC'`;
  }

  /** The option columns of this query shape, from one probe row (cached). */
  async function echoFor(
    tags: readonly TagInfo[],
    window: TimeWindow,
  ): Promise<Record<string, unknown>> {
    const cached = echoes.get(mode);
    if (cached) return cached;
    const request = pool.request();
    const where = historyWhere(request, tags.slice(0, 1), {
      from: window.from - 1n,
      to: window.from,
    });
    const result = await request.query(
      `SELECT TOP 1 ${ECHO_COLUMNS.join(", ")} FROM History WHERE ${
        where.replace("DateTime > @from", "DateTime >= @from")
      }`,
    );
    const row = result.recordset[0] as Record<string, unknown> | undefined;
    const echo = row ??
      { wwRetrievalMode: mode.toUpperCase(), wwVersion: "LATEST", wwTimeZone: "UTC" };
    if (row) echoes.set(mode, echo);
    return echo;
  }

  return {
    async discover(): Promise<TagInfo[]> {
      return await guarded("discovering tags", async () => {
        const [refs, tags, analog, units] = await Promise.all([
          pool.request().query("SELECT TagName, TagType, wwTagKey FROM TagRef"),
          pool.request().query("SELECT TagName, Description FROM Tag"),
          pool.request().query("SELECT TagName, EUKey, MinEU, MaxEU FROM AnalogTag"),
          pool.request().query("SELECT EUKey, Unit FROM EngineeringUnit"),
        ]);
        type Analog = { TagName: string; EUKey: number; MinEU: number; MaxEU: number };
        const description = new Map<string, string | null>(
          (tags.recordset as { TagName: string; Description: string | null }[]).map((
            r,
          ) => [r.TagName, r.Description]),
        );
        const unitOf = new Map<number, string | null>(
          (units.recordset as { EUKey: number; Unit: string | null }[]).map((
            r,
          ) => [r.EUKey, r.Unit]),
        );
        const ranges = new Map<string, Analog>(
          (analog.recordset as Analog[]).map((r) => [r.TagName, r]),
        );
        // SQL Server compares tag names case-insensitively; so do the patterns.
        const include = options.tags.include.map((p) => compilePattern(p, { ignoreCase: true }));
        const exclude = options.tags.exclude.map((p) => compilePattern(p, { ignoreCase: true }));
        const out: TagInfo[] = [];
        for (
          const r of refs.recordset as { TagName: string; TagType: number; wwTagKey: number }[]
        ) {
          const type = TAG_TYPES[r.TagType];
          if (!type || !options.tags.types.includes(type)) continue;
          if (
            !include.some((re) => re.test(r.TagName)) || exclude.some((re) => re.test(r.TagName))
          ) continue;
          const a = ranges.get(r.TagName);
          out.push({
            name: r.TagName,
            type,
            description: description.get(r.TagName) ?? undefined,
            unit: a ? unitOf.get(a.EUKey) ?? undefined : undefined,
            min: a?.MinEU,
            max: a?.MaxEU,
            fields: { wwTagKey: r.wwTagKey },
          });
        }
        out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
        log.info("discovered tags", { tags: out.length, of: refs.recordset.length });
        return out;
      });
    },

    async *read(
      tags: readonly TagInfo[],
      window: TimeWindow,
      readOptions: ReadOptions = {},
    ): AsyncIterable<ReadingBatch> {
      if (tags.length === 0 || window.to <= window.from) return;
      const batchSize = readOptions.batchSize ?? 10_000;
      const fields = await guarded("probing History", () => echoFor(tags, window));
      const tagFields = new Map(tags.map((t) => [t.name, t.fields]));
      const request = pool.request();
      request.stream = true;
      const where = historyWhere(request, tags, window);

      // Rows arrive as events; batches leave through this small queue, pausing the stream
      // (and so the TCP connection) while the consumer is behind.
      const queue: ReadingBatch[] = [];
      let current: Reading[] = [];
      let finished = false;
      let failure: unknown;
      let wake: (() => void) | undefined;
      let paused = false;
      const notify = () => {
        wake?.();
        wake = undefined;
      };
      request.on(
        "row",
        (
          row: {
            DateTime: HistoryDate;
            TagName: string;
            Value: number | null;
            vValue: string | null;
            Quality: number;
            QualityDetail: number | null;
            OPCQuality: number | null;
          },
        ) => {
          const time = ticksOf(row.DateTime);
          if (time <= window.from || row.Quality === 133 || row.QualityDetail === 65536) return; // never a fabricated row
          current.push({
            tag: row.TagName,
            time,
            value: row.Value,
            text: row.vValue,
            quality: normalizedQuality(row.Quality),
            qualityCode: row.Quality,
            fields: {
              ...tagFields.get(row.TagName),
              QualityDetail: row.QualityDetail,
              OPCQuality: row.OPCQuality,
            },
          });
          if (current.length >= batchSize) {
            queue.push({ readings: current, fields });
            current = [];
            if (queue.length >= 1 && !paused) {
              paused = true;
              request.pause();
            }
            notify();
          }
        },
      );
      request.on("error", (e: unknown) => {
        failure ??= e;
        notify();
      });
      request.on("done", () => {
        finished = true;
        notify();
      });
      const onAbort = () => request.cancel();
      readOptions.signal?.addEventListener("abort", onAbort, { once: true });
      request.query(`SELECT ${ROW_COLUMNS} FROM History WHERE ${where}`);
      try {
        while (true) {
          if (queue.length > 0) {
            const batch = queue.shift()!;
            if (paused && queue.length < 1) {
              paused = false;
              request.resume();
            }
            yield batch;
            continue;
          }
          if (failure) throw failure;
          if (finished) break;
          await new Promise<void>((r) => (wake = r));
        }
        if (failure) throw failure;
        if (current.length > 0) yield { readings: current, fields };
      } catch (e) {
        throw classify(`reading History of ${tags.length} tags`, e, address, {
          loggedInBefore: true,
        });
      } finally {
        readOptions.signal?.removeEventListener("abort", onAbort);
        if (!finished && !failure) request.cancel();
      }
    },

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
