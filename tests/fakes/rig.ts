/**
 * The real engine on in-memory plugins: fake source and sink declared as plugins, a spec in
 * YAML as users write it, a clock whose sleeps return at once (and are counted). Runs in
 * milliseconds.
 */
import { z } from "zod";
import { memoryCache } from "../../engine/cache_memory.ts";
import type { PipelineContext } from "../../engine/context.ts";
import { startEngine } from "../../engine/engine.ts";
import type { Engine } from "../../engine/engine.ts";
import { createHealth, noteError } from "../../engine/health.ts";
import { createLogger } from "../../engine/log.ts";
import { definePlugin } from "../../engine/plugin.ts";
import type { Clock, PipelineState, PluginDefinition } from "../../engine/plugin.ts";
import { parseSpec } from "../../engine/spec/load.ts";
import type { FakeSink } from "./sink.ts";
import type { FakeSource } from "./source.ts";

export interface FakeRig {
  engine: Engine;
  ctx: PipelineContext;
  sleeps: number[];
  lines: string[];
  /** The pipeline's state as the sink holds it at start. */
  state: PipelineState;
  stop: AbortController;
  close(): Promise<void>;
}

export async function fakeRig(
  source: FakeSource,
  sink: FakeSink,
  yaml = "",
  more: PluginDefinition[] = [],
): Promise<FakeRig> {
  const plugins: PluginDefinition[] = [
    ...more,
    memoryCache as PluginDefinition,
    definePlugin({
      kind: "source",
      name: "fake",
      description: "in-memory historian",
      options: z.strictObject({}),
      create: () => Promise.resolve(source),
      fields: { Row: { type: "int", per: "row" }, Batch: { type: "string", per: "batch" } },
    }) as PluginDefinition,
    definePlugin({
      kind: "sink",
      name: "fake",
      description: "in-memory store",
      options: z.strictObject({}),
      create: () => Promise.resolve(sink),
      provides: ["state"],
    }) as PluginDefinition,
  ];
  const loaded = parseSpec(
    `version: 1\nname: fake\nsource: {fake: {}}\nsink: {fake: {}}\nbackfill: {from: now-1d}\n${yaml}`,
    "fake.yaml",
    { plugins, env: () => undefined },
  );
  const sleeps: number[] = [];
  // Time moves only when the engine sleeps, so backoff and the breaker's cooldown play out.
  let slept = 0;
  const clock: Clock = {
    now: () => new Date(Number(source.now / 10_000n) + slept),
    sleep: (ms, signal) => {
      sleeps.push(ms);
      slept += ms;
      return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
    },
  };
  const lines: string[] = [];
  const log = createLogger({ format: "json", level: "info", write: (l) => lines.push(l) });
  const health = createHealth();
  const engine = await startEngine(loaded, {
    log,
    clock,
    secrets: new Set(),
    dataDir: "/nonexistent",
    onFailure: (kind, e) => noteError(health, kind, e),
  });
  const stop = new AbortController();
  const ctx: PipelineContext = {
    engine,
    spec: loaded.spec,
    log,
    clock,
    health,
    signal: stop.signal,
    progress: { intervalMs: 0, update: () => {}, finish: () => {} },
  };
  const state = await sink.state!.load();
  return { engine, ctx, sleeps, lines, state, stop, close: () => engine.close() };
}
