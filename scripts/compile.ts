/**
 * `deno task compile [--target T]... [--with-simulator] [--dry-run]`: one executable per target,
 * named after the product and its version, with the engine, the API and every plugin a plant
 * server needs — but not the embedded ClickHouse store (chDB: large, Linux-only, not for plant
 * servers), and not the Historian simulator unless `--with-simulator` asks for it (`demo` and
 * `sim` load it dynamically and say so when it is absent).
 *
 * What goes in is checked against the plugins, not listed by hand: every folder under plugins/
 * with a mod.ts must be statically reachable from main.ts, and nothing of the embedded store
 * but its supervisor (which reports that the store is absent) may be.
 *
 * `deno compile --target T` downloads the runtime of T (denort) from Deno's download server and
 * keeps it in its cache. Where that server cannot be reached, DENORT_BIN names a denort binary;
 * one runtime serves one target, so DENORT_BIN builds exactly one `--target`.
 */
import { parseArgs } from "node:util";
import denoJson from "../deno.json" with { type: "json" };
import { v8FlagsArg } from "./v8_flags.ts";

/** Every target `deno compile` builds for, and what it is. */
export const TARGET_NAMES: Readonly<Record<string, string>> = {
  "x86_64-pc-windows-msvc": "Windows x64: the plant servers, where the Historian runs",
  "x86_64-unknown-linux-gnu": "Linux x64 (glibc)",
  "aarch64-unknown-linux-gnu": "Linux arm64 (glibc)",
  "x86_64-apple-darwin": "macOS on Intel",
  "aarch64-apple-darwin": "macOS on Apple silicon",
};
export const TARGETS = Object.keys(TARGET_NAMES);
/** Built when no --target is given: the plant's Windows server first, then Linux servers. */
export const DEFAULT_TARGETS = [
  "x86_64-pc-windows-msvc",
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
];
const ROOT = new URL("../", import.meta.url).pathname;
const EMBEDDED = "clickhouse-embedded/";
/** What the binary holds of the embedded store: what starts it and reads its logins, no engine. */
const EMBEDDED_IN_BINARY = ["mod.ts", "supervisor.ts", "credentials.ts"];
const DENO = Deno.version.deno;

export const HELP = `Usage: deno task compile [--target TARGET]... [--with-simulator] [--dry-run]

Builds one executable per target into dist/ with deno compile: the engine, the REST API and
every plugin; never the embedded ClickHouse store; the Historian simulator only when asked.

Options:
  --target TARGET   Build this target; repeat for several. Default: the first three.
${TARGETS.map((t) => `    ${t.padEnd(26)} ${TARGET_NAMES[t]}`).join("\n")}
  --with-simulator  Include the Historian simulator (for demo and sim on site)
  --dry-run         Print the commands and the module list; build and download nothing
  --help            This text

The runtime: deno compile downloads the Deno runtime (denort, Deno ${DENO}) of each target from
Deno's download server and keeps it in its cache. On a machine without internet access, set
DENORT_BIN to a denort binary of that target from the same Deno release (the denort-TARGET.zip
of Deno ${DENO}, unzipped) and build that one target, e.g.
  DENORT_BIN=/opt/denort-${DENO}/denort.exe deno task compile --target x86_64-pc-windows-msvc
One runtime serves one target: DENORT_BIN with several targets is refused.

Beside the executable on the server: the spec (wonderware.yaml, read from the executable's
folder by default) and the environment variables it names; see docs/operations.md, "The binary".`;

export function outputName(target: string): string {
  return `dist/historian-sync-${denoJson.version}-${target}${
    target.includes("windows") ? ".exe" : ""
  }`;
}

/** The simulator's modules, compiled in only with --with-simulator (demos, smoke tests on site). */
export const SIMULATOR_ENTRIES = ["simulator/mod.ts", "simulator/main.ts"];

export function compileCommand(
  target: string,
  options: { withSimulator?: boolean } = {},
): string[] {
  return [
    "deno",
    "compile",
    "--allow-all",
    "--unstable-cron",
    "--unstable-no-legacy-abort",
    "--no-check",
    // Only the npm packages main.ts imports (the drivers through literal dynamic imports): not
    // the lockfile's every package, which would embed chDB (540 MB) and the test browser driver.
    "--exclude-unused-npm",
    v8FlagsArg,
    ...(options.withSimulator ? SIMULATOR_ENTRIES.flatMap((m) => ["--include", m]) : []),
    "--target",
    target,
    "--output",
    outputName(target),
    "main.ts",
  ];
}

/** The targets to build, or why not: unknown names, or DENORT_BIN with other than one target. */
export function chooseTargets(
  requested: readonly string[],
  denortBin?: string,
): { targets: string[] } | { error: string } {
  const unknown = requested.filter((t) => !TARGETS.includes(t));
  if (unknown.length > 0) {
    return {
      error: `Unknown target "${unknown[0]}": deno compile builds for ${TARGETS.join(", ")}`,
    };
  }
  const targets = requested.length > 0 ? [...new Set(requested)] : DEFAULT_TARGETS;
  if (denortBin && targets.length !== 1) {
    return {
      error:
        `DENORT_BIN is set (${denortBin}): one runtime serves one target, so name the target it is for with one --target (${
          requested.length === 0 ? "none given" : targets.join(", ")
        }); unset DENORT_BIN to have deno compile download the runtime of each target`,
    };
  }
  return { targets };
}

/**
 * What to do when deno compile failed setting up the runtime of `target`; undefined when its
 * failure was something else (its own message then stands alone).
 */
export function runtimeProblem(
  target: string,
  stderr: string,
  denortBin?: string,
): string | undefined {
  if (denortBin) {
    return /denort|base binary/i.test(stderr)
      ? `Cannot build ${target} with DENORT_BIN=${denortBin}: it must be a denort binary (not deno) of ${target} from Deno ${DENO}, the version that builds`
      : undefined;
  }
  if (!/base binary|denort|dl\.deno\.land/i.test(stderr)) return undefined;
  return `Cannot build ${target}: deno compile could not download the Deno runtime for it (denort-${target}.zip of Deno ${DENO}, from Deno's download server), which this machine cannot reach.
Either run \`deno task compile\` on a machine with internet access, or set DENORT_BIN to a denort binary of ${target} from Deno ${DENO} and build that target alone:
  DENORT_BIN=/path/to/denort${
    target.includes("windows") ? ".exe" : ""
  } deno task compile --target ${target}`;
}

/** Local modules statically reachable from main.ts, relative to the project root. */
export async function moduleList(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
  }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith("file://"))
    .map((s) => decodeURIComponent(new URL(s).pathname).slice(ROOT.length)).sort();
}

/** Problems with what the binary would contain; empty when every plugin is in and chDB is out. */
export async function checkModules(modules: string[]): Promise<string[]> {
  const problems: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}plugins`)) {
    if (!entry.isDirectory) continue;
    const mod = `plugins/${entry.name}/mod.ts`;
    const exists = await Deno.stat(`${ROOT}${mod}`).then(() => true, () => false);
    if (exists && !modules.includes(mod)) {
      problems.push(`${mod} is not reachable from main.ts: add it to plugins/registry.ts`);
    }
  }
  for (const m of modules) {
    if (m.startsWith("simulator/")) {
      problems.push(
        `${m} must not be reachable from main.ts: the simulator is compiled in only when asked`,
      );
    }
    if (m.startsWith(EMBEDDED) && !EMBEDDED_IN_BINARY.some((f) => m === EMBEDDED + f)) {
      problems.push(`${m} must not be in the binary`);
    }
  }
  return problems;
}

/** Runs one `deno compile`, passing its output through; the extra words when it failed. */
async function build(target: string, withSimulator: boolean, denortBin?: string) {
  const [, ...args] = compileCommand(target, { withSimulator });
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  await Deno.stderr.write(out.stderr);
  if (out.success) return { code: 0 };
  return { code: out.code, problem: runtimeProblem(target, stderr, denortBin) };
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: "string", multiple: true },
        "with-simulator": { type: "boolean" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;
  const chosen = chooseTargets(values.target ?? [], denortBin);
  if ("error" in chosen) {
    console.error(chosen.error);
    return 2;
  }
  const withSimulator = values["with-simulator"] === true;
  const modules = await moduleList();
  const problems = await checkModules(modules);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    return 1;
  }
  for (const target of chosen.targets) {
    console.log(compileCommand(target, { withSimulator }).join(" "));
  }
  console.log(`modules (${modules.length}):\n  ${modules.join("\n  ")}`);
  if (values["dry-run"]) return 0;
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  for (const target of chosen.targets) {
    const { code, problem } = await build(target, withSimulator, denortBin);
    if (code === 0) continue;
    if (problem) console.error(`\n${problem}`);
    return code;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
