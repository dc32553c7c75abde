/**
 * Cluster mode, proven without a cluster: none can run here (no Keeper; the embedded store refuses
 * ON CLUSTER, Replicated and Distributed), so every statement the sink would send to a cluster is
 * parsed by ClickHouse (`EXPLAIN SYNTAX` through the embedded store) and pinned by golden files.
 *
 * For each spec under tests/fixtures/cluster/, `<spec>.sql` holds the statements for a cluster of
 * two shards with two replicas each, in ClickHouse's own formatting. After a deliberate change,
 * write them again and review the diff:
 *
 *   TZ=UTC deno test -A tests/cluster_ddl_test.ts -- --update
 */
import assert from "node:assert/strict";
import { startTestStore } from "./_clickhouse.ts";
import type { TestStore } from "./_clickhouse.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import type { StorageModel } from "../engine/mod.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";
import { options, targetOf } from "../plugins/sink-clickhouse/options.ts";
import type { Options } from "../plugins/sink-clickhouse/options.ts";
import { layoutOf, modelDdl, placementOf, q } from "../plugins/sink-clickhouse/ddl.ts";
import type { Target } from "../plugins/sink-clickhouse/ddl.ts";
import { aggregateSql } from "../plugins/sink-clickhouse/aggregates.ts";
import { driftOf } from "../plugins/sink-clickhouse/drift.ts";
import { createClient } from "../plugins/sink-clickhouse/_client_lib.ts";
import type { ClickHouseClient } from "@clickhouse/client";
import {
  clusterSettings,
  replicatedSettings,
  shardingExpr,
} from "../plugins/sink-clickhouse/cluster.ts";

const DIR = "tests/fixtures/cluster";
const UPDATE = Deno.args.includes("--update");

interface Statement {
  title: string;
  sql: string;
}

interface ClusterCase {
  file: string;
  model: StorageModel;
  target: Target;
  settings: Record<string, unknown>;
  statements: Statement[];
}

/** What the sink sends to a cluster for a spec: its DDL, then each aggregation's recompute. */
async function clusterCase(
  file: string,
  env: Record<string, string> = {},
  override?: (o: Options) => Options,
): Promise<ClusterCase> {
  const loaded = await loadSpec(file, { plugins, sections, env: (n) => env[n] });
  const model = storageModelOf(loaded.spec);
  const options = loaded.plugins.sink.options as Options;
  const target = targetOf(override ? override(options) : options);
  assert.ok(target.cluster, `${file} has no cluster`);
  const statements = [
    ...modelDdl(target, loaded.spec.name, model).map((d) => ({
      title: `${d.kind} ${d.name}`,
      sql: d.sql,
    })),
    ...aggregateSql(q(target.database), model).map((a) => ({
      title: `recompute ${a.name}: a unit's commit, per shard ({tags}, {from}, {to}, {site} bound)`,
      sql: a.sql,
    })),
  ];
  return {
    file,
    model,
    target,
    settings: clusterSettings(options.request_timeout),
    statements,
  };
}

/** Sample values of the recompute's parameters, as ClickHouse's HTTP interface takes them. */
const PARAMS = {
  tags: "['Site.Line1.Pump1.Flow']",
  from: "2024-01-01 00:00:00.0000000",
  to: "2024-01-01 01:00:00.0000000",
  site: "hamburg",
};

/** One statement on the store as its writer, with parameters; the answer's text or a throw. */
async function run(store: TestStore, sql: string, params: Record<string, string> = {}) {
  const url = new URL(`${store.base}/`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(`param_${k}`, v);
  const auth = btoa(`${store.writer.user}:${store.writer.password}`);
  const answer = await fetch(url, {
    method: "POST",
    body: sql,
    headers: { Authorization: `Basic ${auth}` },
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${answer.status}: ${text.trim()}\n  in: ${sql}`);
  return text;
}

/**
 * ClickHouse parses `sql`. A CREATE TABLE and an INSERT go through EXPLAIN SYNTAX (an INSERT's
 * SELECT is analysed against the single-server tables of the same names, created beforehand);
 * the rest through formatQuery(), the same parser, which runs nothing: CREATE DATABASE and views,
 * which EXPLAIN does not take, and a Distributed table, whose engine the store's policy refuses
 * in any statement it is sent (clickhouse-embedded/_policy.ts), EXPLAIN included.
 */
function parse(store: TestStore, sql: string, tables = true) {
  const explain = tables ? /^(CREATE TABLE |INSERT )/ : /^CREATE TABLE /;
  const explained = explain.test(sql) && !/\bENGINE = Distributed\(/.test(sql);
  return explained
    ? run(store, `EXPLAIN SYNTAX ${sql}`, PARAMS)
    : run(store, "SELECT formatQuery({s:String})", { s: sql });
}

/** A setting's value in SQL: numbers bare, text quoted. */
const settingValue = (v: unknown) =>
  typeof v === "string" && !/^\d+$/.test(v) ? `'${v}'` : String(v);

/** The golden text: the writer's settings, then every statement as ClickHouse formats it. */
async function golden(store: TestStore, c: ClusterCase): Promise<string> {
  const format = async (sql: string) =>
    (await run(store, "SELECT formatQuery({s:String}) FORMAT TSVRaw", { s: sql })).trimEnd();
  const lines = [
    `-- Generated from ${c.file} by tests/cluster_ddl_test.ts (-- --update); do not edit.`,
    `-- The statements the ClickHouse sink sends to cluster ${c.target.cluster}, as ClickHouse formats`,
    "-- them, for two shards of two replicas each: remote_servers names the four nodes in two",
    "-- <shard>s with internal_replication true, each node's macros give its {shard} (1 or 2) and",
    "-- {replica}, and Keeper is configured. Nothing here depends on how many shards or replicas",
    "-- there are: each node's macros do. UNTESTED ON A REAL CLUSTER: each statement is parsed by",
    "-- ClickHouse (EXPLAIN SYNTAX, or formatQuery) in the test, none has run.",
    "",
    "-- Sent with every statement of the sink's writer (cluster.ts says why):",
    ...Object.entries(c.settings).map(([k, v]) => `SET ${k} = ${settingValue(v)};`),
    "-- and with every insert of rows: insert_deduplicate = 1, insert_deduplication_token = <SHA-256",
    "-- of the rows>, deduplicate_blocks_in_dependent_materialized_views = 1, async_insert = 0.",
  ];
  for (const s of c.statements) lines.push("", `-- ${s.title}`, `${await format(s.sql)};`);
  return lines.join("\n") + "\n";
}

const fixtures = [...Deno.readDirSync(DIR)].filter((e) => e.name.endsWith(".yaml"))
  .map((e) => `${DIR}/${e.name}`).sort();

Deno.test({
  name: "cluster mode: every statement parses and matches its golden file",
  // The store is a process of its own, started and stopped here.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    try {
      for (const file of fixtures) {
        const c = await clusterCase(file);
        // The same tables on a single server, under the same names: what the statements read.
        const db = q(c.target.database);
        for (const d of modelDdl({ database: c.target.database }, "p", c.model)) {
          await run(store, d.sql);
        }
        await t.step(`${file}: ClickHouse parses every statement`, async () => {
          for (const s of c.statements) await parse(store, s.sql);
          for (const [k, v] of Object.entries(c.settings)) {
            await run(store, `EXPLAIN SYNTAX SELECT 1 SETTINGS ${k} = ${settingValue(v)}`);
          }
        });
        await t.step(
          `${file}: the statements are those of ${file.replace(/yaml$/, "sql")}`,
          async () => {
            const text = await golden(store, c);
            const path = file.replace(/\.yaml$/, ".sql");
            if (UPDATE) await Deno.writeTextFile(path, text);
            const pinned = await Deno.readTextFile(path).catch(() => "");
            assert.equal(
              text,
              pinned,
              `the cluster DDL of ${file} changed: review it, then run the test with -- --update`,
            );
          },
        );
        await t.step(`${file}: each sharding key is a UInt64 of its table's columns`, async () => {
          for (const name of Object.keys({ ...c.model.tables, ...c.model.aggregations })) {
            const p = placementOf(c.model, name);
            if (p.kind !== "sharded") continue;
            const key = shardingExpr(layoutOf(c.target).shardingKey, p, q);
            const described = await run(
              store,
              `DESCRIBE (SELECT ${key} AS k FROM ${db}.${q(name)}) FORMAT TSVRaw`,
            );
            // A hash of a LowCardinality column is LowCardinality(UInt64), which Distributed
            // takes as an integer key (ClickHouse PRs #3683, #10611).
            assert.match(
              described.split("\t")[1]!,
              /^(UInt64|LowCardinality\(UInt64\))$/,
              `${name}: ${key}`,
            );
          }
        });
        await run(store, `DROP DATABASE ${db} SYNC`);
      }
      await t.step(
        "the settings cluster mode sets are settings this ClickHouse knows",
        async () => {
          const c = await clusterCase(fixtures[0]!);
          const names = (sql: string) => run(store, `${sql} FORMAT TSVRaw`);
          for (const k of Object.keys(c.settings)) {
            assert.equal(
              (await names(`SELECT count() FROM system.settings WHERE name = '${k}'`)).trim(),
              "1",
              k,
            );
          }
          for (const k of Object.keys(replicatedSettings(layoutOf(c.target)))) {
            assert.equal(
              (await names(`SELECT count() FROM system.merge_tree_settings WHERE name = '${k}'`))
                .trim(),
              "1",
              k,
            );
          }
        },
      );
      await t.step(
        "the drift check knows a Distributed table from what the spec wants there",
        async () => {
          const c = await clusterCase(`${DIR}/wonderware.yaml`);
          const front = modelDdl(c.target, "wonderware", c.model).find((d) =>
            d.name === "WonderwareHistory"
          )!;
          assert.equal(front.kind, "distributed");
          const real = createClient({
            url: store.base,
            username: store.writer.user,
            password: store.writer.password,
          });
          // What system.tables would say on a cluster node, the store having no Distributed table.
          const existing = (engine: string, engine_full: string) =>
            ({
              query: (p: { query: string; query_params?: Record<string, unknown> }) =>
                /FROM system\.tables/.test(p.query) && p.query_params?.n === "WonderwareHistory"
                  ? Promise.resolve({
                    json: () =>
                      Promise.resolve([{
                        engine,
                        engine_full,
                        sorting_key: "",
                        partition_key: "",
                      }]),
                  })
                  : real.query(p as Parameters<ClickHouseClient["query"]>[0]),
            }) as unknown as ClickHouseClient;
          try {
            const same =
              "Distributed('plant', 'historian', 'WonderwareHistory_local', cityHash64(TagName))";
            assert.deepEqual(await driftOf(existing("Distributed", same), c.target, [front]), []);
            const [other] = await driftOf(
              existing("Distributed", same.replace("cityHash64", "xxHash64")),
              c.target,
              [front],
            );
            assert.match(
              other!,
              /^WonderwareHistory: is Distributed\(.*xxHash64.*the spec says .*cityHash64\(TagName\)\); rows already stored are placed by the old key/,
            );
            const [single] = await driftOf(
              existing("ReplacingMergeTree", "ReplacingMergeTree(IngestedAt) ORDER BY TagName"),
              c.target,
              [front],
            );
            assert.match(
              single!,
              /^WonderwareHistory: is a ReplacingMergeTree table; on a cluster the spec puts a Distributed table here, in front of WonderwareHistory_local/,
            );
          } finally {
            await real.close();
          }
        },
      );
      await t.step("the shipped pipeline's cluster mode parses too", async () => {
        const c = await clusterCase(
          "pipelines/wonderware.yaml",
          { WONDERWARE_HOST: "historian.plant.local", CLICKHOUSE_URL: "http://ch:8123" },
          (o) => ({
            ...o,
            cluster: options.parse({ url: "http://ch:8123", cluster: "plant" }).cluster,
          }),
        );
        for (const s of c.statements) await parse(store, s.sql, false);
      });
    } finally {
      await store.stop();
    }
  },
});
