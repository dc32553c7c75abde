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
import type { StorageModel } from "./spec/storage.ts";
import type { AssetRow, ReadingBatch, TagInfo, Ticks, TimeWindow } from "./types.ts";

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

/** How a plugin's connection is doing, for the status route and logs. */
export interface PluginHealth {
  /** closed: working; open: failing fast after repeated failures; half-open: trying again. */
  circuit: "closed" | "open" | "half-open";
  consecutiveFailures: number;
  lastError?: string;
  lastErrorAt?: Date;
}

/** A historian to read from. */
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
  health(): PluginHealth;
  close(): Promise<void>;
}

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

/** Durable progress of a pipeline, kept by the sink next to the data it describes. */
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

/** A store to write to and query. */
export interface Sink {
  /** Throws a PluginError when the store cannot be reached. */
  ping(): Promise<void>;
  /**
   * Creates the declared tables, derived tables and aggregations, or checks that existing ones
   * match; running it twice changes nothing. A table that exists with another definition is a
   * PluginError listing the differences; nothing is dropped or altered.
   */
  prepare(model: StorageModel, pipeline: string): Promise<void>;
  /** Replaces the asset model (tag → place in the plant) used by derived tables. */
  setAssets(rows: AssetRow[]): Promise<void>;
  /**
   * Stores a batch exactly once: replaying it (same readings) stores nothing twice, readings
   * already stored identically are skipped, changed ones replace the stored ones, and
   * aggregations reflect the result when the promise resolves — unless `deferAggregates`,
   * in which case the caller calls `refreshAggregates` for the range once it is written.
   */
  write(batch: ReadingBatch, options?: { deferAggregates?: boolean }): Promise<WriteResult>;
  /** Recomputes the aggregations of `tags` over `[from, to]` from the stored raw readings. */
  refreshAggregates(tags: readonly string[], from: Ticks, to: Ticks): Promise<void>;
  /** Runs declared SQL with typed parameters and returns its rows. */
  query<T = Record<string, unknown>>(
    sql: string,
    params?: QueryParams,
    options?: { timeoutMs?: number; maxRows?: number },
  ): Promise<T[]>;
  loadState(): Promise<PipelineState>;
  saveWatermarks(watermarks: Map<string, Ticks>): Promise<void>;
  saveUnitDone(unit: string, rows: number): Promise<void>;
  saveRun(run: RunRecord): Promise<void>;
  close(): Promise<void>;
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
  /** One line for `--help`, the JSON Schema and the README. */
  description: string;
  /** A strict zod schema with defaults; it is the plugin's whole configuration contract. */
  options: S;
  create(options: z.output<S>, context: PluginContext): Promise<PluginKinds[K]>;
}

/** Lets a plugin module declare its definition with its option types inferred. */
export function definePlugin<K extends PluginKind, S extends z.ZodType>(
  definition: PluginDefinition<K, S>,
): PluginDefinition<K, S> {
  return definition;
}
