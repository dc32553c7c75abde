/**
 * What a plugin is, and the narrow interfaces the engine expects from each kind.
 *
 * A plugin is one folder under plugins/ whose mod.ts exports a `PluginDefinition`: a kind, a
 * name (the key that selects it in a spec), a zod schema of its options and a `create`
 * factory. The engine validates a spec's plugin block against that schema before anything
 * connects, so the schema is the plugin's whole configuration contract, its docs and its JSON
 * Schema. Plugins import only this module and ./types.ts; the engine never imports a plugin.
 *
 * The interfaces grow with the engine: each method here has an engine stage that calls it.
 */
import type { z } from "zod";
import type { Logger } from "./log.ts";
import type { MigrateService } from "./migration.ts";
import type { StorageModel } from "./spec/storage.ts";
import type { ValueSpec } from "./spec/values.ts";
import type { AssetRow, ReadingBatch, Summaries, TagInfo, Ticks, TimeWindow } from "./types.ts";

/** Time, injected so tests can drive it. */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      function onAbort() {
        clearTimeout(timer);
        reject(signal?.reason);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** What every plugin receives from the engine. */
export interface PluginContext {
  log: Logger;
  /** Aborted when the engine shuts down; long operations should stop at a clean point. */
  signal: AbortSignal;
  clock: Clock;
  /** Register secrets (passwords, tokens) here so no log line or error ever shows them. */
  secrets: Set<string>;
  /** Folder for the plugin's runtime data (git-ignored). */
  dataDir: string;
  /**
   * How the user sets one of the plugin's options, for messages that say what to fix: the
   * environment variable the spec reads it from (`WONDERWARE_HOST`), else its YAML path
   * (`source.wonderware.host`). Absent in tests that build a context by hand.
   */
  setting?(key: string): string;
  /** The spec file the pipeline was loaded from, for messages that name a command to run on it. */
  spec?: string;
}

/**
 * A key/value cache for tag lists and coordination between engine instances. Values are
 * strings; `ttlMs` of 0 or undefined means no expiry.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets `key` only when it is absent; true when it was set. The building block of locks. */
  add(key: string, value: string, ttlMs?: number): Promise<boolean>;
  /** Deletes `key`; with `ifValue`, only while it still holds that value (releasing a lock). */
  delete(key: string, ifValue?: string): Promise<boolean>;
  close(): Promise<void>;
}

/** How a plugin's connection is doing, for the status route and logs (kept by the engine). */
export interface PluginHealth {
  /** closed: working; open: failing fast after repeated failures; half-open: trying again. */
  circuit: "closed" | "open" | "half-open";
  consecutiveFailures: number;
  lastError?: string;
  lastErrorAt?: Date;
}

/** A historian to read from. Retries, backoff and the circuit breaker are the engine's. */
export interface Source {
  /** The tags to load (the spec's include/exclude/type filters applied), with their metadata. */
  discover(signal?: AbortSignal): Promise<TagInfo[]>;
  /**
   * Every stored reading of `tags` in the window `(from, to]`, streamed in batches of at most
   * `batchSize` readings, ordered by time. Never a fabricated reading: no initial-value rows.
   * A failure mid-stream is a PluginError; reading the same window again yields the same data.
   */
  read(
    tags: readonly TagInfo[],
    window: TimeWindow,
    options?: ReadOptions,
  ): AsyncIterable<ReadingBatch>;
  /** The historian's own UTC clock: sync windows end at this time minus the safety lag. */
  serverTime(): Promise<Ticks>;
  /**
   * How many readings `read` would return per tag in the window, by the cheapest query the
   * historian answers (declared as `provides: ["count"]`); `verify` compares them.
   */
  count?(tags: readonly TagInfo[], window: TimeWindow, signal?: AbortSignal): Promise<Counts>;
  /**
   * The historian's own summaries of `tags` (AnalogSummaryHistory, StateSummaryHistory) per cycle
   * of `resolutionMs` from `window.from`, each cycle ending at or before `window.to` (declared
   * as `provides: ["summaries"]`); `verify --summaries` compares them with the stored ones.
   */
  summaries?(
    tags: readonly TagInfo[],
    window: TimeWindow,
    resolutionMs: number,
    signal?: AbortSignal,
  ): Promise<Summaries>;
  close(): Promise<void>;
}

/** Readings per tag name. */
export type Counts = Map<string, number>;

export interface ReadOptions {
  signal?: AbortSignal;
  /** Readings per batch (default 10,000). */
  batchSize?: number;
}

/** Typed query parameters: the only way a value reaches a query's text. */
export type QueryParams = Record<
  string,
  string | number | boolean | bigint | null | readonly (string | number)[]
>;

/** What one `write()` stored. */
export interface WriteResult {
  /** Readings stored by this call (new, or changed since they were stored). */
  written: number;
  /** Readings skipped because an identical reading was already stored. */
  skipped: number;
}

export interface WriteOptions {
  /**
   * Readings were found missing although they were stored once (deleted since, a repair):
   * write what is not stored even where an identical insert was deduplicated before.
   */
  repair?: boolean;
  /**
   * The engine found nothing stored for the unit's tags in its window just before reading it
   * (a first backfill of that range): no stored reading can match, so the sink need not compare.
   */
  fresh?: boolean;
  /**
   * The unit attempt the batch belongs to. A sink may hold that attempt's rows, in its own
   * encoding and up to `holdBytes`, and store them with later batches in fewer, larger writes;
   * commit() with the same `unit` stores all it holds before it returns, and release() drops
   * what it holds of an attempt that will not commit.
   */
  unit?: string;
  /** How many bytes of the attempt's rows the sink may hold (its share of chunking.memory). */
  holdBytes?: number;
}

/** A unit of work whose readings have all been written. */
export interface UnitCommit {
  /** Backfill units have an id and are recorded as done; sync windows have none. */
  id?: string;
  /** The attempt the batches were written with (WriteOptions.unit). */
  unit?: string;
  tags: readonly string[];
  window: TimeWindow;
  /** Readings written for the unit. */
  rows: number;
  /** Readings the source returned for the unit (written or found already stored). */
  readings: number;
}

/** Durable progress of a pipeline. */
export interface PipelineState {
  /** Per tag: every reading up to and including this time is stored. */
  watermarks: Map<string, Ticks>;
  /** Backfill work units known to be fully stored. */
  doneUnits: Set<string>;
}

export interface RunRecord {
  id: string;
  kind: "backfill" | "sync";
  started: Date;
  finished: Date;
  rows: number;
  status: "ok" | "failed" | "partial";
  error?: string;
}

/**
 * A store to write to: prepare the storage model, write batches, commit units, close. What
 * else a store can do is a capability of its own (`state`, `queries`), declared in the
 * plugin's definition (`provides`) so the engine can tell before connecting what is missing.
 */
export interface Sink {
  /**
   * Creates the declared tables, derived tables and aggregations, or checks that existing ones
   * match; running it twice changes nothing. A table that exists with another definition (or
   * a new aggregation with stored rows to fill it from) is a PluginError listing the differences
   * and the migration plan; nothing is dropped or altered.
   */
  prepare(model: StorageModel, pipeline: string): Promise<void>;
  /** Replaces the asset model (tag → place in the plant). */
  setAssets(rows: AssetRow[]): Promise<void>;
  /**
   * Stores a batch exactly once: replaying it stores nothing twice, readings already stored
   * identically are skipped, changed ones replace the stored ones. Aggregates follow at commit.
   */
  write(batch: ReadingBatch, options?: WriteOptions): Promise<WriteResult>;
  /**
   * Makes a unit durable in one idempotent call: its aggregates recomputed from the stored
   * rows and, for a unit with an id, its "done" record. Calling it again after a crash at any
   * point before or inside it leaves the same result.
   */
  commit(unit: UnitCommit): Promise<void>;
  /** Drops what the sink holds of a unit attempt that failed (see WriteOptions.unit). */
  release?(unit: string): void;
  /** Pipeline state kept next to the data (declared as `provides: ["state"]`). */
  state?: StateStore;
  /** Declared queries for the API (declared as `provides: ["query"]`). */
  queries?: QueryService;
  /** Checks a model and statements against the store itself (declared as `provides: ["explain"]`). */
  explain?: ExplainService;
  /** Stored readings per tag in a window, deduplicated (declared as `provides: ["count"]`). */
  counts?: { count(tags: readonly string[], window: TimeWindow): Promise<Counts> };
  /** Plans and applies what brings existing tables to the spec (declared as `provides: ["migrate"]`). */
  migrate?: MigrateService;
  close(): Promise<void>;
}

/** Watermarks, finished units and run records, kept durably. */
export interface StateStore {
  load(): Promise<PipelineState>;
  saveWatermarks(watermarks: Map<string, Ticks>): Promise<void>;
  saveRun(run: RunRecord): Promise<void>;
}

/** Read access for the API: declared SQL with typed parameters. */
export interface QueryService {
  /** Throws a PluginError when the store cannot be reached. */
  ping(): Promise<void>;
  /**
   * The rows of a statement. A limit passed is a PluginError with reason `too_big` (rows,
   * bytes), `memory` or `timeout`; an aborted signal cancels the query in the store.
   */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: QueryParams,
    options?: QueryOptions,
  ): Promise<T[]>;
}

/** What one query may take; the store enforces each limit given. */
export interface QueryOptions {
  /** Running time in the store. */
  timeoutMs?: number;
  /** Result rows. */
  maxRows?: number;
  /** Result bytes, uncompressed. */
  maxBytes?: number;
  /** Memory the query may use in the store, in bytes. */
  maxMemory?: number;
  /** Cancels the query, in the store too (a deadline, a client that has gone). */
  signal?: AbortSignal;
}

/** A statement of the spec to check against the store, with sample values for its parameters. */
export interface SpecStatement {
  path: (string | number)[];
  sql: string;
  params: QueryParams;
}

/**
 * `validate --connect`: the store creates the model somewhere harmless (a scratch database),
 * explains every statement against it, and removes it; each problem keeps its spec path.
 */
export interface ExplainService {
  explain(
    model: StorageModel,
    pipeline: string,
    statements: SpecStatement[],
  ): Promise<ModelIssue[]>;
}

export type Capability = "state" | "query" | "explain" | "count" | "summaries" | "migrate";

/** The type of a field a source provides, as tables may store it. */
export type FieldType = "int" | "float" | "string" | "bool" | "time";

/** A value a source provides beyond the engine's reading: per row, per tag or per batch. */
export interface FieldSpec {
  type: FieldType;
  per: "row" | "tag" | "batch";
  description?: string;
  /**
   * False when every reading carries a value (a tag's key), so a column that cannot hold null
   * may store it. Default true: some readings may lack it.
   */
  nullable?: boolean;
}

/** A problem a plugin finds in the storage model without connecting: a path and a message. */
export interface ModelIssue {
  path: (string | number)[];
  message: string;
}

export interface PluginKinds {
  source: Source;
  sink: Sink;
  cache: Cache;
}

export type PluginKind = keyof PluginKinds;

export interface PluginDefinition<
  K extends PluginKind = PluginKind,
  S extends z.ZodType = z.ZodType,
> {
  kind: K;
  /** The key that selects this plugin in a spec, e.g. `redis` under `cache:`. */
  name: string;
  /** One line for `--help`, the JSON Schema and docs/reference. */
  description: string;
  /** A strict zod schema with defaults; it is the plugin's whole configuration contract. */
  options: S;
  create(options: z.output<S>, context: PluginContext): Promise<PluginKinds[K]>;
  /** Sources: the fields they provide, addressed by tables as `fields.<name>`. */
  fields?: Readonly<Record<string, FieldSpec>>;
  /** The capabilities the created plugin offers beyond its kind's interface. */
  provides?: readonly Capability[];
  /**
   * Sinks: checks of the storage model in the store's own terms (column types), offline.
   * `values` says what each `value:` of a readings table delivers (readingValues()); `options`
   * are the sink's own, for what depends on both (a table its options name).
   */
  checkModel?(
    model: StorageModel,
    values: Readonly<Record<string, ValueSpec>>,
    options: z.output<S>,
  ): ModelIssue[];
}

/** Lets a plugin module declare its definition with its option types inferred. */
export function definePlugin<K extends PluginKind, S extends z.ZodType>(
  definition: PluginDefinition<K, S>,
): PluginDefinition<K, S> {
  return definition;
}
