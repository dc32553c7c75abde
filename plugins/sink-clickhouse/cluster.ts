/**
 * Cluster mode: how the sink's tables are laid out on a ClickHouse cluster, and the settings its
 * statements need there. Nothing here has run on a real cluster (none can run where this project
 * is built); every statement is parsed by ClickHouse and pinned by golden files
 * (tests/cluster_ddl_test.ts).
 *
 * - A table that holds rows of tags is a `Replicated*` table `<name>_local` on every node, with a
 *   `Distributed` table `<name>` in front: readers, the API and the sink's own reads and inserts
 *   use the plain name, exactly as on a single server. The suffix (ClickHouse's documentation and
 *   most operators call the shard-local table `_local`) keeps both in one database: one grant,
 *   one backup, and `SHOW TABLES` lists each pair together.
 * - Rows are sharded by one key for every table, a hash of (site, tag): all rows of a tag, raw
 *   and aggregated, live on one shard. ReplacingMergeTree deduplicates only within a shard, so
 *   FINAL and the per-bucket recompute are right only because of this; `validate` refuses a key
 *   not derived from the tag, and the key is one template for the whole pipeline so no table can
 *   be placed differently from another.
 * - Small tables read whole (the asset dimension, pipeline state) and tables without a tag are
 *   full copies: replicated to every node under their own name, no Distributed table, so joins
 *   with them stay local on every shard and a read never counts a row twice.
 */
import type { ClickHouseSettings } from "@clickhouse/client";

/** How tables are placed on the cluster. */
export interface ClusterLayout {
  /** The cluster's name in the servers' `remote_servers`. */
  name: string;
  /** The sharding key, a hash over `{site}` and `{tag}` (shardingKeyProblem() says what passes). */
  shardingKey: string;
  /** Keeper path of a sharded table; holds `{shard}`, `{database}` and `{table}` (replicaPathProblem). */
  replicaPath: string;
  /** Replica name within a shard; holds `{replica}`. */
  replicaName: string;
  /** `replicated_deduplication_window`: inserted blocks whose hashes Keeper keeps. */
  deduplicationWindow: number;
  /** `replicated_deduplication_window_seconds`, in milliseconds here. */
  deduplicationWindowMs: number;
}

/** Defaults, chosen for the sink's retry horizon (see docs/cluster.md). */
export const CLUSTER_DEFAULTS = {
  shardingKey: "cityHash64({site}, {tag})",
  replicaPath: "/clickhouse/tables/{shard}/{database}/{table}",
  replicaName: "{replica}",
  deduplicationWindow: 10_000,
  deduplicationWindowMs: 7 * 86_400_000,
} as const;

/** The name of a sharded table's shard-local part. */
export const LOCAL_SUFFIX = "_local";
export const localName = (name: string) => `${name}${LOCAL_SUFFIX}`;

/** How one table is placed: sharded by its tag, filled per shard by a view, or copied whole. */
export type Placement =
  | { kind: "sharded"; tag: string; site?: string }
  | { kind: "filled" }
  | { kind: "copy" };

/**
 * Hash functions a sharding key may use: deterministic, 64-bit, over any number of arguments, so
 * a tag maps to the same shard on every node and in every version.
 */
export const SHARDING_HASHES = [
  "cityHash64",
  "sipHash64",
  "xxHash64",
  "xxh3",
  "murmurHash3_64",
  "farmHash64",
] as const;

const CALL = /^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$/s;

/**
 * Why a sharding key template would not keep every row of a tag on one shard, or would put a
 * whole site on one: the key must be a hash over `{tag}`, optionally `{site}`, nothing else.
 */
export function shardingKeyProblem(template: string): string | undefined {
  const shown = JSON.stringify(template);
  const example = `"${CLUSTER_DEFAULTS.shardingKey}"`;
  const call = CALL.exec(template);
  if (!call) {
    return `${shown} is not a hash of the tag: write a hash function over {site} and {tag}, e.g. ${example}`;
  }
  const [, fn, inner] = call;
  if (!(SHARDING_HASHES as readonly string[]).includes(fn!)) {
    return `${shown}: ${fn} is not one of the hash functions a sharding key may use (${
      SHARDING_HASHES.join(", ")
    }): a tag must land on the same shard on every node, e.g. ${example}`;
  }
  const args = inner!.split(",").map((a) => a.trim());
  const other = args.find((a) => a !== "{site}" && a !== "{tag}");
  if (other !== undefined) {
    return `${shown}: "${other}" is not {site} or {tag}: a key over anything else would split a tag's rows across shards, where ReplacingMergeTree cannot deduplicate them and FINAL and the per-bucket recompute see only part of them`;
  }
  if (!args.includes("{tag}")) {
    return `${shown} does not hash {tag}: every tag of a site would land on one shard; write ${example}`;
  }
  if (new Set(args).size !== args.length) return `${shown} names a placeholder twice`;
  return undefined;
}

/**
 * The sharding key of a table from the template: `{tag}` and `{site}` become its columns. Where
 * the rows carry no site column (one site per table), `{site}` is left out rather than replaced by
 * the site's name, so renaming the site never moves a tag to another shard.
 */
export function shardingExpr(
  template: string,
  columns: { tag: string; site?: string },
  quote: (name: string) => string,
): string {
  const [, fn, inner] = CALL.exec(template)!;
  const args = inner!.split(",").map((a) => a.trim()).flatMap((a) =>
    a === "{tag}" ? [quote(columns.tag)] : columns.site ? [quote(columns.site)] : []
  );
  return `${fn}(${args.join(", ")})`;
}

/**
 * Why a Keeper path would make replicas collide or miss each other, or undefined. Not `{uuid}`:
 * the sink creates its tables `IF NOT EXISTS ON CLUSTER` at every start, and a node added or
 * rebuilt later would get that run's new UUID, a path of its own, and never join its shard's
 * replicas. With `{database}` and `{table}` it joins them and fetches their data.
 */
export function replicaPathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return `"${path}" is not a Keeper path: start it with /`;
  if (path.includes("'") || path.includes("\\")) return `"${path}" holds a quote or a backslash`;
  if (path.includes("{uuid}")) {
    return `"${path}" holds {uuid}: a node added later would get a new one and not join its shard's replicas; use {database}/{table}`;
  }
  for (const macro of ["{shard}", "{database}", "{table}"]) {
    if (!path.includes(macro)) {
      return `"${path}" has no ${macro}: ${
        macro === "{shard}" ? "the replicas of each shard" : "every table of every database"
      } need a path of their own`;
    }
  }
  return undefined;
}

export function replicaNameProblem(name: string): string | undefined {
  if (!name.includes("{replica}")) {
    return `"${name}" has no {replica}: the replicas of a shard need names of their own`;
  }
  if (name.includes("'") || name.includes("\\")) return `"${name}" holds a quote or a backslash`;
  return undefined;
}

/**
 * Keeper path and replica name of a table's replicated engine. A full copy has one path for the
 * whole cluster (`{shard}` in the path becomes `all`), so its replica names carry the shard too.
 */
export function replicaArgs(layout: ClusterLayout, placement: Placement): [string, string] {
  if (placement.kind !== "copy") return [layout.replicaPath, layout.replicaName];
  return [layout.replicaPath.replace("{shard}", "all"), `{shard}-${layout.replicaName}`];
}

/**
 * Table settings of every replicated table: the deduplication window, set here rather than left
 * to the server (100 blocks in older configurations, 10,000 in current ones), because the sink's
 * exactly-once rests on it: a retried insert is dropped only while its block's hash is kept.
 */
export function replicatedSettings(layout: ClusterLayout): Record<string, number> {
  return {
    replicated_deduplication_window: layout.deduplicationWindow,
    replicated_deduplication_window_seconds: Math.round(layout.deduplicationWindowMs / 1000),
  };
}

/**
 * Settings of every statement the sink's writer sends to a cluster:
 * - `distributed_foreground_insert`: an insert into a Distributed table returns once every shard
 *   has stored its rows in the Replicated table, carrying the insert's settings, so its
 *   `insert_deduplication_token` reaches the table that deduplicates; a retried insert sends the
 *   same rows (the key is deterministic) with the same token to the same shards and is dropped
 *   there. In background mode the rows would wait in the receiving node's queue: acknowledged
 *   before they are stored, invisible to the commit's recompute, lost with that node's disk.
 * - `prefer_localhost_replica = 0`, `load_balancing = 'in_order'`: every node the sink reaches
 *   sends a shard's inserts and reads to the same replica (the first one up in the cluster's
 *   order), so the recompute right after an insert reads the rows it just wrote.
 * - `parallel_distributed_insert_select = 2`: the recompute (`INSERT INTO agg SELECT … FROM raw
 *   FINAL`) runs on each shard from and into the local tables; right because a tag's raw and
 *   aggregated rows share a shard. Pinned, since its default differs between versions.
 * - `optimize_skip_unused_shards`: reads of a list of tags ask only the shards that hold them.
 * - `distributed_ddl_task_timeout`: an ON CLUSTER statement gives up (and is retried; every
 *   statement is IF NOT EXISTS) before the HTTP request would.
 */
export function clusterSettings(requestTimeoutMs: number): ClickHouseSettings {
  return {
    distributed_foreground_insert: 1,
    prefer_localhost_replica: 0,
    load_balancing: "in_order",
    parallel_distributed_insert_select: "2",
    optimize_skip_unused_shards: 1,
    distributed_ddl_task_timeout: String(Math.max(1, Math.floor(requestTimeoutMs * 0.8 / 1000))),
  };
}
