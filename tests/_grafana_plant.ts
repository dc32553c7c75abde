/**
 * A plant for the dashboard tests: the embedded store with the shipped spec's model (its
 * summaries included), readings written through the ClickHouse sink for plain, hostile and decoy
 * tag names (decoys are never chosen: a filter that lets one through is wrong) of analog, and of
 * discrete and string tags (STATES), and a way to send SQL the way Grafana's ClickHouse data
 * source does (HTTP, the default database, as the store's read-only reader).
 */
import { resolveAssets, summaryMetadata } from "../engine/assets.ts";
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import type { Sink } from "../engine/plugin.ts";
import { storageModelOf } from "../engine/spec/schema.ts";
import type { Reading, TagInfo } from "../engine/types.ts";
import { load } from "../cli/_load.ts";
import clickhouse from "../plugins/sink-clickhouse/mod.ts";
import { startTestStore, testDatabase } from "./_clickhouse.ts";
import type { TestStore } from "./_clickhouse.ts";
import { guarded } from "./_plugins.ts";
import type { TimeRange } from "./_grafana_render.ts";

/** Tag names a user may choose: plain ones, and ones that break naive quoting. */
export const PLAIN = ["A.Flow", "B.Temp"];
export const HOSTILE = [
  "Back\\slash\\",
  "O'Brien",
  "a,b",
  "--",
  "line\nbreak",
  "ünï cødé ✓",
  "$$",
  "(A|B).*",
  "it's -- /* no comment */",
  "\\",
  "${tag}",
];
/** Tag names a wrong filter would let through: never chosen. */
export const DECOYS = ["Back\\slash", "O\\'Brien", "a", "b", "AxFlow", "A|B"];
/** A tag named like one of the data source's macros (see grafana_test.ts). */
export const MACRO_NAMED = "$__fromTime";
/** Discrete (even places) and string (odd places) tags, plain and hostile, for the time in state. */
export const STATES = [
  "Pump.Running",
  "Oven.Recipe",
  "O'Brien|Mode",
  "Back\\slash\\State\\",
  "line\nstate",
  "$$state",
  "it's -- /* state */",
  "(Run|Stop).*",
];
/** State tag names a wrong filter would let through: never chosen. */
export const STATE_DECOYS = ["Pump", "O\\'Brien|Mode", "Back\\slash\\State", "Run", "state"];

const MINUTE_MS = 60_000;
const START_MS = (Math.floor(Date.now() / MINUTE_MS) - 120) * MINUTE_MS;
const POINTS = 80; // one every 30 s: 40 minutes per tag
/** Seconds, not on a minute or a reading: some readings of every tag fall outside on both sides. */
export const RANGE: TimeRange = {
  from: START_MS / 1000 + 7 * 60 + 15,
  to: START_MS / 1000 + 31 * 60 + 45,
};

const ANALOG = [...PLAIN, ...HOSTILE, ...DECOYS, MACRO_NAMED];
const TEXTS = ["Idle", "Run", "Clean"];

/**
 * Every reading written: analog values unique per tag; states that change (and repeat) in a
 * pattern of their own per tag; one gap (null) per tag.
 */
export const READINGS: Reading[] = [
  ...ANALOG.flatMap((tag, t) =>
    Array.from({ length: POINTS }, (_, i) => ({
      tag,
      time: BigInt(START_MS + i * 30_000) * 10_000n,
      value: i === 25 ? null : t * 1000 + i,
      text: null,
      quality: i === 25 ? "bad" as const : "good" as const,
      qualityCode: i === 25 ? 1 : 0,
      fields: { QualityDetail: 192, OPCQuality: 192 },
    }))
  ),
  ...[...STATES, ...STATE_DECOYS].flatMap((tag, t) =>
    Array.from({ length: POINTS }, (_, i) => {
      const gap = i === 40;
      const state = Math.floor(i / (2 + t % 3)) % (t % 2 === 0 ? 2 : 3);
      return {
        tag,
        time: BigInt(START_MS + i * 30_000) * 10_000n,
        value: gap || t % 2 === 1 ? null : state,
        text: gap || t % 2 === 0 ? null : TEXTS[state]!,
        quality: gap ? "bad" as const : "good" as const,
        qualityCode: gap ? 1 : 0,
        fields: { QualityDetail: 192, OPCQuality: 192 },
      };
    })
  ),
];

/** How discovery lists the plant's tags (the summaries read states of discrete and string tags). */
export const TAG_INFOS: TagInfo[] = [
  ...ANALOG.map((name) => ({ name, type: "analog" as const })),
  ...[...STATES, ...STATE_DECOYS].map((name, t) => ({
    name,
    type: t % 2 === 0 ? "discrete" as const : "string" as const,
  })),
];

/** Everything up to here is stored: the end of the one unit committed (the summaries' horizon). */
export const HORIZON = READINGS.reduce((a, r) => r.time > a ? r.time : a, 0n);

/** Unix seconds of a reading. */
export const seconds = (r: Reading) => Number(r.time / 10_000_000n);

export interface GrafanaClient {
  /** One statement as Grafana's data source sends it (as the reader when the store has one). */
  send(sql: string, format?: string): Promise<Response>;
  /** The rows of one statement, as objects; a failure throws with the store's answer. */
  rows(sql: string): Promise<Record<string, unknown>[]>;
}

export interface Plant extends GrafanaClient {
  store: TestStore;
  database: string;
  close(): Promise<void>;
}

/** Sends SQL to `store` the way Grafana's ClickHouse data source does (HTTP, its parameters). */
export function grafanaClient(store: TestStore, database = "default"): GrafanaClient {
  const send = (sql: string, format = "Native") => {
    const url = new URL(store.url);
    const login = "reader" in store ? store.reader : undefined;
    url.username = "";
    url.password = "";
    const params = `client_protocol_version=54460&default_format=${format}&database=${database}` +
      "&max_execution_time=60";
    const headers: HeadersInit = login
      ? { Authorization: `Basic ${btoa(`${login.user}:${login.password}`)}` }
      : {};
    return fetch(`${url.origin}/?${params}`, { method: "POST", body: sql, headers });
  };
  return {
    send,
    async rows(sql) {
      const res = await send(sql, "JSONEachRow");
      const text = await res.text();
      if (res.status !== 200) throw new Error(`Cannot run the query: ${res.status} ${text}`);
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
  };
}

/** The store, prepared with the shipped spec and READINGS committed, watermarks saved. */
export async function openPlant(): Promise<Plant> {
  const store = await startTestStore();
  const database = testDatabase();
  let sink: Sink | undefined;
  try {
    sink = await prepareSink(store, database);
    await sink.write({ readings: READINGS });
    const tags = [...new Set(READINGS.map((r) => r.tag))];
    const last = HORIZON;
    const window = { from: READINGS[0]!.time - 1n, to: last };
    await sink.commit({ id: "u1", tags, window, rows: READINGS.length, readings: READINGS.length });
    await sink.state!.saveWatermarks(new Map(tags.map((t) => [t, last])));
  } catch (e) {
    await sink?.close();
    await store.stop();
    throw e;
  }
  return {
    store,
    database,
    ...grafanaClient(store, database),
    async close() {
      await sink!.close();
      await store.stop();
    },
  };
}

async function prepareSink(store: TestStore, database: string): Promise<Sink> {
  const env: Record<string, string> = {
    CLICKHOUSE_URL: store.url,
    CLICKHOUSE_DB: database,
    WONDERWARE_HOST: "unused",
  };
  const loaded = await load("pipelines/wonderware.yaml", (n) => env[n]);
  const ctx = {
    log: createLogger({ level: "error", format: "json" }),
    signal: new AbortController().signal,
    clock: systemClock,
    secrets: new Set<string>(),
    dataDir: "/nonexistent",
  };
  const raw = await clickhouse.create(loaded.plugins.sink.options as never, ctx);
  const sink = guarded(raw, loaded, ctx);
  const { spec } = loaded;
  await sink.prepare(storageModelOf(spec), spec.name);
  const assets = resolveAssets(spec.assets!, TAG_INFOS, spec.name);
  assets.forEach((a, i) => Object.assign(a, summaryMetadata(spec.summaries!, TAG_INFOS[i]!)));
  await sink.setAssets(assets);
  return sink;
}
