/**
 * The command line: `run`, `validate` and `schema`. The same verbs back the `deno task`s.
 */
import { z } from "zod";
import { startEngine } from "./engine/engine.ts";
import { ConfigError } from "./engine/errors.ts";
import { createLogger, errorText, loggerOptionsFromEnv } from "./engine/log.ts";
import { systemClock } from "./engine/plugin.ts";
import { loadSpec } from "./engine/spec/load.ts";
import { specSchema } from "./engine/spec/schema.ts";
import { plugins } from "./plugins/registry.ts";
import denoJson from "./deno.json" with { type: "json" };

export const DEFAULT_SPEC = "pipelines/wonderware.yaml";
const VERSION = `historian-sync ${denoJson.version}`;

const HELP: Record<string, string> = {
  main: `${VERSION}: moves AVEVA (Wonderware) Historian data into ClickHouse and keeps it in sync

Usage: main.ts <command> [options]

Commands:
  run [spec]           Run a pipeline (default ${DEFAULT_SPEC})
  validate [spec...]   Check specs; print every problem as file:line:col path: message
  schema [file]        Write the JSON Schema of pipeline specs (default: stdout)

Options: --help, --version. Environment: LOG_LEVEL (debug|info|warn|error), LOG_FORMAT (text|json).`,
  run: `Usage: main.ts run [spec]

Loads the spec (default ${DEFAULT_SPEC}), starts its cache, sink and source plugins, and runs
until SIGINT or SIGTERM, then closes the plugins in reverse order and exits 0.
Exit 1 when the spec is invalid or a plugin fails to start.`,
  validate: `Usage: main.ts validate [spec...]

Validates each spec (default ${DEFAULT_SPEC}) without connecting to anything.
Exit 0 when all are valid; exit 1 and print one line per problem otherwise.`,
  schema: `Usage: main.ts schema [file]

Writes the JSON Schema of pipeline specs, generated from the engine's and the plugins' schemas.`,
};

export async function main(args: string[]): Promise<number> {
  const [command = "--help", ...rest] = args;
  if (command === "--version" || command === "-V") return print(VERSION);
  if (command === "--help" || command === "-h" || command === "help") return print(HELP.main!);
  if (!(command in HELP) || command === "main") {
    console.error(`Unknown command "${command}"\n\n${HELP.main}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) return print(HELP[command]!);
  const unknownFlag = rest.find((a) => a.startsWith("-"));
  if (unknownFlag) {
    console.error(`Unknown option "${unknownFlag}"\n\n${HELP[command]}`);
    return 2;
  }
  switch (command) {
    case "validate":
      return await validate(rest.length ? rest : [DEFAULT_SPEC]);
    case "schema":
      return await writeSchema(rest[0]);
    default:
      return await run(rest[0] ?? DEFAULT_SPEC);
  }
}

function print(text: string): number {
  console.log(text);
  return 0;
}

async function validate(files: string[]): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      await loadSpec(file, { plugins });
      console.log(`${file}: valid`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(e.message);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

async function writeSchema(file?: string): Promise<number> {
  const json = JSON.stringify(
    z.toJSONSchema(specSchema(plugins).schema, { io: "input", unrepresentable: "any" }),
    null,
    2,
  ) + "\n";
  if (file) {
    await Deno.writeTextFile(file, json);
    console.log(`wrote ${file}`);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(json));
  }
  return 0;
}

async function run(file: string): Promise<number> {
  const secrets = new Set<string>();
  const log = createLogger({ ...loggerOptionsFromEnv((n) => Deno.env.get(n)), secrets });
  let loaded;
  try {
    loaded = await loadSpec(file, { plugins });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 1;
  }
  const spec = loaded.spec;
  log.info("pipeline loaded", {
    spec: file,
    name: spec.name,
    source: spec.source.plugin,
    sink: spec.sink.plugin,
    cache: spec.cache.plugin,
  });

  const stopped = new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
  let engine;
  try {
    engine = await startEngine(loaded, { log, clock: systemClock, secrets, dataDir: "data" });
  } catch (e) {
    log.error("the pipeline could not start", { error: errorText(e) });
    return 1;
  }
  log.warn(
    "backfill and sync are not built yet: the engine starts its plugins, prepares the tables and waits",
  );
  const signal = await stopped;
  log.info("stopping", { signal });
  await engine.close();
  log.info("stopped cleanly");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
