/**
 * History reads, losslessly: `(from, to]` with typed parameters, the per-row columns only on
 * the wire (the option columns learned once per query shape from one probe row), streamed
 * with pause/resume so memory holds at most a batch or two whatever the window.
 */
import sql from "./_mssql.ts";
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
import { PluginError } from "../../engine/mod.ts";
import { classify, PLUGIN } from "./_errors.ts";
import { dateOf, ticksReader } from "./_time.ts";
import type { HistoryDate } from "./_time.ts";
import { decodeRows } from "./_tds_rows.ts";
import { ECHO_FIELDS } from "./fields.ts";

/**
 * The History columns that vary per row; the rest echo the query's options. The tag is named by
 * its key where the tags asked for have distinct keys: an int on the wire instead of the name in
 * UTF-16 on every row (with the demo plant's names of about 30 characters: 14 % less CPU to
 * read a row, 8 % less for the server to send it).
 */
const rowColumns = (tag: "TagName" | "wwTagKey") =>
  `DateTime, ${tag}, Value, vValue, Quality, QualityDetail, OPCQuality`;
/** A row of rowColumns, as mssql's array row mode gives it (the decoder: ticks for the date). */
type RowValues<D = HistoryDate> = [
  D,
  string | number,
  number | null,
  string | null,
  number,
  number | null,
  number | null,
];
const ECHO_COLUMNS = Object.keys(ECHO_FIELDS);

export interface ReaderDeps {
  pool: sql.ConnectionPool;
  address: string;
  /** "Full" or "Delta". */
  mode: string;
  /** Option columns per retrieval mode, learned once. */
  echoes: Map<string, Record<string, unknown>>;
  /** Tags' wwTagKey read again since discovery (a tag re-created in the Historian has a new one). */
  keys: Map<string, number>;
  /** Rows decoded from the TDS stream (_tds_rows.ts) unless false: then the driver's. */
  decodeRows?: boolean;
  /** Rows decoded from the stream so far (the tests read it). */
  decodedRows?: number;
  /** Told once (passedOnTold) when a response's rows had to go through the driver. */
  log?: Logger;
  passedOnTold?: boolean;
}

/** A History row named a wwTagKey none of the tags asked for has. */
class UnknownKey extends Error {}

/**
 * The Historian's summary quality (0 good, 16 doubtful, 1 bad) in the engine's terms. Its 0 also
 * holds OPC uncertain values (Application Server stores OPC Good and Uncertain both as 0), so an
 * OPCQuality of 64–191 says `uncertain` (historian.md §4.1, §4.3).
 */
export function normalizedQuality(quality: number, opc: number | null = null): Quality {
  if (quality === 0) return opc !== null && opc >= 64 && opc < 192 ? "uncertain" : "good";
  return quality === 16 ? "uncertain" : "bad";
}

/** Binds the tags' names as typed parameters; the list of their placeholders, for `IN (…)`. */
function tagParams(request: sql.Request, tags: readonly TagInfo[]): string {
  tags.forEach((t, i) => request.input(`t${i}`, sql.NVarChar(256), t.name));
  return tags.map((_, i) => `@t${i}`).join(", ");
}

/** SQL Server compares tag names case-insensitively: its names, mapped to the caller's. */
function callersNames(tags: readonly TagInfo[]): (name: string) => string | undefined {
  const byLower = new Map(tags.map((t) => [t.name.toLowerCase(), t.name]));
  return (name) => byLower.get(name.toLowerCase());
}

function historyWhere(
  request: sql.Request,
  mode: string,
  tags: readonly TagInfo[],
  window: TimeWindow,
): string {
  const names = tagParams(request, tags);
  request.input("from", sql.DateTime2(7), dateOf(window.from));
  request.input("to", sql.DateTime2(7), dateOf(window.to));
  return `TagName IN (${names}) AND DateTime > @from AND DateTime <= @to ` +
    `AND wwRetrievalMode = '${mode}' AND wwVersion = 'Latest' AND wwTimeZone = 'UTC'`;
}

/** The option columns of this query shape, from one probe row (cached). */
async function echoFor(
  deps: ReaderDeps,
  tags: readonly TagInfo[],
  window: TimeWindow,
): Promise<Record<string, unknown>> {
  const { pool, mode, echoes } = deps;
  const cached = echoes.get(mode);
  if (cached) return cached;
  const request = pool.request();
  const where = historyWhere(request, mode, tags.slice(0, 1), {
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

/** What the rows of one tag share, and the fields of its previous row. */
interface TagRows {
  name: string;
  fields: Record<string, unknown> | undefined;
  shared: Map<string, Record<string, unknown>>;
  qd?: number | null;
  opc?: number | null;
  last?: Record<string, unknown>;
}

/**
 * The tags by their wwTagKey (from discovery), when every one has a key of its own; otherwise
 * undefined and rows name their tag by TagName.
 */
function keyIndex(
  tags: readonly TagInfo[],
  perTag: Map<string, TagRows>,
  fresher: Map<string, number>,
): Map<number, TagRows> | undefined {
  const byKey = new Map<number, TagRows>();
  for (const t of tags) {
    const key = fresher.get(t.name) ?? t.fields?.wwTagKey;
    if (typeof key !== "number" || !Number.isInteger(key) || byKey.has(key)) return undefined;
    byKey.set(key, perTag.get(t.name)!);
  }
  return byKey;
}

/**
 * A tag's key differs from the one discovery gave (the tag was deleted and created again since):
 * the keys of these tags are read again from TagRef for the next reads, and this one fails as
 * retriable, so the engine redoes its unit with them.
 */
async function keysChanged(
  deps: ReaderDeps,
  tags: readonly TagInfo[],
  e: UnknownKey,
): Promise<PluginError> {
  try {
    const request = deps.pool.request();
    const result = await request.query(
      `SELECT TagName, wwTagKey FROM TagRef WHERE TagName IN (${tagParams(request, tags)})`,
    );
    const callers = callersNames(tags);
    for (const r of result.recordset as { TagName: string; wwTagKey: number }[]) {
      const name = callers(r.TagName);
      if (name !== undefined) deps.keys.set(name, r.wwTagKey);
    }
  } catch (cause) {
    throw classify("reading tag keys from TagRef", cause, deps.address, { loggedInBefore: true });
  }
  return new PluginError(
    PLUGIN,
    `${e.message}, which is none of the ${tags.length} tags read: a tag's key changed since discovery (re-created in the Historian?); keys read again from TagRef, the read is redone`,
    { cause: e, retriable: true, reason: "other" },
  );
}

export async function* readHistory(
  deps: ReaderDeps,
  tags: readonly TagInfo[],
  window: TimeWindow,
  readOptions: ReadOptions = {},
): AsyncIterable<ReadingBatch> {
  const { pool, address } = deps;
  if (tags.length === 0 || window.to <= window.from) return;
  const batchSize = readOptions.batchSize ?? 10_000;
  let fields: Record<string, unknown>;
  try {
    fields = await echoFor(deps, tags, window);
  } catch (e) {
    throw classify("probing History", e, address, { loggedInBefore: true });
  }
  // Per row, nothing is allocated that rows can share: the tag's own name string (not the
  // driver's copy) and one fields object per tag and quality pair (nearly always the same as
  // the tag's previous row, which is checked first: no key is built for it).
  const perTag = new Map<string, TagRows>(
    tags.map((t) => [t.name, { name: t.name, fields: t.fields, shared: new Map() }]),
  );
  let previous: TagRows | undefined;
  const byKey = keyIndex(tags, perTag, deps.keys);
  const tagRows = (tag: string | number): TagRows | undefined => {
    if (byKey) return byKey.get(tag as number);
    if (previous?.name === tag) return previous;
    return previous = perTag.get(tag as string) ??
      perTag.set(tag as string, { name: tag as string, fields: undefined, shared: new Map() })
        .get(tag as string)!;
  };
  const fieldsOf = (t: TagRows, qd: number | null, opc: number | null) => {
    if (t.last && t.qd === qd && t.opc === opc) return t.last;
    const key = `${qd}/${opc}`;
    let f = t.shared.get(key);
    if (!f) {
      f = Object.freeze({ ...t.fields, QualityDetail: qd, OPCQuality: opc });
      t.shared.set(key, f);
    }
    t.qd = qd;
    t.opc = opc;
    return t.last = f;
  };
  const request = pool.request();
  request.stream = true;
  const where = historyWhere(request, deps.mode, tags, window);

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
  // Each row becomes a Reading here, whoever decoded it.
  const take = (
    time: Ticks,
    tag: string | number,
    value: number | null,
    text: string | null,
    quality: number,
    detail: number | null,
    opc: number | null,
  ) => {
    if (time <= window.from || quality === 133 || detail === 65536) return; // never a fabricated row
    const t = tagRows(tag);
    if (!t) {
      failure ??= new UnknownKey(`History returned a row of wwTagKey ${tag}`);
      request.cancel();
      notify();
      return;
    }
    current.push({
      tag: t.name,
      time,
      value,
      text,
      quality: normalizedQuality(quality, opc),
      qualityCode: quality,
      fields: fieldsOf(t, detail, opc),
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
  };
  // Rows as arrays, in rowColumns' order: mssql then builds each row without a keyed
  // property lookup and store per column (megamorphic in its generic row loop).
  request.arrayRowMode = true;
  const ticksOf = ticksReader();
  request.on("row", (r: RowValues) => take(ticksOf(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]));
  const decoded = deps.decodeRows === false ? undefined : decodeRows(request, (values) => {
    const r = values as RowValues<Ticks>;
    take(r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
  });
  request.on("error", (e: unknown) => {
    failure ??= e;
    notify();
  });
  request.on("done", () => {
    finished = true;
    deps.decodedRows = (deps.decodedRows ?? 0) + (decoded?.rows ?? 0);
    if (decoded?.passedOn && !deps.passedOnTold) {
      deps.passedOnTold = true;
      deps.log?.info(
        "History rows read by the driver, slower: the response has " + decoded.passedOn,
      );
    }
    notify();
  });
  const onAbort = () => request.cancel();
  readOptions.signal?.addEventListener("abort", onAbort, { once: true });
  request.query(
    `SELECT ${rowColumns(byKey ? "wwTagKey" : "TagName")} FROM History WHERE ${where}`,
  );
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
    if (e instanceof UnknownKey) throw await keysChanged(deps, tags, e);
    throw classify(`reading History of ${tags.length} tags`, e, address, {
      loggedInBefore: true,
    });
  } finally {
    readOptions.signal?.removeEventListener("abort", onAbort);
    if (!finished && !failure) request.cancel();
  }
}

/**
 * Readings per tag in `(from, to]`, counted by SQL Server: `COUNT(*) … GROUP BY TagName` over
 * the same History rows a read returns (Full, Latest, UTC), so no row crosses to the client.
 */
export async function countHistory(
  deps: ReaderDeps,
  tags: readonly TagInfo[],
  window: TimeWindow,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (tags.length === 0 || window.to <= window.from) return counts;
  const request = deps.pool.request();
  const where = historyWhere(request, deps.mode, tags, window);
  const result = await request.query(
    `SELECT TagName, COUNT(*) AS n FROM History WHERE ${where} GROUP BY TagName`,
  );
  const callers = callersNames(tags);
  for (const row of result.recordset as { TagName: string; n: number }[]) {
    const name = callers(row.TagName) ?? row.TagName;
    counts.set(name, (counts.get(name) ?? 0) + Number(row.n));
  }
  return counts;
}
