/**
 * The command line: one file per command, arguments parsed with node:util's parseArgs. The
 * same verbs back the `deno task`s and the compiled binary.
 */
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import { backfillCommand, runCommand } from "./run.ts";
import { schemaCommand } from "./schema.ts";
import { validateCommand } from "./validate.ts";
import { verifyCommand } from "./verify.ts";
import { migrateCommand } from "./migrate.ts";
import { demoCommand } from "./demo.ts";
import { demoSitesCommand } from "./demo_sites.ts";
import { runSitesCommand } from "./sites.ts";

/** True inside a `deno compile`d binary (the executable is not deno itself). */
const COMPILED = !/(^|[\\/])deno(\.exe)?$/.test(Deno.execPath());
/** The spec: next to the executable for the binary, the shipped one for `deno task`. */
export const DEFAULT_SPEC = COMPILED
  ? `${Deno.execPath().replace(/[\\/][^\\/]*$/, "")}/wonderware.yaml`
  : "pipelines/wonderware.yaml";
export const VERSION = `historian-sync ${denoJson.version}`;

interface Command {
  help: string;
  options?: Record<string, { type: "string" | "boolean" }>;
  run(positionals: string[], values: Record<string, string | boolean | undefined>): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  demo: {
    help: `Usage: main.ts demo [spec] [--dataset DIR] [--timezone ZONE]
       main.ts demo --sites

Runs the spec (default ${DEFAULT_SPEC}) on SIMULATED data: starts the built-in Historian
simulator with a demo plant (or the dataset folder: tags.csv, points.csv) and, unless
CLICKHOUSE_URL or CLICKHOUSE_HOST is set, the embedded ClickHouse store; then backfills, syncs
and serves the API as run does, until SIGINT or SIGTERM.

--sites runs the multi-site example instead (pipelines/sites/): a Wonderware site on the
simulator and an Ignition site on a throwaway PostgreSQL (Debian's postgresql package), in one
process into one store; the API on http://127.0.0.1:4000/sites/status.

Ports, and how to move them when one is taken ("address already in use"):
  API_PORT=4001                  the REST API and status page (default 4000, on API_HOSTNAME,
                                 default 127.0.0.1)
  CLICKHOUSE_EMBEDDED_PORT=8124  the embedded store (default 8123, on CLICKHOUSE_EMBEDDED_HOST,
                                 default 127.0.0.1); or CLICKHOUSE_URL=http://host:8123 to use
                                 a ClickHouse of yours instead, and start no embedded store
  The simulator (and --sites' PostgreSQL) take a free loopback port of their own each run.
Example: API_PORT=4001 CLICKHOUSE_EMBEDDED_PORT=8124 main.ts demo`,
    options: {
      dataset: { type: "string" },
      timezone: { type: "string" },
      sites: { type: "boolean" },
    },
    run: ([file], v) =>
      v.sites ? demoSitesCommand() : demoCommand(file ?? DEFAULT_SPEC, {
        dataset: v.dataset as string | undefined,
        timezone: v.timezone as string | undefined,
      }),
  },
  run: {
    help: `Usage: main.ts run [spec...]

Loads the spec (default ${DEFAULT_SPEC}), starts its cache, sink and source plugins, prepares
the tables, backfills the spec's range, then syncs on the spec's schedule until SIGINT or
SIGTERM; then it stops at a clean point and closes the plugins in reverse order (exit 0).
Exit 1 when the spec is invalid or a plugin fails to start.

With several specs (one per site), each runs as its own pipeline in this process: a site that
cannot start or loses its historian is retried on its own while the others keep running.`,
    run: (files) =>
      files.length > 1 ? runSitesCommand(files) : runCommand(files[0] ?? DEFAULT_SPEC),
  },
  backfill: {
    help: `Usage: main.ts backfill [spec] [--from TIME] [--to TIME] [--tags PATTERN]

Backfills the history of the spec's tags (or those matching PATTERN, a glob or /regex/) over
[--from, --to] (default: the spec's backfill range; times as in specs: ISO 8601, now, now-30d),
skipping work units already done, and prints a report. Exit 0 when every unit succeeded,
1 otherwise (a rerun picks up the failed units).`,
    options: { from: { type: "string" }, to: { type: "string" }, tags: { type: "string" } },
    run: ([file], v) =>
      backfillCommand(file ?? DEFAULT_SPEC, {
        from: v.from as string | undefined,
        to: v.to as string | undefined,
        tags: v.tags as string | undefined,
      }),
  },
  verify: {
    help:
      `Usage: main.ts verify [spec] [--from TIME] [--to TIME] [--tags PATTERN] [--window 1d] [--repair]
       main.ts verify [spec] --summaries [--tolerance 1e-9] [--from] [--to] [--tags] [--window 1d]

Compares, per tag and window (default a day, on the UTC grid), the readings the historian holds
with those stored (deduplicated), over the spec's backfill range or [--from, --to]. Prints the
windows that differ and a summary line; exit 0 when none differ, 1 otherwise. With --repair it
re-reads exactly those windows, writes what is missing, and verifies again.

With --summaries it compares instead the stored AnalogSummaryHistory and StateSummaryHistory rows
(1-minute, 1-hour and 1-day cycles) with the historian's own answers for the same cycles, column
by column, floating-point values within a relative --tolerance (default 1e-9), and lists each
tag, cycle and column that differs.`,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      tags: { type: "string" },
      window: { type: "string" },
      repair: { type: "boolean" },
      summaries: { type: "boolean" },
      tolerance: { type: "string" },
    },
    run: ([file], v) =>
      verifyCommand(file ?? DEFAULT_SPEC, {
        from: v.from as string | undefined,
        to: v.to as string | undefined,
        tags: v.tags as string | undefined,
        window: v.window as string | undefined,
        repair: v.repair === true,
        summaries: v.summaries === true,
        tolerance: v.tolerance as string | undefined,
      }),
  },
  validate: {
    help: `Usage: main.ts validate [--connect] [spec...]

Validates each spec (default ${DEFAULT_SPEC}) without connecting to anything. With --connect,
the sink's store also checks the tables and every route's SQL (EXPLAIN in a scratch database
that is dropped afterwards). Exit 0 when all are valid; exit 1 and print one line per problem.`,
    options: { connect: { type: "boolean" } },
    run: (files, v) => validateCommand(files.length ? files : [DEFAULT_SPEC], v.connect === true),
  },
  migrate: {
    help:
      `Usage: main.ts migrate [spec] [--apply] [--allow-loss] [--chunk-tags N] [--chunk-window 1d]

Prints the plan that brings the tables of the spec's store (default ${DEFAULT_SPEC}) to the spec:
per table what differs and the exact statements (MODIFY TTL, ADD/MODIFY/DROP COLUMN, a codec,
MODIFY SETTING, a materialized view created again), a new aggregation created and filled from
the rows already stored, and what cannot change in place (an engine, a key) rebuilt: a new
table filled by INSERT … SELECT, EXCHANGE TABLES, the old one dropped.

--apply runs the plan, chunk by chunk (chunking.tags_per_query tags × chunking.window, or
--chunk-tags and --chunk-window), each chunk recorded in the pipeline state: an interrupted
apply resumes where it stopped, and applying twice changes nothing. Stop the pipeline first.
--allow-loss also applies steps that discard stored values (a column the spec no longer has).
Exit 0 when the plan was printed or applied, 1 when it could not be applied.`,
    options: {
      apply: { type: "boolean" },
      "allow-loss": { type: "boolean" },
      "chunk-tags": { type: "string" },
      "chunk-window": { type: "string" },
    },
    run: ([file], v) =>
      migrateCommand(file ?? DEFAULT_SPEC, {
        apply: v.apply === true,
        allowLoss: v["allow-loss"] === true,
        chunkTags: v["chunk-tags"] as string | undefined,
        chunkWindow: v["chunk-window"] as string | undefined,
      }),
  },
  schema: {
    help: `Usage: main.ts schema [file]

Writes the JSON Schema of pipeline specs, generated from the engine's and the plugins' schemas.`,
    run: ([file]) => schemaCommand(file),
  },
};

const HELP =
  `${VERSION}: moves AVEVA (Wonderware) Historian data into ClickHouse and keeps it in sync

Usage: main.ts <command> [options]

Commands:
  demo [spec]          Run on SIMULATED data: the Historian simulator and the embedded store
                       (--sites: a Wonderware and an Ignition site together)
  run [spec...]        Run a pipeline: backfill, then sync on schedule (default ${DEFAULT_SPEC});
                       several specs: one pipeline per site in this process
  backfill [spec]      Backfill history: --from TIME --to TIME --tags PATTERN
  verify [spec]        Compare counts per tag and day, historian vs store (--repair: re-read;
                       --summaries: the summary tables, column by column)
  validate [spec...]   Check specs; print every problem as file:line:col path: message
                       (--connect: have the store check tables and route SQL too)
  migrate [spec]       Print the plan that brings existing tables to the spec (--apply: run it)
  sim [options]        Run the Historian simulator (see sim --help)
  schema [file]        Write the JSON Schema of pipeline specs (default: stdout)

Options: --help, --version. Environment: LOG_LEVEL (debug|info|warn|error), LOG_FORMAT (text|json).`;

export async function main(args: string[]): Promise<number> {
  const [name = "--help", ...rest] = args;
  if (name === "--version" || name === "-V") return print(VERSION);
  if (name === "--help" || name === "-h" || name === "help") return print(HELP);
  if (name === "sim") return await simCommand(rest);
  const command = COMMANDS[name];
  if (!command) {
    console.error(`Unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: { help: { type: "boolean", short: "h" }, ...command.options },
    });
  } catch (e) {
    const option = /'([^']+)'/.exec((e as Error).message)?.[1] ?? rest.join(" ");
    console.error(`Unknown option "${option}"\n\n${command.help}`);
    return 2;
  }
  if (parsed.values.help) return print(command.help);
  return await command.run(parsed.positionals, parsed.values);
}

function print(text: string): number {
  console.log(text);
  return 0;
}

/** `sim`: the simulator's own CLI, loaded only when asked for (see demo.ts). */
async function simCommand(args: string[]): Promise<number> {
  try {
    const { runSim } = await import(SIM_CLI) as { runSim(args: string[]): Promise<number> };
    return await runSim(args);
  } catch (e) {
    console.error(`This build does not hold the Historian simulator: ${(e as Error).message}`);
    return 1;
  }
}

const SIM_CLI = ["..", "simulator", "main.ts"].join("/");
