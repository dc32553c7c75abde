/**
 * Cluster mode's layout, offline: which tables are sharded and how, what the sharding key may
 * be, and where each statement reads and writes. tests/cluster_ddl_test.ts has ClickHouse parse
 * every statement and pins them in golden files.
 */
import assert from "node:assert/strict";
import { parseSpec } from "../../engine/spec/load.ts";
import { storageModelOf } from "../../engine/spec/schema.ts";
import { plugins } from "../registry.ts";
import { sections } from "../../cli/_load.ts";
import { modelDdl, placementOf, q } from "./ddl.ts";
import type { Ddl } from "./ddl.ts";
import { options, targetOf } from "./options.ts";
import type { Options } from "./options.ts";
import {
  clusterSettings,
  replicaNameProblem,
  replicaPathProblem,
  shardingExpr,
  shardingKeyProblem,
} from "./cluster.ts";

/** The DDL the sink would send for a spec whose sink and tables are given as YAML. */
function ddlOf(sink: string, tables: string): Ddl[] {
  const text = `version: 1
name: plant
source:
  wonderware:
    host: historian.plant.local
sink:
  clickhouse:
    url: http://ch:8123
    database: historian
${sink.replace(/^/gm, "    ")}
backfill:
  from: 2024-01-01T00:00:00Z
${tables}`;
  const loaded = parseSpec(text, "test.yaml", { plugins, sections });
  const target = targetOf(loaded.plugins.sink.options as Options);
  return modelDdl(target, loaded.spec.name, storageModelOf(loaded.spec));
}

const TABLES = `tables:
  History:
    from: readings
    columns:
      DateTime: { type: "DateTime64(7, 'UTC')", value: time }
      TagName: { type: LowCardinality(String), value: tag }
      Value: { type: Nullable(Float64), value: value }
      IngestedAt: { type: "DateTime64(3, 'UTC')", value: ingested_at }
    engine: ReplacingMergeTree(IngestedAt)
    order_by: [TagName, DateTime]
    ttl: { column: DateTime, keep: 90d }
  Copy:
    from: History
    columns:
      TagName: { type: LowCardinality(String), expr: TagName }
      DateTime: { type: "DateTime64(7, 'UTC')", expr: DateTime }
    order_by: [TagName, DateTime]
aggregations:
  PerMinute:
    from: History
    tag_column: TagName
    time_column: DateTime
    bucket: 1m
    bucket_column: minute
    columns:
      n: { type: UInt64, expr: count() }
assets:
  table: Machines
  columns: [machine]
  rules: []
`;

const byName = (ddl: Ddl[]) => new Map(ddl.map((d) => [d.name, d]));

Deno.test("shardingKeyProblem() accepts hashes over {site} and {tag} only", () => {
  for (
    const ok of ["cityHash64({site}, {tag})", "xxHash64({tag})", " sipHash64( {tag} , {site} ) "]
  ) {
    assert.equal(shardingKeyProblem(ok), undefined, ok);
  }
  assert.equal(
    shardingKeyProblem("cityHash64({tag}, DateTime)"),
    '"cityHash64({tag}, DateTime)": "DateTime" is not {site} or {tag}: a key over anything else would split a tag\'s rows across shards, where ReplacingMergeTree cannot deduplicate them and FINAL and the per-bucket recompute see only part of them',
  );
  assert.equal(
    shardingKeyProblem("cityHash64({site})"),
    '"cityHash64({site})" does not hash {tag}: every tag of a site would land on one shard; write "cityHash64({site}, {tag})"',
  );
  assert.equal(
    shardingKeyProblem("rand()"),
    '"rand()": rand is not one of the hash functions a sharding key may use (cityHash64, sipHash64, xxHash64, xxh3, murmurHash3_64, farmHash64): a tag must land on the same shard on every node, e.g. "cityHash64({site}, {tag})"',
  );
  assert.equal(
    shardingKeyProblem("{tag}"),
    '"{tag}" is not a hash of the tag: write a hash function over {site} and {tag}, e.g. "cityHash64({site}, {tag})"',
  );
  assert.match(shardingKeyProblem("cityHash64(lower({tag}))")!, /"lower\(\{tag\}\)" is not/);
  assert.equal(
    shardingKeyProblem("cityHash64({tag}, {tag})"),
    '"cityHash64({tag}, {tag})" names a placeholder twice',
  );
});

Deno.test("shardingExpr() hashes the table's columns, leaving {site} out where rows carry none", () => {
  const key = "cityHash64({site}, {tag})";
  assert.equal(
    shardingExpr(key, { tag: "TagName", site: "Site" }, q),
    "cityHash64(`Site`, `TagName`)",
  );
  // Renaming a single-site pipeline's site must not move its tags: no literal in the key.
  assert.equal(shardingExpr(key, { tag: "TagName" }, q), "cityHash64(`TagName`)");
  assert.equal(
    shardingExpr("xxHash64({tag}, {site})", { tag: "t", site: "s" }, q),
    "xxHash64(`t`, `s`)",
  );
});

Deno.test("replica paths hold {shard}, {database} and {table}, never {uuid}; names hold {replica}", () => {
  assert.equal(replicaPathProblem("/clickhouse/tables/{shard}/{database}/{table}"), undefined);
  assert.match(
    replicaPathProblem("/clickhouse/tables/{uuid}/{shard}")!,
    /holds \{uuid\}: a node added later/,
  );
  assert.match(replicaPathProblem("/clickhouse/tables/{database}/{table}")!, /has no \{shard\}/);
  assert.match(replicaPathProblem("/clickhouse/{shard}/{table}")!, /has no \{database\}/);
  assert.match(replicaPathProblem("clickhouse/{shard}/{database}/{table}")!, /start it with \//);
  assert.equal(replicaNameProblem("{replica}"), undefined);
  assert.match(replicaNameProblem("node-1")!, /has no \{replica\}/);
});

Deno.test("without a cluster the DDL is the single server's: no _local tables, no Distributed", () => {
  const ddl = ddlOf("", TABLES);
  assert.ok(ddl.every((d) => !d.name.endsWith("_local") && d.kind !== "distributed"));
  assert.ok(ddl.every((d) => !/ON CLUSTER|Replicated|Distributed/.test(d.sql)));
});

Deno.test("on a cluster, tables of tags are Replicated _local tables behind Distributed ones", () => {
  const ddl = byName(ddlOf("cluster: plant", TABLES));
  const local = ddl.get("History_local")!;
  assert.equal(local.kind, "table");
  assert.match(
    local.sql,
    /^CREATE TABLE IF NOT EXISTS `historian`\.`History_local` ON CLUSTER `plant` \(.*\) ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/\{table\}', '\{replica\}', IngestedAt\) /,
  );
  assert.match(
    local.sql,
    /SETTINGS replicated_deduplication_window = 10000, replicated_deduplication_window_seconds = 604800$/,
  );
  const front = ddl.get("History")!;
  assert.equal(front.kind, "distributed");
  assert.equal(
    front.sql,
    "CREATE TABLE IF NOT EXISTS `historian`.`History` ON CLUSTER `plant` AS `historian`.`History_local` ENGINE = Distributed('plant', 'historian', 'History_local', cityHash64(`TagName`))",
  );
  // Aggregations are placed by the same key as the rows they are computed from.
  assert.match(
    ddl.get("PerMinute")!.sql,
    /Distributed\('plant', 'historian', 'PerMinute_local', cityHash64\(`TagName`\)\)$/,
  );
  assert.match(ddl.get("PerMinute_local")!.sql, /ReplicatedReplacingMergeTree\(.*_computed_at`\)/);
});

Deno.test("on a cluster, a view fills its table per shard from the shard's own rows", () => {
  const ddl = byName(ddlOf("cluster: plant", TABLES));
  assert.match(
    ddl.get("Copy__mv")!.sql,
    /ON CLUSTER `plant` TO `historian`\.`Copy_local` AS .* FROM `historian`\.`History_local` AS r\)$/,
  );
  // Nothing is inserted into it but by its view: its Distributed table has no key.
  assert.equal(
    ddl.get("Copy")!.engine,
    "Distributed('plant', 'historian', 'Copy_local')",
  );
});

Deno.test("on a cluster, the asset dimension and pipeline state are full copies on every node", () => {
  const ddl = byName(ddlOf("cluster: plant", TABLES));
  for (const name of ["Machines", "_pipeline_watermarks", "_pipeline_units", "_pipeline_runs"]) {
    const d = ddl.get(name)!;
    assert.equal(d.kind, "table", name);
    assert.ok(!ddl.has(`${name}_local`), name);
    assert.match(
      d.sql,
      /Replicated\w*MergeTree\('\/clickhouse\/tables\/all\/\{database\}\/\{table\}', '\{shard\}-\{replica\}'/,
      name,
    );
  }
});

Deno.test("placementOf() shards by site and tag where the rows carry a site", () => {
  const model = storageModelOf(
    parseSpec(
      `version: 1
source: { wonderware: { host: h } }
sink: { clickhouse: { url: "http://ch:8123" } }
backfill: { from: 2024-01-01T00:00:00Z }
tables:
  R:
    from: readings
    columns:
      s: { type: LowCardinality(String), value: site }
      t: { type: String, value: tag }
      at: { type: "DateTime64(7, 'UTC')", value: time }
    order_by: [s, t, at]
  NoTag:
    from: readings
    columns:
      at: { type: "DateTime64(7, 'UTC')", value: time }
    order_by: [at]
aggregations:
  A:
    from: R
    tag_column: t
    time_column: at
    bucket: 1h
    bucket_column: hour
    columns: { n: { type: UInt64, expr: count() } }
`,
      "test.yaml",
      { plugins, sections },
    ).spec,
  );
  assert.deepEqual(placementOf(model, "R"), { kind: "sharded", tag: "t", site: "s" });
  assert.deepEqual(placementOf(model, "A"), { kind: "sharded", tag: "t", site: "s" });
  assert.deepEqual(placementOf(model, "NoTag"), { kind: "copy" });
});

Deno.test("tiering moves rows to cheaper volumes before the TTL deletes them", () => {
  const ddl = byName(ddlOf(
    `tiering:
  policy: hot_cold
  tables:
    History: [{ after: 7d, volume: warm }, { after: 30d, volume: cold }]
    PerMinute: [{ after: 36h, volume: cold }]`,
    TABLES,
  ));
  assert.match(
    ddl.get("History")!.sql,
    / TTL `DateTime` \+ INTERVAL 7 DAY TO VOLUME 'warm', `DateTime` \+ INTERVAL 30 DAY TO VOLUME 'cold', `DateTime` \+ INTERVAL 90 DAY SETTINGS storage_policy = 'hot_cold', /,
  );
  assert.match(
    ddl.get("PerMinute")!.sql,
    / TTL `minute` \+ INTERVAL 129600 SECOND TO VOLUME 'cold' SETTINGS storage_policy = 'hot_cold', /,
  );
  assert.doesNotMatch(ddl.get("Copy")!.sql, /storage_policy|TO VOLUME/);
});

Deno.test("the writer's cluster settings: foreground inserts, one replica per shard, per-shard recompute", () => {
  assert.deepEqual(clusterSettings(60_000), {
    distributed_foreground_insert: 1,
    prefer_localhost_replica: 0,
    load_balancing: "in_order",
    parallel_distributed_insert_select: "2",
    optimize_skip_unused_shards: 1,
    distributed_ddl_task_timeout: "48",
  });
});

Deno.test("options: a cluster by name takes the defaults; the embedded store cannot be one", () => {
  const parsed = options.parse({ url: "http://ch:8123", cluster: "plant" });
  assert.deepEqual(targetOf(parsed), {
    database: "default",
    cluster: "plant",
    layout: {
      shardingKey: "cityHash64({site}, {tag})",
      replicaPath: "/clickhouse/tables/{shard}/{database}/{table}",
      replicaName: "{replica}",
      deduplicationWindow: 10_000,
      deduplicationWindowMs: 7 * 86_400_000,
    },
  });
  assert.equal(options.parse({ url: "http://ch:8123", cluster: "" }).cluster, undefined);
  const embedded = options.safeParse({ cluster: "plant", embedded: { enabled: true } });
  assert.deepEqual(embedded.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`), [
    "cluster: needs a ClickHouse cluster, and the embedded store is one process without Keeper: set url or host to a node of the cluster",
  ]);
});
