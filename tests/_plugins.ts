/**
 * Real plugins opened the way the engine opens them, for the contract suites: the Wonderware
 * source on the Historian simulator, the ClickHouse sink on the embedded store (prepared with
 * the shipped spec's tables, behind the engine's guard).
 */
import { createGuard, guardSink, policyOf } from "../engine/guard.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { PluginContext, Sink, Source } from "../engine/plugin.ts";
import type { TimeWindow } from "../engine/types.ts";
import { parseTicks } from "../engine/types.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import { load } from "../cli/_load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import wonderware from "../plugins/source-wonderware/mod.ts";
import { startSimulator } from "../simulator/mod.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import { SIM_LOGIN, SIM_LOGIN_ENV } from "./_services.ts";

function context(): PluginContext {
  return {
    log: createLogger({ level: "error", format: "json" }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  };
}

/** A sink as the engine holds it: every call behind the spec's one retry layer. */
export function guarded(raw: Sink, loaded: LoadedSpec, ctx: PluginContext): Sink {
  return guardSink(
    raw,
    createGuard("sink", `sink-${loaded.plugins.sink.definition.name}`, {
      policy: policyOf(loaded.spec.retry),
      clock: ctx.clock,
      signal: ctx.signal,
      log: ctx.log,
    }),
  );
}

/** The Wonderware source on a simulator serving `dataset`; the window spans its points. */
export async function openSource(
  dataset: string,
): Promise<{ source: Source; window: TimeWindow; close(): Promise<void> }> {
  const now = parseTicks("2024-06-01T00:00:00Z");
  const sim = await startSimulator({ dataset, now: () => now, ...SIM_LOGIN });
  const env: Record<string, string> = {
    WONDERWARE_HOST: "127.0.0.1",
    WONDERWARE_PORT: String(sim.port),
    ...SIM_LOGIN_ENV,
    CLICKHOUSE_URL: "http://unused:8123",
  };
  const loaded = await load("pipelines/wonderware.yaml", (n) => env[n]);
  const source = await wonderware.create(loaded.plugins.source.options as never, context());
  return {
    source,
    window: { from: parseTicks("2024-03-30T00:00:00Z"), to: parseTicks("2024-04-02T00:00:00Z") },
    async close() {
      await source.close();
      await sim.close();
    },
  };
}

/** The ClickHouse sink on a fresh embedded store, prepared with the shipped spec's model. */
export async function openSink(): Promise<
  { sink: Sink; url: string; database: string; close(): Promise<void> }
> {
  const store = await startTestStore();
  const database = testDatabase();
  const env: Record<string, string> = {
    CLICKHOUSE_URL: store.url,
    CLICKHOUSE_DB: database,
    WONDERWARE_HOST: "unused",
  };
  const loaded = await load("pipelines/wonderware.yaml", (n) => env[n]);
  const ctx = context();
  const raw = await clickhouse.create(loaded.plugins.sink.options as never, ctx);
  const sink = guarded(raw, loaded, ctx);
  const { tables, aggregations, assets } = loaded.spec;
  await sink.prepare({ tables, aggregations, assets }, loaded.spec.name);
  return {
    sink,
    url: store.url,
    database,
    async close() {
      await sink.close();
      await store.stop();
    },
  };
}
