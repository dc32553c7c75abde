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
import { createHealth } from "../../engine/health.ts";
import { createLogger } from "../../engine/log.ts";
import { definePlugin } from "../../engine/plugin.ts";
import type { Clock, PluginDefinition } from "../../engine/plugin.ts";
import { parseSpec } from "../../engine/spec/load.ts";
import type { FakeSink } from "./sink.ts";
import type { FakeSource } from "./source.ts";

export interface FakeRig {
  engine: Engine;
  ctx: PipelineContext;
  sleeps: number[];
  lines: string[];
  stop: AbortController;
  close(): Promise<void>;
}

export async function fakeRig(
  source: FakeSource,
  sink: FakeSink,
  yaml = "",
): Promise<FakeRig> {
  const plugins: PluginDefinition[] = [
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
  const log = createLogger({ format: "json", level: "warn", write: (l) => lines.push(l) });
  const engine = await startEngine(loaded, {
    log,
    clock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
  const stop = new AbortController();
  const ctx: PipelineContext = {
    engine,
    spec: loaded.spec,
    log,
    clock,
    health: createHealth(),
    signal: stop.signal,
    progress: { intervalMs: 0, update: () => {}, finish: () => {} },
  };
  return { engine, ctx, sleeps, lines, stop, close: () => engine.close() };
}
