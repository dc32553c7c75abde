/**
 * grafana/: the provisioned data source and the plant dashboard, tested the way Grafana uses them
 * (Grafana cannot run here). Provisioning values are expanded by Grafana's rules
 * (_grafana_env.ts); each panel's SQL is rendered as Grafana and the ClickHouse data source
 * render it (_grafana_render.ts) for one, several and hostile tag names, then run against the
 * embedded store as its read-only reader (_grafana_plant.ts): a panel returns exactly the chosen
 * tags' rows in the time range, and no others.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { startTestStore } from "./_clickhouse.ts";
import { expandProvisioning, goExpand, provisioningValue } from "./_grafana_env.ts";
import { formats, interpolate, render } from "./_grafana_render.ts";
import type { VariableValue } from "./_grafana_render.ts";
import {
  grafanaClient,
  HORIZON,
  HOSTILE,
  MACRO_NAMED,
  openPlant,
  PLAIN,
  RANGE,
  READINGS,
  seconds,
  STATES,
} from "./_grafana_plant.ts";
import { analogRows, stateRows } from "./_summary_reference.ts";
import type { RefTag } from "./_summary_reference.ts";

interface Panel {
  title: string;
  repeat?: string;
  targets: { rawSql: string }[];
}
const dashboard = JSON.parse(Deno.readTextFileSync("grafana/dashboards/plant.json")) as {
  panels: Panel[];
  templating: { list: { name: string; query: string }[] };
};
const panel = (title: string) => dashboard.panels.find((p) => p.title.startsWith(title))!;
const RAW = panel("Tag values").targets[0]!.rawSql;
const BAND = panel("1-minute time-weighted average");
const IN_STATE = panel("Time in state");
const DATASOURCE = "grafana/provisioning/datasources/clickhouse.yaml";
const PROVISIONING = [DATASOURCE, "grafana/provisioning/dashboards/historian-sync.yaml"];

interface DataSource {
  jsonData: Record<string, unknown>;
  secureJsonData: Record<string, string>;
}
async function provisioned(env: Record<string, string>): Promise<DataSource> {
  const text = await Deno.readTextFile(DATASOURCE);
  return expandProvisioning(parse(text), env).datasources[0] as DataSource;
}

/** Unix seconds of a DateTime or DateTime64 in the store's JSON output ("2026-01-02 03:04:05…"). */
const unix = (t: unknown) => Date.parse(`${String(t).slice(0, 19).replace(" ", "T")}Z`) / 1000;
const inRange = (s: number) => s >= RANGE.from && s <= RANGE.to;
const chosen = (v: VariableValue) => new Set(typeof v === "string" ? [v] : v);

Deno.test("the data source's provisioning expands by Grafana's rules to exactly the values given", async () => {
  const env = {
    CLICKHOUSE_HOST: "ch.plant.example",
    CLICKHOUSE_PORT: "8123",
    CLICKHOUSE_READER_USER: "grafana_ro",
    CLICKHOUSE_READER_PASSWORD: `pa$word\${X}$$'"\\ $__file{/etc/passwd}`,
    CLICKHOUSE_DB: "plant",
    X: "leaked",
  };
  const ds = await provisioned(env);
  assert.deepEqual(ds.jsonData, {
    protocol: "http",
    host: "ch.plant.example",
    port: "8123", // a string, which the data source parses
    secure: false,
    username: "grafana_ro",
    defaultDatabase: "plant",
  });
  assert.deepEqual(ds.secureJsonData, { password: env.CLICKHOUSE_READER_PASSWORD });
});

Deno.test("Grafana's expansion has no defaults and expands ${NAME} twice: the files use neither", async () => {
  const env = { CLICKHOUSE_HOST: "ch.plant.example", P: "a$X", X: "leaked" };
  // Why the shipped file changed: a default is read as part of the variable's name.
  assert.equal(goExpand("${CLICKHOUSE_HOST:-127.0.0.1}", (n) => env[n as "P"] ?? ""), "");
  assert.equal(provisioningValue("${CLICKHOUSE_HOST:-127.0.0.1}", env), "");
  assert.equal(provisioningValue("${P}", env), "aleaked");
  assert.equal(provisioningValue("$P", env), "a$X");
  for (const file of PROVISIONING) {
    const text = await Deno.readTextFile(file);
    const values = text.split("\n").filter((l) => !l.trimStart().startsWith("#"));
    assert.deepEqual(values.filter((l) => l.includes("${")), [], file);
  }
  const text = await Deno.readTextFile(DATASOURCE);
  const used = new Set([...text.matchAll(/: \$([A-Z_]+)$/gm)].map((m) => m[1]));
  const required = [
    "CLICKHOUSE_HOST",
    "CLICKHOUSE_PORT",
    "CLICKHOUSE_READER_USER",
    "CLICKHOUSE_READER_PASSWORD",
  ];
  assert.deepEqual(used, new Set([...required, "CLICKHOUSE_DB"]));
  const header = text.slice(text.indexOf("REQUIRED"), text.indexOf("Optional"));
  for (const name of required) assert.match(header, new RegExp(`#\\s+${name}\\s`), name);
});

Deno.test("the provisioned data source logs in to the embedded store as its read-only reader", async () => {
  const store = await startTestStore();
  try {
    // What docs/security.md tells an operator to do: the reader's line of credentials.env.
    const file = await Deno.readTextFile(store.credentialsFile);
    const address = new URL(store.url);
    const ds = await provisioned({
      CLICKHOUSE_HOST: address.hostname,
      CLICKHOUSE_PORT: address.port,
      CLICKHOUSE_READER_USER: "reader",
      CLICKHOUSE_READER_PASSWORD: /^CLICKHOUSE_EMBEDDED_READER_PASSWORD=(.+)$/m.exec(file)![1]!,
    });
    const { host, port, username } = ds.jsonData;
    assert.notEqual(username, store.writer.user);
    const login = `Basic ${btoa(`${username}:${ds.secureJsonData.password}`)}`;
    const run = async (sql: string) => {
      const res = await fetch(`http://${host}:${port}/?default_format=TabSeparated`, {
        method: "POST",
        body: sql,
        headers: { Authorization: login },
      });
      return { status: res.status, text: await res.text() };
    };
    const made = await store.sql("CREATE TABLE probe (x UInt8) ENGINE = MergeTree ORDER BY x");
    assert.equal(made.status, 200, await made.text());
    for (
      const sql of [
        "INSERT INTO probe VALUES (1)",
        "ALTER TABLE probe DELETE WHERE 1",
        "DROP TABLE probe",
        "CREATE TABLE probe2 (x UInt8) ENGINE = Memory",
      ]
    ) {
      const { status, text } = await run(sql);
      assert.notEqual(status, 200, sql);
      assert.doesNotMatch(text, /Authentication failed/, sql);
    }
    assert.deepEqual(await run("SELECT count() FROM probe"), { status: 200, text: "0\n" });
  } finally {
    await store.stop();
  }
});

Deno.test("Grafana's formats and the data source's macros render as Grafana's code does", () => {
  const values = ["a'b\\", "c|d"];
  assert.equal(formats.singlequote!(values, "tag"), "'a\\'b\\','c|d'");
  assert.equal(formats.sqlstring!(values, "tag"), "'a''b\\','c|d'");
  assert.equal(formats.regex!(values, "tag"), "(a'b\\\\|c\\|d)");
  assert.equal(formats.regex!(["x.y"], "tag"), "x\\.y");
  assert.equal(formats.queryparam!(values, "tag"), "var-tag=a%27b%5C&var-tag=c%7Cd");
  assert.equal(
    interpolate("$tag ${tag} [[tag]] ${tag:csv} $other", { tag: ["x", "y"] }),
    "'x','y' 'x','y' 'x','y' x,y $other",
  );
  const range = { from: 1415792726, to: 1447328726 };
  assert.equal(
    render("SELECT 1 -- $__fromTime\nWHERE $__timeFilter(ts) AND x = '$__toTime'", {}, range),
    `SELECT 1 ${" ".repeat(14)}\nWHERE ts >= toDateTime(1415792726) AND ts <= ` +
      "toDateTime(1447328726) AND x = 'toDateTime(1447328726)'",
  );
});

Deno.test("the raw panel returns exactly the chosen tags' readings in the time range", async () => {
  const plant = await openPlant();
  try {
    const selections: VariableValue[] = [
      ["A.Flow"],
      "A.Flow", // a single value as a string, as a repeated panel or a URL gives it
      PLAIN,
      ...HOSTILE.map((t) => [t]),
      HOSTILE,
      [...PLAIN, ...HOSTILE],
      [],
    ];
    for (const selection of selections) {
      const rows = await plant.rows(render(RAW, { tag: selection }, RANGE));
      const got = rows.map((r) => JSON.stringify([r.tag, unix(r.time), r.value])).sort();
      const tags = chosen(selection);
      const want = READINGS.filter((r) => tags.has(r.tag) && inRange(seconds(r)))
        .map((r) => JSON.stringify([r.tag, seconds(r), r.value])).sort();
      assert.ok(want.length > 0 || tags.size === 0);
      assert.deepEqual(got, want, JSON.stringify(selection));
    }
  } finally {
    await plant.close();
  }
});

Deno.test("the 1-minute band repeats per tag and returns exactly that tag's time-weighted minutes in the range", async () => {
  // A band belongs to one series: Grafana repeats the panel, each copy with one tag.
  assert.equal(BAND.repeat, "tag");
  const plant = await openPlant();
  try {
    for (const tag of [...PLAIN, ...HOSTILE]) {
      const rows = await plant.rows(render(BAND.targets[0]!.rawSql, { tag }, RANGE));
      const want = minutesOf(tag);
      assert.deepEqual(
        rows.map((r) => [unix(r.time), r.min, r.max]),
        want.map(([m, , min, max]) => [m, min, max]),
        JSON.stringify(tag),
      );
      for (const [i, r] of rows.entries()) close(r.avg, want[i]![1], `${tag} ${unix(r.time)}`);
    }
  } finally {
    await plant.close();
  }
});

const MINUTE = 600_000_000n;

/** A tag of the plant as the summaries' reference reads it (linear: no interpolation given). */
function refTag(tag: string, kind: RefTag["kind"]): RefTag {
  const points = READINGS.filter((r) => r.tag === tag)
    .map((r) => ({ t: r.time, value: r.value, text: r.text, opc: 192 }));
  return { name: tag, kind, linear: true, divisor: 1, points, horizon: HORIZON };
}

function close(got: unknown, want: number | null, what: string) {
  if (got === null || want === null) return assert.equal(got, want, what);
  assert.ok(Math.abs(Number(got) - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got}`);
}

/**
 * [minute, time-weighted average, min, max] of one tag by the summaries' plain reference
 * (tests/_summary_reference.ts), for the minutes the band panel shows.
 */
function minutesOf(tag: string): [number, number | null, number | null, number | null][] {
  return analogRows(refTag(tag, "analog"), MINUTE, "extended")
    .map((r) => [Number(r.start / 10_000_000n), r.average, r.minimum, r.maximum] as const)
    .filter(([m]) => m >= Math.floor(RANGE.from / 60) * 60 && m <= RANGE.to)
    .map(([m, avg, min, max]) => [m, avg, min, max]);
}

/**
 * [tag, state, seconds, percent of the range] by the reference: the 1-minute cycles that start
 * inside the range, added up per tag and state.
 */
function timeInState(tags: Set<string>): string[] {
  const lo = Math.ceil(RANGE.from / 60) * 60;
  const hi = Math.ceil(RANGE.to / 60) * 60;
  const out: string[] = [];
  for (const tag of STATES.filter((t) => tags.has(t))) {
    const total = new Map<string, number>();
    for (const r of stateRows(refTag(tag, "state"), MINUTE, "extended")) {
      const start = Number(r.start / 10_000_000n);
      if (start < lo || start >= hi) continue;
      total.set(r.vValue, (total.get(r.vValue) ?? 0) + r.timeTotal);
    }
    for (const [state, ms] of total) {
      out.push(JSON.stringify([tag, state, ms / 1000, round(ms / (hi - lo) / 10)]));
    }
  }
  return out.sort();
}

const round = (x: number) => Math.round(x * 1e9) / 1e9;

Deno.test("the time-in-state panel returns exactly the chosen state tags' time per state in the range", async () => {
  const plant = await openPlant();
  try {
    const selections: VariableValue[] = [
      [STATES[0]!],
      STATES[1]!, // a single value as a string
      STATES,
      ...STATES.slice(2).map((t) => [t]),
      [...PLAIN, ...HOSTILE, ...STATES], // analog tags have no states
      [],
    ];
    for (const selection of selections) {
      const rows = await plant.rows(render(IN_STATE.targets[0]!.rawSql, { tag: selection }, RANGE));
      const got = rows.map((r) =>
        JSON.stringify([r.tag, r.state, r.time_in_state, round(Number(r.percent_of_range))])
      ).sort();
      const want = timeInState(chosen(selection));
      assert.ok(want.length > 0 || chosen(selection).size === 0);
      assert.deepEqual(got, want, JSON.stringify(selection));
    }
  } finally {
    await plant.close();
  }
});

Deno.test("every query of the dashboard answers as Grafana sends it, as the reader", async () => {
  const plant = await openPlant();
  try {
    const tags = [...PLAIN, ...HOSTILE, ...STATES];
    for (const p of dashboard.panels) {
      for (const t of p.targets) {
        const res = await plant.send(render(t.rawSql, { tag: tags }, RANGE));
        assert.equal(res.status, 200, `${p.title}: ${await res.clone().text()}`);
        await res.body?.cancel();
      }
    }
    const variable = dashboard.templating.list.find((v) => v.name === "tag")!;
    const names = (await plant.rows(variable.query)).map((r) => r.TagName);
    assert.deepEqual(names, [...new Set(READINGS.map((r) => r.tag))].sort());
    const fresh = await plant.rows(panel("Freshness").targets[0]!.rawSql);
    assert.equal(fresh.length, names.length);
    const backfill = await plant.rows(panel("Backfill").targets[0]!.rawSql);
    const done = backfill.map((r) => [Number(r.units_done), Number(r.rows_stored)]);
    assert.deepEqual(done, [[1, READINGS.length]]);
  } finally {
    await plant.close();
  }
});

Deno.test("a tag named like a data-source macro is rewritten by the data source: its panel is empty", async () => {
  // The data source's backend replaces `$__fromTime` wherever it stands, string literals
  // included, after Grafana's formats have run: no format but percent-encoding hides it.
  const sql = render(RAW, { tag: [MACRO_NAMED] }, RANGE);
  assert.match(sql, /\$\$\(\\toDateTime\(\d+\)\)\$\$/);
  const plant = await openPlant();
  try {
    assert.deepEqual(await plant.rows(sql), []);
  } finally {
    await plant.close();
  }
});

/** Each format used the way it would have to be to give ClickHouse the chosen names. */
const USES: Record<string, string> = {
  singlequote: "SELECT [${tag:singlequote}]",
  sqlstring: "SELECT [${tag:sqlstring}]",
  csv: "SELECT splitByChar(',', '${tag:csv}')",
  json: "SELECT JSONExtract('${tag:json}', 'Array(String)')",
  percentencode:
    "SELECT splitByChar(',', trimBoth(decodeURLComponent('${tag:percentencode}'), '{}'))",
  queryparam: "SELECT arrayMap(p -> decodeURLComponent(substring(p, 9)), " +
    "splitByChar('&', '${tag:queryparam}'))",
  // The dashboard's own: the regex format inside a heredoc, unescaped.
  regex: `SELECT ${/WITH ([\s\S]*?) AS selected_tags/.exec(RAW)![1]}`,
};
const PROBES = ["O'Brien", "Back\\slash\\", "a,b", "line\nbreak", "--"];

/** What each use gives back for [probe, "B.Temp"]: ok, the wrong names, or a syntax error. */
const OUTCOMES: Record<string, string[]> = {
  singlequote: ["ok", "error", "ok", "ok", "ok"],
  sqlstring: ["ok", "error", "ok", "ok", "ok"],
  csv: ["error", "ok", "wrong", "ok", "ok"],
  json: ["error", "wrong", "ok", "wrong", "ok"],
  percentencode: ["ok", "ok", "wrong", "ok", "ok"],
  // The older registry's; scenes builds it from the URL, leaving $ , : ; @ as they are.
  queryparam: ["ok", "ok", "ok", "ok", "ok"],
  regex: ["ok", "ok", "ok", "ok", "ok"],
};

Deno.test("what Grafana's formats give ClickHouse back for hostile names, as pinned", async () => {
  const store = await startTestStore();
  const client = grafanaClient(store);
  try {
    for (const [format, use] of Object.entries(USES)) {
      const got: string[] = [];
      for (const probe of PROBES) {
        const names = [probe, "B.Temp"];
        const res = await client.send(`${interpolate(use, { tag: names })} AS v`, "JSONEachRow");
        const text = await res.text();
        const same = res.status === 200 &&
          JSON.stringify(JSON.parse(text).v) === JSON.stringify(names);
        got.push(res.status !== 200 ? "error" : same ? "ok" : "wrong");
      }
      assert.deepEqual(got, OUTCOMES[format], format);
    }
  } finally {
    await store.stop();
  }
});

Deno.test("a second name could drop the old filter's time range; the shipped filter only matches names", async () => {
  const before = "SELECT TagName AS tag FROM WonderwareHistory FINAL\n" +
    "WHERE TagName IN (${tag:singlequote}) AND $__timeFilter(DateTime)";
  const names = ["Back\\slash\\", ") OR 1 --"];
  const plant = await openPlant();
  try {
    const leaked = await plant.rows(render(before, { tag: names }, RANGE));
    assert.equal(leaked.length, READINGS.length); // every tag, at every time
    const rows = await plant.rows(render(RAW, { tag: names }, RANGE));
    const want = READINGS.filter((r) => r.tag === names[0] && inRange(seconds(r)));
    assert.deepEqual(
      rows.map((r) => [r.tag, unix(r.time)]),
      want.map((r) => [r.tag, seconds(r)]),
    );
  } finally {
    await plant.close();
  }
});
