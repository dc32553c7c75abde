/**
 * `deno task compile [--dry-run] [--target T...]`: one executable per target, named after the
 * product and its version, with the engine, the API and every plugin a plant server needs —
 * but not the embedded ClickHouse store (chDB: large, Linux-only, not for plant servers), and
 * not the Historian simulator unless `--with-simulator` asks for it (`demo` and `sim` load it
 * dynamically and say so when it is absent).
 *
 * What goes in is checked against the plugins, not listed by hand: every folder under plugins/
 * with a mod.ts must be statically reachable from main.ts, and nothing of the embedded store
 * but its supervisor (which reports that the store is absent) may be. `deno compile` needs a
 * runtime base binary (DENORT_BIN) that cannot be downloaded on every machine; --dry-run prints
 * the commands and the module list without it.
 */
import denoJson from "../deno.json" with { type: "json" };
import { v8FlagsArg } from "./v8_flags.ts";

export const TARGETS = [
  "x86_64-pc-windows-msvc",
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
];
const ROOT = new URL("../", import.meta.url).pathname;
const EMBEDDED = "clickhouse-embedded/";

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
    "--no-check",
    v8FlagsArg,
    ...(options.withSimulator ? SIMULATOR_ENTRIES.flatMap((m) => ["--include", m]) : []),
    "--target",
    target,
    "--output",
    outputName(target),
    "main.ts",
  ];
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
    if (
      m.startsWith(EMBEDDED) &&
      !["mod.ts", "supervisor.ts", "credentials.ts"].some((f) => m === EMBEDDED + f)
    ) {
      problems.push(`${m} must not be in the binary`);
    }
  }
  return problems;
}

if (import.meta.main) {
  const dryRun = Deno.args.includes("--dry-run");
  const withSimulator = Deno.args.includes("--with-simulator");
  const targets = Deno.args.flatMap((a, i) => (Deno.args[i - 1] === "--target" ? [a] : []));
  const modules = await moduleList();
  const problems = await checkModules(modules);
  for (const target of targets.length ? targets : TARGETS) {
    if (!TARGETS.includes(target)) {
      console.error(`Unknown target "${target}"; known targets: ${TARGETS.join(", ")}`);
      Deno.exit(2);
    }
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    Deno.exit(1);
  }
  for (const target of targets.length ? targets : TARGETS) {
    console.log(compileCommand(target, { withSimulator }).join(" "));
  }
  console.log(`modules (${modules.length}):\n  ${modules.join("\n  ")}`);
  if (!dryRun) {
    if (!Deno.env.get("DENORT_BIN")) {
      console.error(
        "deno compile needs a runtime base binary: set DENORT_BIN to a denort binary (it cannot be downloaded here)",
      );
      Deno.exit(1);
    }
    await Deno.mkdir(`${ROOT}dist`, { recursive: true });
    for (const target of targets.length ? targets : TARGETS) {
      const [cmd, ...args] = compileCommand(target, { withSimulator });
      const status = await new Deno.Command(cmd === "deno" ? Deno.execPath() : cmd!, {
        args,
        cwd: ROOT,
      }).spawn().status;
      if (!status.success) Deno.exit(status.code);
    }
  }
}
