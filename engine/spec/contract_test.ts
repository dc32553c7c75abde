/** The spec's contract with its plugins, on fake plugin definitions. */
import assert from "node:assert/strict";
import { z } from "zod";
import { memoryCache } from "../cache_memory.ts";
import { ConfigError } from "../errors.ts";
import { definePlugin } from "../plugin.ts";
import type { Capability, PluginDefinition } from "../plugin.ts";
import { parseSpec } from "./load.ts";

function plugins(provides: Capability[]): PluginDefinition[] {
  const none = () => Promise.reject(new Error("not created in these tests"));
  return [
    memoryCache as PluginDefinition,
    definePlugin({
      kind: "source",
      name: "hist",
      description: "fake source",
      options: z.strictObject({}),
      create: none,
      fields: { Batch: { type: "int", per: "row" }, Mode: { type: "string", per: "batch" } },
    }) as PluginDefinition,
    definePlugin({
      kind: "sink",
      name: "store",
      description: "fake sink",
      options: z.strictObject({}),
      create: none,
      provides,
    }) as PluginDefinition,
  ];
}

const sections = {
  api: { schema: z.strictObject({ routes: z.number() }), needs: () => ["query" as const] },
};

const SPEC = `version: 1
source: {hist: {}}
sink: {store: {}}
backfill: {from: now-1d}
tables:
  raw:
    from: readings
    columns:
      t: { type: T, value: time }
      b: { type: T, value: fields.Batch }
      x: { type: T, value: fields.Nope }
    order_by: [t]
api: { routes: 1 }
`;

Deno.test("the spec's contract: unknown source fields and missing sink capabilities are config errors", () => {
  const error = (() => {
    try {
      parseSpec(SPEC, "t.yaml", { plugins: plugins([]), sections, env: () => undefined });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.message.split("\n"), [
    "t.yaml:3:15 sink.store: the store sink keeps no pipeline state (watermarks, finished units), which a pipeline needs to run",
    't.yaml:11:28 tables.raw.columns.x.value: the hist source provides no field "Nope"; its fields: Batch, Mode',
    "t.yaml:13:6 api: needs a sink that answers queries; the store sink does not",
  ]);
});

Deno.test("the spec's contract holds when the sink offers what the spec needs", () => {
  const loaded = parseSpec(SPEC.replace("fields.Nope", "fields.Batch"), "t.yaml", {
    plugins: plugins(["state", "query"]),
    sections,
    env: () => undefined,
  });
  assert.deepEqual(loaded.spec.tables.raw!.columns.x, {
    type: "T",
    value: "fields.Batch",
    stored: "per_row",
  });
});

Deno.test("stored: per_batch is for a source field the same for a whole batch", () => {
  const errors = (spec: string) => {
    try {
      parseSpec(spec, "t.yaml", {
        plugins: plugins(["state", "query"]),
        sections,
        env: () => undefined,
      });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.message.split("\n");
    }
    return [];
  };
  const columns = (x: string) => SPEC.replace("x: { type: T, value: fields.Nope }", x);
  assert.deepEqual(errors(columns("x: { type: T, value: fields.Mode, stored: per_batch }")), []);
  assert.deepEqual(errors(columns("x: { type: T, value: fields.Batch, stored: per_batch }")), [
    't.yaml:11:50 tables.raw.columns.x.stored: the hist source\'s field "Batch" varies per row: only a field that is the same for a whole batch can be stored per batch',
  ]);
  assert.deepEqual(errors(columns("x: { type: T, value: time, stored: per_batch }")), [
    "t.yaml:11:42 tables.raw.columns.x.stored: only a source's field (fields.<name>) can be stored per batch",
  ]);
});
