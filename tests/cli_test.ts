/** The command line as users run it: a real `deno run main.ts` process per case. */
import assert from "node:assert/strict";

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    env: { LOG_FORMAT: "json", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const PLANT = {
  WONDERWARE_HOST: "historian.plant.local",
  CLICKHOUSE_URL: "http://ch.plant.local:8123",
};

Deno.test("validate exits 0 for the shipped spec with a Historian and a ClickHouse named", async () => {
  const { code, stdout } = await cli(["validate", "pipelines/wonderware.yaml"], PLANT);
  assert.equal(code, 0);
  assert.equal(stdout, "pipelines/wonderware.yaml: valid\n");
});

const NO_HOST = [
  "pipelines/wonderware.yaml:12:11 source.wonderware.host: environment variable WONDERWARE_HOST is not set: the Historian's SQL Server host; for a demo on simulated data run `deno task demo`",
];

Deno.test("the shipped spec without WONDERWARE_HOST fails validate and run, names the variable and the demo, and touches no store", async () => {
  const validate = await cli(["validate", "pipelines/wonderware.yaml"], {
    CLICKHOUSE_URL: PLANT.CLICKHOUSE_URL,
  });
  assert.equal(validate.code, 1);
  assert.deepEqual(validate.stderr.trim().split("\n"), NO_HOST);
  // A ClickHouse that counts who calls: nobody may.
  let calls = 0;
  const store = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    calls++;
    return new Response("Ok.\n");
  });
  try {
    const run = await cli(["run", "pipelines/wonderware.yaml"], {
      CLICKHOUSE_URL: `http://127.0.0.1:${store.addr.port}`,
    });
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderr.trim().split("\n"), NO_HOST);
    assert.equal(calls, 0, "the store was not contacted");
  } finally {
    await store.shutdown();
  }
});

Deno.test("the shipped spec without a ClickHouse says how to name one instead of starting the embedded store", async () => {
  const { code, stderr } = await cli(["validate", "pipelines/wonderware.yaml"], {
    WONDERWARE_HOST: PLANT.WONDERWARE_HOST,
  });
  assert.equal(code, 1);
  assert.equal(
    stderr,
    "pipelines/wonderware.yaml:35:10 sink.clickhouse.url: no ClickHouse to write to: set url or host (CLICKHOUSE_URL or CLICKHOUSE_HOST in the shipped spec), or embedded.enabled: true for the embedded store; `deno task demo` runs on it\n",
  );
});

Deno.test("validate exits 1 and prints every error line of every bad spec", async () => {
  const { code, stdout, stderr } = await cli([
    "validate",
    "pipelines/wonderware.yaml",
    "tests/fixtures/bad/wrong_type.yaml",
    "tests/fixtures/bad/missing.yaml",
  ], PLANT);
  assert.equal(code, 1);
  assert.equal(stdout, "pipelines/wonderware.yaml: valid\n");
  assert.equal(
    stderr,
    'tests/fixtures/bad/wrong_type.yaml:5:11 source.wonderware.port: expected a number, got "abc"\n' +
      "tests/fixtures/bad/missing.yaml:1:1 cannot read the spec: file not found\n",
  );
});

Deno.test("--help on each command explains it; unknown commands and flags exit 2", async () => {
  for (const command of ["demo", "run", "backfill", "verify", "validate", "schema"]) {
    const { code, stdout } = await cli([command, "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^Usage: main.ts ${command}`));
  }
  assert.match((await cli(["--help"])).stdout, /Commands:\n {2}demo \[spec\]/);
  const demo = (await cli(["demo", "--help"])).stdout;
  for (const port of ["API_PORT=4001", "CLICKHOUSE_EMBEDDED_PORT=8124", "CLICKHOUSE_URL="]) {
    assert.ok(demo.includes(port), `demo --help says how to move its ports: ${port}`);
  }
  assert.match((await cli(["--version"])).stdout, /^historian-sync \d+\.\d+\.\d+\n$/);
  assert.equal((await cli(["frobnicate"])).code, 2);
  assert.equal((await cli(["validate", "--strict"])).code, 2);
});

Deno.test("run with an invalid spec exits 1 with the error lines and starts nothing", async () => {
  const { code, stderr } = await cli(["run", "tests/fixtures/bad/zero_chunk_size.yaml"]);
  assert.equal(code, 1);
  assert.equal(
    stderr,
    "tests/fixtures/bad/zero_chunk_size.yaml:11:19 chunking.tags_per_query: must be at least 1\n",
  );
});

Deno.test("demo backfills from the simulator into the embedded store, says so, then stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "historian-sync-cli-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "demo"],
    env: {
      LOG_FORMAT: "json",
      CLICKHOUSE_EMBEDDED_PATH: dir,
      CLICKHOUSE_EMBEDDED_PORT: "0",
      API_PORT: "0",
      BACKFILL_FROM: "now-10m",
      WONDERWARE_PASSWORD: "Sup3r-Secret-Pw",
      REDIS_URL: "redis://:R3dis-Secret-Pw@127.0.0.1:1",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("syncing on a cron schedule")) {
    const { value, done } = await reader.read();
    if (done) break;
    output += value;
  }
  child.kill("SIGTERM");
  for (let r = await reader.read(); !r.done; r = await reader.read()) output += r.value;
  const status = await child.status;
  await child.stdout.cancel();
  assert.equal(status.code, 0, output);
  const messages = output.trim().split("\n").map((l) => JSON.parse(l).msg);
  assert.deepEqual(messages.slice(-2), ["stopping", "stopped cleanly"]);
  assert.ok(output.includes("using the built-in memory cache"));
  assert.ok(output.includes("starting the EMBEDDED ClickHouse store"));
  assert.ok(output.includes("ClickHouse tables ready"));
  assert.ok(
    output.includes("DEMO: reading SIMULATED plant data from the BUILT-IN HISTORIAN SIMULATOR"),
  );
  assert.ok(output.includes('"msg":"backfill finished"'));
  assert.ok(!output.includes("Secret-Pw"), output);
  await Deno.remove(dir, { recursive: true });
});
