/**
 * docs/reference/ is generated from the zod schemas (`deno task docs`): these tests fail when
 * it is stale, and when a default it documents is not the default the schema applies.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { generateReference, REFERENCE_DIR } from "../scripts/docs.ts";
import { jsonSchemaOf, renderKeys } from "../scripts/_reference.ts";
import { envRefs } from "../scripts/_env_refs.ts";
import { parse } from "../cli/_load.ts";
import { duration } from "../engine/spec/duration.ts";
import { parseDuration } from "../engine/spec/duration.ts";

/** The block documenting `key` on `page`: from its heading to the next heading. */
async function documented(page: string, key: string): Promise<string> {
  const text = await Deno.readTextFile(`${REFERENCE_DIR}/${page}`);
  const start = text.search(new RegExp(`^#+ \`${key.replace(/[.[\]]/g, "\\$&")}\`$`, "m"));
  assert.notEqual(start, -1, `${REFERENCE_DIR}/${page} does not document ${key}`);
  const end = text.indexOf("\n#", start);
  return end === -1 ? text.slice(start) : text.slice(start, end);
}

/** The default `key`'s block states, as the value it writes (JSON). */
async function documentedDefault(page: string, key: string): Promise<unknown> {
  const block = await documented(page, key);
  const match = /^- Default: `(.*)`$/m.exec(block);
  assert.ok(match, `${REFERENCE_DIR}/${page} gives no default for ${key}`);
  return JSON.parse(match[1]!);
}

Deno.test("docs/reference is what `deno task docs` generates", async () => {
  const { files } = await generateReference();
  const stale: string[] = [];
  for (const [name, text] of files) {
    const committed = await Deno.readTextFile(`${REFERENCE_DIR}/${name}`).catch(() => undefined);
    if (committed !== text) stale.push(`${REFERENCE_DIR}/${name}`);
  }
  for (const entry of Deno.readDirSync(REFERENCE_DIR)) {
    if (!files.has(entry.name)) stale.push(`${REFERENCE_DIR}/${entry.name} (not generated)`);
  }
  assert.deepEqual(stale, [], `stale: ${stale.join(", ")}; run \`deno task docs\``);
});

Deno.test("the reference documents the defaults the schemas apply", async () => {
  const { spec, plugins } = parse(
    "version: 1\nsource: {wonderware: {host: h}}\nsink: {clickhouse: {host: ch}}\n" +
      "backfill: {from: now-1d}\napi: {}\n",
    "inline.yaml",
    () => undefined,
  );
  const source = plugins.source.options as Record<string, unknown>;
  const sink = plugins.sink.options as { port: number; embedded: { host: string } };
  const cases: [string, string, unknown, (documented: unknown) => unknown][] = [
    ["source-wonderware.md", "source.wonderware.encrypt", source.encrypt, (v) => v],
    ["source-wonderware.md", "source.wonderware.port", source.port, (v) => v],
    [
      "source-wonderware.md",
      "source.wonderware.connect_timeout",
      source.connect_timeout,
      (v) => parseDuration(v as string),
    ],
    ["sink-clickhouse.md", "sink.clickhouse.port", sink.port, (v) => v],
    ["sink-clickhouse.md", "sink.clickhouse.embedded.host", sink.embedded.host, (v) => v],
    ["spec.md", "chunking.tags_per_query", spec.chunking.tags_per_query, (v) => v],
    [
      "spec.md",
      "sync.late_data_window",
      spec.sync.late_data_window,
      (v) => parseDuration(v as string),
    ],
    ["spec.md", "api.port", (spec.api as { port: number }).port, (v) => v],
  ];
  for (const [page, key, applied, read] of cases) {
    assert.deepEqual(
      read(await documentedDefault(page, key)),
      applied,
      `${REFERENCE_DIR}/${page} documents another default for ${key} than its schema applies`,
    );
  }
});

Deno.test("the reference names the variable each shipped spec reads a key from", async () => {
  const block = await documented("source-wonderware.md", "source.wonderware.host");
  assert.match(
    block,
    /^- Read from `WONDERWARE_HOST` in [^:]*pipelines\/wonderware\.yaml: `\$\{WONDERWARE_HOST:\?…\}`$/m,
  );
});

Deno.test("a key's block gives its path, type, bounds, values, default and variable", () => {
  const schema = z.strictObject({
    store: z.strictObject({
      port: z.int().min(1).max(65535).default(8123).describe("The port"),
      mode: z.enum(["fast", "safe"]).default("safe").describe("How to write"),
      timeout: duration({ min: 1_000 }).prefault("10s").describe("Timeout of one request"),
      name: z.string().min(1).describe("Its name"),
    }).optional().describe("Where rows go"),
  });
  const refs = envRefs("store:\n  port: ${PORT:-8123}\n", "pipelines/x.yaml");
  const ctx = {
    refs,
    pluginSections: new Map(),
    undocumented: [],
    matched: new Set<never>(),
    variables: new Map(),
    page: "x.md",
  };
  assert.deepEqual(renderKeys(jsonSchemaOf(schema), [], ctx, 2), [
    "## `store`\n\nWhere rows go\n\n- Type: object\n- Optional",
    "### `store.port`\n\nThe port\n\n- Type: integer, from 1 to 65535\n- Default: `8123`\n" +
    "- Read from `PORT` in pipelines/x.yaml: `${PORT:-8123}`",
    "### `store.mode`\n\nHow to write\n\n- Type: string\n- Values: `fast`, `safe`\n" +
    '- Default: `"safe"`',
    "### `store.timeout`\n\nTimeout of one request\n\n- Type: duration, at least 1s\n" +
    '- Default: `"10s"`',
    "### `store.name`\n\nIts name\n\n- Type: string, not empty\n- Required",
  ]);
  assert.deepEqual([...ctx.variables], [["PORT", [["x.md", "store.port"]]]]);
});
