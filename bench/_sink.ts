/**
 * For benchmarks: the shipped spec's ClickHouse sink against a given URL, tables prepared (the
 * summaries' too with `summaries: true`).
 */
import type { Logger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";

export async function preparedSink(
  store: { url: string; credentials: { writer: { user: string; password: string } } },
  log: Logger,
  dataDir: string,
  options: { summaries?: boolean } = {},
): Promise<{ sink: Sink; loaded: LoadedSpec }> {
  const env: Record<string, string> = {
    CLICKHOUSE_URL: store.url,
    CLICKHOUSE_USER: store.credentials.writer.user,
    CLICKHOUSE_PASSWORD: store.credentials.writer.password,
    WONDERWARE_HOST: "unused",
  };
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => env[n],
  });
  const sink = await clickhouse.create(loaded.plugins.sink.options as never, {
    log,
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set(),
    dataDir,
  });
  const { tables, aggregations, assets } = loaded.spec;
  const model = options.summaries ? storageModelOf(loaded.spec) : { tables, aggregations, assets };
  await sink.prepare(model, loaded.spec.name);
  return { sink, loaded };
}
