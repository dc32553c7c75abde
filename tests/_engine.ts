/** The real engine started from a loaded spec the way `run` starts it, for end-to-end tests. */
import type { PipelineContext } from "../engine/context.ts";
import { startEngine } from "../engine/engine.ts";
import type { Engine } from "../engine/engine.ts";
import { createHealth } from "../engine/health.ts";
import type { Logger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";

export async function startPipeline(
  loaded: LoadedSpec,
  log: Logger,
): Promise<{ engine: Engine; ctx: PipelineContext }> {
  const engine = await startEngine(loaded, {
    log,
    clock: systemClock,
    secrets: new Set(),
    dataDir: "/nonexistent",
  });
  const ctx: PipelineContext = {
    engine,
    spec: loaded.spec,
    log,
    clock: systemClock,
    health: createHealth(),
    signal: new AbortController().signal,
  };
  return { engine, ctx };
}
