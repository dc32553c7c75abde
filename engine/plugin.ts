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
import type { Ticks } from "./types.ts";

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

/** A historian to read from. */
export interface Source {
  /** The historian's own UTC clock: sync windows end at this time minus the safety lag. */
  serverTime(): Promise<Ticks>;
  close(): Promise<void>;
}

/** A store to write to and query. */
export interface Sink {
  /** Throws a PluginError when the store cannot be reached. */
  ping(): Promise<void>;
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
