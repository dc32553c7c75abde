/**
 * `validate [--connect] [spec...]`: every problem of every spec, as file:line:col path: message.
 * Without `--connect` nothing is contacted; with it, the sink's store checks the model and
 * every route's SQL too (EXPLAIN in a scratch database, dropped afterwards).
 */
import { ConfigError } from "../engine/errors.ts";
import type { ConfigIssue } from "../engine/errors.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "../engine/log.ts";
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
        const issues = await explained(loaded);
        if (issues.length > 0) throw new ConfigError(issues);
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

/** The store's own verdict on the spec's model and route SQL. */
async function explained(loaded: LoadedSpec): Promise<ConfigIssue[]> {
  const { spec } = loaded;
  const { definition, options } = loaded.plugins.sink;
  const here = ["sink", definition.name];
  if (!definition.provides?.includes("explain")) {
    return [
      loaded.locate(
        here,
        `the ${definition.name} sink cannot check statements; --connect needs one that can`,
      ),
    ];
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
    });
  } catch (e) {
    return [loaded.locate(here, `cannot connect: ${errorText(e)}`)];
  }
  try {
    const api = apiOf(spec);
    const issues = await sink.explain!.explain(
      storageModelOf(spec),
      spec.name,
      api ? routeStatements(api) : [],
    );
    return issues.map((i) => loaded.locate(i.path, i.message));
  } finally {
    await sink.close();
  }
}
