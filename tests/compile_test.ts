/**
 * The single binary. What can be checked everywhere is checked: the compile commands and the
 * module list come from the plugins, every plugin folder is in, the embedded store is out.
 * Compiling needs a denort runtime binary (DENORT_BIN); without one that test reports itself
 * as ignored, with the reason.
 */
import assert from "node:assert/strict";
import { checkModules, compileCommand, moduleList, TARGETS } from "../scripts/compile.ts";
import { v8FlagsArg } from "../scripts/v8_flags.ts";
import denoJson from "../deno.json" with { type: "json" };
import { startTestStore } from "./_clickhouse.ts";
import { freePort, SIM_LOGIN, SIM_LOGIN_ENV } from "./_services.ts";

Deno.test("compile --with-simulator includes the simulator's entries", () => {
  const command = compileCommand("x86_64-unknown-linux-gnu", { withSimulator: true }).join(" ");
  assert.ok(command.includes("--include simulator/mod.ts --include simulator/main.ts"), command);
});

Deno.test("every engine process runs with the engine's V8 flags: the tasks and the binary", () => {
  const tasks = denoJson.tasks as Record<string, { command: string }>;
  const engine = Object.entries(tasks).filter(([, t]) =>
    / main\.ts (demo|run|verify|backfill)\b/.test(t.command)
  );
  assert.deepEqual(engine.map(([name]) => name).sort(), [
    "backfill",
    "demo",
    "demo:sites",
    "run",
    "verify",
  ]);
  for (const [name, t] of engine) {
    assert.ok(t.command.startsWith(`deno run -A ${v8FlagsArg} main.ts `), `${name}: ${t.command}`);
  }
  assert.ok(compileCommand("x86_64-unknown-linux-gnu").includes(v8FlagsArg));
});

Deno.test("compile --dry-run prints a command per target and the module list", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/compile.ts", "--dry-run"],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  for (const target of TARGETS) assert.ok(text.includes(compileCommand(target).join(" ")), target);
  assert.match(text, /--output dist\/historian-sync-\d+\.\d+\.\d+-x86_64-pc-windows-msvc\.exe/);
  assert.match(text, /modules \(\d+\):\n/);
  assert.ok(text.includes("\n  main.ts\n") && text.includes("\n  api/app.ts\n"));
});

Deno.test("the binary contains every plugin folder, and neither the embedded store nor the simulator", async () => {
  const modules = await moduleList();
  for await (const entry of Deno.readDir("plugins")) {
    if (entry.isDirectory) assert.ok(modules.includes(`plugins/${entry.name}/mod.ts`), entry.name);
  }
  assert.ok(!modules.some((m) => m.startsWith("simulator/")), "no simulator unless asked");
  assert.ok(
    !modules.some((m) => m.includes("_chdb") || m.endsWith("embedded/server.ts")),
    "no chDB",
  );
  assert.deepEqual(await checkModules(modules), []);
  assert.deepEqual(await checkModules(modules.filter((m) => m !== "plugins/cache-redis/mod.ts")), [
    "plugins/cache-redis/mod.ts is not reachable from main.ts: add it to plugins/registry.ts",
  ]);
});

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile test ignored: DENORT_BIN is not set (deno compile needs a denort runtime binary, which cannot be downloaded here)",
  );
}

Deno.test({
  name:
    "the compiled Linux binary validates the spec, runs the simulator and backfills into a ClickHouse URL",
  ignore: !denort,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const target = Deno.build.arch === "aarch64"
      ? "aarch64-unknown-linux-gnu"
      : "x86_64-unknown-linux-gnu";
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/compile.ts", "--with-simulator", "--target", target],
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const command = compileCommand(target, { withSimulator: true });
    const binary = command[command.indexOf("--output") + 1]!;
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Deno.Command(binary, { args, env }).output();
    assert.match(new TextDecoder().decode((await run(["--version"])).stdout), /^historian-sync \d/);
    assert.equal(
      (await run(["validate", "pipelines/wonderware.yaml"], {
        WONDERWARE_HOST: "h",
        CLICKHOUSE_URL: "http://h:8123",
      }))
        .code,
      0,
    );

    const store = await startTestStore();
    const simPort = freePort();
    const sim = new Deno.Command(binary, {
      args: ["sim", "--port", String(simPort), "--user", SIM_LOGIN.user],
      env: { SIMULATOR_PASSWORD: SIM_LOGIN.password },
      stdout: "piped",
    }).spawn();
    try {
      const reader = sim.stdout.pipeThrough(new TextDecoderStream()).getReader();
      for (let seen = ""; !seen.includes("listening");) seen += (await reader.read()).value ?? "";
      reader.releaseLock();
      const backfill = await run(["backfill", "pipelines/wonderware.yaml", "--from", "now-10m"], {
        WONDERWARE_HOST: "127.0.0.1",
        WONDERWARE_PORT: String(simPort),
        ...SIM_LOGIN_ENV,
        CLICKHOUSE_URL: store.url,
      });
      assert.equal(backfill.code, 0, new TextDecoder().decode(backfill.stderr));
      const report = JSON.parse(
        new TextDecoder().decode(backfill.stdout).trim().split("\n").at(-1)!,
      );
      assert.ok(report.rows > 0);
    } finally {
      sim.kill("SIGTERM");
      await sim.status;
      await sim.stdout.cancel().catch(() => {});
      await store.stop();
    }
  },
});
