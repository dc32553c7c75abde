import assert from "node:assert/strict";
import { parseTicks } from "../engine/types.ts";
import { loadSpec, parseSpec } from "../engine/spec/load.ts";
import { resolveTimeRef } from "../engine/spec/schema.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("pipelines/wonderware.yaml needs only a Historian and a ClickHouse; the rest has defaults", async () => {
  const { spec, plugins: chosen } = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: envOf({ WONDERWARE_HOST: "hist01", CLICKHOUSE_URL: "http://ch:8123" }),
  });
  assert.equal(spec.source.plugin, "wonderware");
  assert.deepEqual(chosen.source.options, {
    host: "hist01",
    port: 1433,
    database: "Runtime",
    user: "",
    password: "",
    encrypt: false,
    trust_server_certificate: false,
    ca_file: "",
    connect_timeout: 15_000,
    request_timeout: 300_000,
    pool_size: 4,
    retrieval_mode: "full",
    tags: { include: ["*"], exclude: ["Sys*"], types: ["analog", "discrete", "string"] },
  });
  assert.equal(spec.cache.plugin, "redis");
  assert.equal(spec.cache.fallback, "memory");
  assert.deepEqual(spec.chunking, {
    tags_per_query: 50,
    window: 86_400_000,
    parallelism: 4,
    memory: 12 * 1024 ** 2,
  });
  assert.deepEqual(spec.backfill.from, { agoMs: 86_400_000 });
  assert.deepEqual(spec.sync, {
    schedule: "* * * * *",
    late_data_window: 7_200_000,
    late_data_every: 10,
    safety_lag: 30_000,
    tag_list_ttl: 3_600_000,
  });
});

Deno.test("the seed's environment variables reach the spec", async () => {
  const env = envOf({
    WONDERWARE_HOST: "hist01",
    WONDERWARE_PORT: "14330",
    WONDERWARE_DATABASE: "RuntimeB",
    WONDERWARE_USERNAME: "reader",
    WONDERWARE_PASSWORD: "pw",
    WONDERWARE_TAG_CHUNK_SIZE: "20",
    WONDERWARE_BACKFILL_CHUNK_DAYS: "7",
    WONDERWARE_TAG_CACHE_TTL: "600",
    CLICKHOUSE_HOST: "ch01",
    CLICKHOUSE_PORT: "8124",
    CLICKHOUSE_USER: "writer",
    CLICKHOUSE_PASSWORD: "chpw",
    CLICKHOUSE_DB: "plant",
    REDIS_URL: "redis://cache:6379",
  });
  const { spec, plugins: chosen } = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env,
  });
  assert.deepEqual(
    (({ host, port, database, user, password }) => ({ host, port, database, user, password }))(
      chosen.source.options as Record<string, unknown>,
    ),
    { host: "hist01", port: 14330, database: "RuntimeB", user: "reader", password: "pw" },
  );
  assert.deepEqual(
    (({ host, port, user, password, database }) => ({ host, port, user, password, database }))(
      chosen.sink.options as Record<string, unknown>,
    ),
    { host: "ch01", port: 8124, user: "writer", password: "chpw", database: "plant" },
  );
  assert.equal((chosen.cache.options as { url: string }).url, "redis://cache:6379");
  assert.equal(spec.chunking.tags_per_query, 20);
  assert.equal(spec.chunking.window, 7 * 86_400_000);
  assert.equal(spec.sync.tag_list_ttl, 600_000);
});

Deno.test("a spec without a cache section gets the built-in memory cache", () => {
  const loaded = parseSpec(
    "version: 1\nsource: {wonderware: {host: h}}\nsink: {clickhouse: {host: ch}}\nbackfill: {from: 2024-01-01}\n",
    "inline.yaml",
    { plugins, sections, env: envOf({}) },
  );
  assert.equal(loaded.spec.cache.plugin, "memory");
  assert.equal(loaded.plugins.cache.definition.name, "memory");
  assert.deepEqual(loaded.plugins.cache.options, { max_entries: 100_000 });
});

Deno.test("backfill times resolve absolute and relative to now", () => {
  const now = new Date("2024-02-01T00:00:00Z");
  const { spec } = parseSpec(
    "version: 1\nsource: {wonderware: {host: h}}\nsink: {clickhouse: {host: ch}}\nbackfill: {from: now-1d, to: '2024-01-31T12:00:00.5Z'}\n",
    "inline.yaml",
    { plugins, sections, env: envOf({}) },
  );
  assert.equal(resolveTimeRef(spec.backfill.from, now), parseTicks("2024-01-31T00:00:00Z"));
  assert.equal(resolveTimeRef(spec.backfill.to, now), parseTicks("2024-01-31T12:00:00.5Z"));
});

Deno.test("spec.schema.json is the schema the plugins generate (run `deno task schema`)", async () => {
  const committed = await Deno.readTextFile("spec.schema.json");
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "main.ts", "schema"] })
    .output();
  assert.equal(out.code, 0);
  assert.equal(
    new TextDecoder().decode(out.stdout),
    committed,
    "spec.schema.json is stale: run `deno task schema`",
  );
});

Deno.test("a secret that YAML would read as a number or boolean is kept as the text written", async () => {
  for (const secret of ["20261202", "007", "true", "1e3", "0x1F"]) {
    const { plugins: chosen } = await loadSpec("pipelines/wonderware.yaml", {
      plugins,
      sections,
      env: (n) =>
        ({
          WONDERWARE_HOST: "historian",
          WONDERWARE_PASSWORD: secret,
          CLICKHOUSE_URL: "http://ch:8123",
        })[n],
    });
    assert.equal((chosen.source.options as { password: string }).password, secret);
  }
  const { plugins: inline } = parseSpec(
    "version: 1\nsource: {wonderware: {host: h, password: 007}}\nsink: {clickhouse: {host: ch}}\nbackfill: {from: 2024-01-01}\n",
    "inline.yaml",
    { plugins, env: envOf({}) },
  );
  assert.equal((inline.source.options as { password: string }).password, "007");
});

Deno.test("setting() names the variable a value is read from, else its YAML path", async () => {
  const loaded = await loadSpec("pipelines/wonderware.yaml", {
    plugins,
    sections,
    env: (n) => ({ WONDERWARE_HOST: "h", CLICKHOUSE_URL: "http://c:8123" })[n],
  });
  assert.equal(loaded.setting("source.wonderware.host"), "WONDERWARE_HOST");
  assert.equal(loaded.setting("source.wonderware.port"), "WONDERWARE_PORT");
  assert.equal(loaded.setting("cache.redis.url"), "REDIS_URL");
  assert.equal(loaded.setting("api.port"), "API_PORT");
  assert.equal(
    loaded.setting("source.wonderware.retrieval_mode"),
    "source.wonderware.retrieval_mode",
  );
});
