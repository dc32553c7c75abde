/**
 * The single binary. What can be checked everywhere is checked: the commands for every target
 * deno compiles for, the module list (every plugin folder in, the embedded store and the
 * simulator out), the npm packages a build embeds, the refusals and the message when the
 * runtime cannot be downloaded. Running the binary needs a denort runtime of this machine's
 * target (DENORT_BIN); without one that test reports itself as ignored, with the reason.
 */
import assert from "node:assert/strict";
import {
  checkModules,
  chooseTargets,
  compileCommand,
  DEFAULT_TARGETS,
  moduleList,
  runtimeProblem,
  TARGETS,
} from "../scripts/compile.ts";
import { v8FlagsArg } from "../scripts/v8_flags.ts";
import denoJson from "../deno.json" with { type: "json" };
import { startTestStore } from "./_clickhouse.ts";
import { freePort, SIM_LOGIN, SIM_LOGIN_ENV } from "./_services.ts";

const decoder = new TextDecoder();

/** scripts/compile.ts as `deno task compile` runs it, without DENORT_BIN unless given. */
async function compile(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/compile.ts", ...args],
    env: { DENORT_BIN: "", ...env },
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

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

Deno.test("compile --dry-run prints the command of every target deno compiles for, and the module list", async () => {
  assert.deepEqual(TARGETS, [
    "x86_64-pc-windows-msvc",
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
  ]);
  const all = await compile(["--dry-run", ...TARGETS.flatMap((t) => ["--target", t])]);
  assert.equal(all.code, 0, all.stderr);
  for (const target of TARGETS) {
    const command = compileCommand(target).join(" ");
    assert.ok(all.stdout.includes(`${command}\n`), target);
    assert.ok(command.includes(` --target ${target} --output dist/historian-sync-`), command);
  }
  assert.match(
    all.stdout,
    /--output dist\/historian-sync-\d+\.\d+\.\d+-x86_64-pc-windows-msvc\.exe/,
  );
  assert.match(all.stdout, /modules \(\d+\):\n/);
  assert.ok(all.stdout.includes("\n  main.ts\n") && all.stdout.includes("\n  api/app.ts\n"));

  const defaults = await compile(["--dry-run"]);
  assert.equal(defaults.code, 0, defaults.stderr);
  const commands = defaults.stdout.split("\n").filter((l) => l.startsWith("deno compile "));
  assert.deepEqual(commands, DEFAULT_TARGETS.map((t) => compileCommand(t).join(" ")));
  assert.equal(DEFAULT_TARGETS[0], "x86_64-pc-windows-msvc", "the plant's Windows server first");
});

Deno.test("compile --help documents --target with every target, the default, and DENORT_BIN", async () => {
  const { code, stdout } = await compile(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task compile \[--target TARGET\]\.\.\./);
  for (const target of TARGETS) assert.match(stdout, new RegExp(`\\n {4}${target} +\\S`));
  assert.match(stdout, /x86_64-pc-windows-msvc +Windows x64: the plant servers/);
  assert.match(stdout, /DENORT_BIN=\S+ deno task compile --target x86_64-pc-windows-msvc/);
  assert.match(stdout, /DENORT_BIN with several targets is refused/);
});

Deno.test("DENORT_BIN builds exactly one target; unknown targets are refused", async () => {
  assert.deepEqual(chooseTargets([]), { targets: DEFAULT_TARGETS });
  assert.deepEqual(chooseTargets(["aarch64-apple-darwin"], "/opt/denort"), {
    targets: ["aarch64-apple-darwin"],
  });
  assert.deepEqual(chooseTargets(["x86_64-pc-windows-msvc"]), {
    targets: ["x86_64-pc-windows-msvc"],
  });
  assert.match(
    (chooseTargets(["windows"]) as { error: string }).error,
    /^Unknown target "windows": deno compile builds for x86_64-pc-windows-msvc, /,
  );
  assert.match(
    (chooseTargets([], "/opt/denort") as { error: string }).error,
    /^DENORT_BIN is set \(\/opt\/denort\): one runtime serves one target, so name the target it is for with one --target \(none given\)/,
  );
  const two = await compile(
    ["--dry-run", "--target", "x86_64-pc-windows-msvc", "--target", "x86_64-unknown-linux-gnu"],
    { DENORT_BIN: "/opt/denort" },
  );
  assert.equal(two.code, 2);
  assert.match(
    two.stderr,
    /one runtime serves one target, .*\(x86_64-pc-windows-msvc, x86_64-unknown-linux-gnu\)/,
  );
  assert.equal((await compile(["--target", "windows"])).code, 2);
});

Deno.test("a runtime that cannot be downloaded: the message says so and names both ways out", async () => {
  // Every download goes to a closed port, as it does on a machine without internet access.
  const proxy = `http://127.0.0.1:${freePort()}`;
  const target = "x86_64-pc-windows-msvc";
  const run = await compile(["--target", target], { HTTPS_PROXY: proxy, HTTP_PROXY: proxy });
  if (run.code === 0) {
    // This machine had the runtime in Deno's cache already: nothing to download.
    console.log("compile download test: the Windows runtime was already in Deno's cache");
    await Deno.remove(compileCommand(target).at(-2)!);
    return;
  }
  assert.equal(run.code, 1);
  assert.ok(
    run.stderr.includes(
      `Cannot build ${target}: deno compile could not download the Deno runtime for it (denort-${target}.zip of Deno ${Deno.version.deno}, from Deno's download server), which this machine cannot reach.\nEither run \`deno task compile\` on a machine with internet access, or set DENORT_BIN to a denort binary of ${target} from Deno ${Deno.version.deno} and build that target alone:\n  DENORT_BIN=/path/to/denort.exe deno task compile --target ${target}\n`,
    ),
    run.stderr,
  );
  assert.equal(runtimeProblem(target, "error: Check main.ts: type error"), undefined);
  assert.match(
    runtimeProblem(target, "Could not find denort at '/x'", "/x")!,
    /^Cannot build x86_64-pc-windows-msvc with DENORT_BIN=\/x: it must be a denort binary \(not deno\)/,
  );
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

Deno.test({
  name: "a build embeds each plugin's driver, and neither chDB nor the test browser driver",
  // deno compile lists what it embeds; any base binary will do for that, deno's own included.
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "historian-sync-compile-" });
    try {
      const [, ...args] = compileCommand(Deno.build.target);
      args[args.indexOf("--output") + 1] = `${dir}/binary`;
      const out = await new Deno.Command(Deno.execPath(), {
        args,
        env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      }).output();
      const listing = decoder.decode(out.stdout) + decoder.decode(out.stderr);
      assert.equal(out.code, 0, listing);
      for (const driver of ["mssql/", "tedious/", "postgres/", "ioredis/", "@clickhouse/client"]) {
        assert.ok(listing.includes(driver), `${driver} is embedded`);
      }
      for (const absent of ["@chdb/", "playwright-core/"]) {
        assert.ok(!listing.includes(absent), `${absent} is not embedded`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compiled binary test ignored: no denort runtime for this machine's target is at hand (set DENORT_BIN to one of Deno " +
      Deno.version.deno +
      "); deno compile downloads it from Deno's download server, and npm's deno packages ship only the full deno, which cannot serve as one",
  );
}

Deno.test({
  name:
    "the compiled binary validates the spec, runs the demo with the simulator compiled in, and backfills into a ClickHouse URL",
  ignore: !denort,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const target = Deno.build.target;
    const build = await compile(["--with-simulator", "--target", target], { DENORT_BIN: denort! });
    assert.equal(build.code, 0, build.stderr);
    const command = compileCommand(target, { withSimulator: true });
    const binary = command[command.indexOf("--output") + 1]!;
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Deno.Command(binary, { args, env }).output();
    assert.match(decoder.decode((await run(["--version"])).stdout), /^historian-sync \d/);
    const validate = await run(["validate", "pipelines/wonderware.yaml"], {
      WONDERWARE_HOST: "h",
      CLICKHOUSE_URL: "http://h:8123",
    });
    assert.equal(validate.code, 0, decoder.decode(validate.stderr));

    const store = await startTestStore();
    try {
      // demo: the simulator from inside the binary, into the store named by CLICKHOUSE_URL.
      const demo = new Deno.Command(binary, {
        args: ["demo", "pipelines/wonderware.yaml"],
        env: {
          LOG_FORMAT: "json",
          CLICKHOUSE_URL: store.url,
          API_PORT: "0",
          BACKFILL_FROM: "now-10m",
        },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const lines = demo.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let output = "";
      while (!output.includes("syncing on a cron schedule")) {
        const { value, done } = await lines.read();
        if (done) break;
        output += value;
      }
      demo.kill("SIGTERM");
      for (let r = await lines.read(); !r.done; r = await lines.read()) output += r.value;
      assert.equal((await demo.status).code, 0, output);
      assert.ok(output.includes('"msg":"backfill finished"'), output);

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
        assert.equal(backfill.code, 0, decoder.decode(backfill.stderr));
        const report = JSON.parse(decoder.decode(backfill.stdout).trim().split("\n").at(-1)!);
        assert.ok(report.rows > 0);
      } finally {
        sim.kill("SIGTERM");
        await sim.status;
        await sim.stdout.cancel().catch(() => {});
      }
    } finally {
      await store.stop();
    }
  },
});
