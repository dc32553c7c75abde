/**
 * `migrate [spec] [--apply] [--allow-loss] [--chunk-tags N] [--chunk-window 1d]`: prints the plan
 * that brings the existing tables to the spec (the sink's `migrate` capability: the exact
 * statements, what is filled from the rows already stored, what is rebuilt because it cannot
 * change in place); with --apply, runs it with progress per chunk, then plans again to show that
 * nothing is left. Applying twice changes nothing; an interrupted apply resumes where it stopped.
 * Only the sink is started: the historian is not contacted.
 */
import { ConfigError } from "../engine/errors.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "../engine/log.ts";
import { formatPlan, pendingSteps } from "../engine/migration.ts";
import type { MigrateOptions, MigrationProgress } from "../engine/migration.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { parseDuration } from "../engine/spec/duration.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import { load } from "./_load.ts";

export interface MigrateFlags {
  apply?: boolean;
  allowLoss?: boolean;
  /** Overrides chunking.tags_per_query. */
  chunkTags?: string;
  /** Overrides chunking.window. */
  chunkWindow?: string;
}

export async function migrateCommand(file: string, flags: MigrateFlags = {}): Promise<number> {
  const chunking = chunkingOf(flags);
  if (typeof chunking === "string") {
    console.error(chunking);
    return 2;
  }
  let loaded: LoadedSpec;
  try {
    loaded = await load(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 1;
  }
  const options: MigrateOptions = {
    tagsPerChunk: chunking.tagsPerChunk ?? loaded.spec.chunking.tags_per_query,
    window: chunking.window ?? loaded.spec.chunking.window,
    allowLoss: flags.allowLoss === true,
  };
  const { definition } = loaded.plugins.sink;
  if (!definition.provides?.includes("migrate")) {
    console.error(
      `The ${definition.name} sink cannot plan schema changes: migrate needs one that can`,
    );
    return 1;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error("stopped by a signal"));
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  let sink: Sink | undefined;
  try {
    sink = await openSink(loaded, stop.signal);
    return await migrate(loaded, sink, { ...options, signal: stop.signal }, flags.apply === true);
  } catch (e) {
    console.error(`migrate ${file}: ${errorText(e)}`);
    return 1;
  } finally {
    await sink?.close();
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

async function migrate(
  loaded: LoadedSpec,
  sink: Sink,
  options: MigrateOptions,
  apply: boolean,
): Promise<number> {
  const model = storageModelOf(loaded.spec);
  const pipeline = loaded.spec.name;
  const command = `deno task migrate ${loaded.file}`;
  const plan = await sink.migrate!.plan(model, pipeline, options);
  console.log(formatPlan(plan, command));
  if (!apply || plan.steps.length === 0) return 0;
  console.log("");
  const started = performance.now();
  const result = await sink.migrate!.apply(model, pipeline, { ...options, onProgress: report });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const after = await sink.migrate!.plan(model, pipeline, options);
  const left = pendingSteps(after);
  console.log(
    `Applied ${result.steps} ${
      result.steps === 1 ? "step" : "steps"
    } in ${seconds} s: ${result.chunks} chunks run (${result.skipped} done by an earlier apply, skipped), ${result.rows} rows written`,
  );
  if (left.length) {
    console.log(`${left.length} left to do:\n${formatPlan(after, command)}`);
    return 1;
  }
  console.log(`The tables in ${after.target} now match the spec.`);
  return 0;
}

/** One line per chunk (and per step without chunks) on stderr. */
function report(p: MigrationProgress) {
  const { step } = p;
  const chunks = step.chunks
    ? `chunk ${p.done}/${p.total}${p.skipped ? ` (${p.skipped} done before)` : ""}, ${p.rows} rows`
    : "done";
  console.error(`migrate: ${step.name} (${step.action}): ${chunks}`);
}

/** The chunking flags, checked before anything is loaded; absent ones come from the spec. */
function chunkingOf(flags: MigrateFlags): Pick<MigrateOptions, "tagsPerChunk" | "window"> | string {
  const tags = flags.chunkTags === undefined ? undefined : Number(flags.chunkTags);
  if (tags !== undefined && (!Number.isInteger(tags) || tags < 1)) {
    return `Cannot use --chunk-tags "${flags.chunkTags}": expected a whole number of tags, 1 or more`;
  }
  const window = flags.chunkWindow === undefined ? undefined : parseDuration(flags.chunkWindow);
  if (flags.chunkWindow !== undefined && (window === undefined || window < 1000)) {
    return `Cannot use --chunk-window "${flags.chunkWindow}": expected a duration of 1s or more, e.g. 6h or 1d`;
  }
  return { tagsPerChunk: tags, window };
}

async function openSink(loaded: LoadedSpec, signal: AbortSignal): Promise<Sink> {
  const { definition, options } = loaded.plugins.sink;
  const secrets = new Set<string>();
  const log = createLogger({
    ...loggerOptionsFromEnv((n) => Deno.env.get(n)),
    secrets,
    level: "warn",
  });
  return await definition.create(options, {
    log,
    signal,
    clock: systemClock,
    secrets,
    dataDir: "data/sink-" + definition.name,
    setting: (key) => loaded.setting(`sink.${definition.name}.${key}`),
    spec: loaded.file,
  });
}
