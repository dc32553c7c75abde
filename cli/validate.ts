/**
 * `validate [--connect] [spec...]`: every problem of every spec, as file:line:col path: message.
 * Without `--connect` nothing is contacted; with it, the sink's store checks the model and
 * every route's SQL too (EXPLAIN in a scratch database, dropped afterwards).
 */
import { ConfigError } from "../engine/errors.ts";
import type { ConfigIssue } from "../engine/errors.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "../engine/log.ts";
import { formatPlan, pendingSteps } from "../engine/migration.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import { apiOf, routeStatements } from "../api/spec.ts";
import { load } from "./_load.ts";

export async function validateCommand(files: string[], connect = false): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      const loaded = await load(file);
      if (connect) {
        const { issues, plan } = await explained(loaded);
        if (issues.length > 0) {
          console.error(new ConfigError(issues).message);
          // The tables differ from the spec: what migrate would do about it.
          if (plan) console.error(`\n${plan}`);
          failed = true;
          continue;
        }
      }
      console.log(`${file}: valid${connect ? " (checked against the store)" : ""}`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(e.message);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

/**
 * The store's own verdict on the spec's model and route SQL, and, where the existing tables
 * differ from the spec, one issue per table at its place in the spec and migrate's plan.
 */
async function explained(loaded: LoadedSpec): Promise<{ issues: ConfigIssue[]; plan?: string }> {
  const { spec } = loaded;
  const { definition, options } = loaded.plugins.sink;
  const here = ["sink", definition.name];
  if (!definition.provides?.includes("explain")) {
    return {
      issues: [
        loaded.locate(
          here,
          `the ${definition.name} sink cannot check statements; --connect needs one that can`,
        ),
      ],
    };
  }
  const secrets = new Set<string>();
  const log = createLogger({
    ...loggerOptionsFromEnv((n) => Deno.env.get(n)),
    secrets,
    level: "warn",
  });
  let sink: Sink;
  try {
    sink = await definition.create(options, {
      log,
      signal: new AbortController().signal,
      clock: systemClock,
      secrets,
      dataDir: "data/sink-" + definition.name,
      setting: (key) => loaded.setting(`sink.${definition.name}.${key}`),
      spec: loaded.file,
    });
  } catch (e) {
    return { issues: [loaded.locate(here, `cannot connect: ${errorText(e)}`)] };
  }
  try {
    const api = apiOf(spec);
    const model = storageModelOf(spec);
    const issues = (await sink.explain!.explain(model, spec.name, api ? routeStatements(api) : []))
      .map((i) => loaded.locate(i.path, i.message));
    // A model the store refuses has no plan: its problems come first.
    if (!sink.migrate || issues.length) return { issues };
    const plan = await sink.migrate.plan(model, spec.name, {
      tagsPerChunk: spec.chunking.tags_per_query,
      window: spec.chunking.window,
    });
    const command = `deno task migrate ${loaded.file}`;
    const pending = pendingSteps(plan);
    for (const step of pending) {
      issues.push(loaded.locate(
        step.path.length ? step.path : here,
        `${step.name} in ${plan.target} differs from the spec (${
          step.changes.join("; ")
        }): run would refuse to start; \`${command}\` prints the plan (below), \`${command} --apply\` runs it`,
      ));
    }
    return { issues, plan: pending.length ? formatPlan(plan, command) : undefined };
  } finally {
    await sink.close();
  }
}
