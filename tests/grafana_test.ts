/**
 * grafana/: the shipped dashboard's queries, with Grafana's macros expanded as the ClickHouse
 * data source expands them, run over HTTP the way it sends them (Native, its protocol version,
 * the default database) against the embedded store holding the shipped model: each answers,
 * with rows.
 */
import assert from "node:assert/strict";
import { openSink } from "./_plugins.ts";

interface Target {
  rawSql: string;
}
interface Panel {
  title: string;
  targets: Target[];
}

const T0 = BigInt(Math.floor(Date.now() / 60_000 - 30) * 60_000) * 10_000n;

Deno.test({
  name: "the Grafana dashboard's queries answer from the embedded store, as Grafana sends them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dashboard = JSON.parse(await Deno.readTextFile("grafana/dashboards/plant.json")) as {
      panels: Panel[];
      templating: { list: { query: string }[] };
    };
    const datasource = await Deno.readTextFile("grafana/provisioning/datasources/clickhouse.yaml");
    assert.match(datasource, /type: grafana-clickhouse-datasource/);
    assert.match(datasource, /protocol: http/);
    const { sink, url, database, close } = await openSink();
    try {
      const readings = Array.from({ length: 600 }, (_, i) => ({
        tag: "A.Flow",
        time: T0 + BigInt(i) * 30_000_000n,
        value: i === 300 ? null : i % 17,
        text: null,
        quality: i === 300 ? "bad" as const : "good" as const,
        qualityCode: i === 300 ? 1 : 0,
        fields: { QualityDetail: 192, OPCQuality: 192 },
      }));
      await sink.write({ readings });
      const window = { from: T0 - 1n, to: readings.at(-1)!.time };
      await sink.commit({ id: "u1", tags: ["A.Flow"], window, rows: 600, readings: 600 });
      await sink.state!.saveWatermarks(new Map([["A.Flow", window.to]]));
      const from = Math.floor(Number(T0 / 10_000_000n)) - 60;
      const to = Math.floor(Date.now() / 1000) + 60;
      const expand = (sql: string) =>
        sql.replaceAll("${tag:singlequote}", "'A.Flow'")
          .replace(
            /\$__timeFilter\((\w+)\)/g,
            `$1 >= toDateTime(${from}) AND $1 <= toDateTime(${to})`,
          )
          .replaceAll("$__fromTime", `toDateTime(${from})`)
          .replaceAll("$__toTime", `toDateTime(${to})`);
      const queries = [
        ...dashboard.templating.list.map((v) => ({ title: "variable", sql: v.query })),
        ...dashboard.panels.flatMap((p) =>
          p.targets.map((t) => ({ title: p.title, sql: t.rawSql }))
        ),
      ];
      assert.ok(queries.length >= 5);
      for (const q of queries) {
        const sql = expand(q.sql);
        const grafana = await fetch(
          `${url}/?client_protocol_version=54460&default_format=Native&database=${database}`,
          { method: "POST", body: sql },
        );
        assert.equal(grafana.status, 200, `${q.title}: ${await grafana.clone().text()}`);
        await grafana.body?.cancel();
        const rows = await fetch(`${url}/?default_format=JSONEachRow&database=${database}`, {
          method: "POST",
          body: sql,
        });
        const lines = (await rows.text()).trim().split("\n").filter(Boolean);
        assert.ok(lines.length > 0, `${q.title}: rows`);
      }
      // The raw panel keeps the gap marker, so Grafana breaks the line there (spanNulls off).
      const raw = dashboard.panels[0]!;
      const rows = await fetch(`${url}/?default_format=JSONEachRow&database=${database}`, {
        method: "POST",
        body: expand(raw.targets[0]!.rawSql),
      });
      const values = (await rows.text()).trim().split("\n").map((l) => JSON.parse(l).value);
      assert.equal(values.filter((v) => v === null).length, 1);
    } finally {
      await close();
    }
  },
});
