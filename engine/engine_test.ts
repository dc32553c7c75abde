/** The engine's own start/stop logic, with fake plugins declared the way real ones are. */
import assert from "node:assert/strict";
import { z } from "zod";
import { startEngine } from "./engine.ts";
import { createMemoryCache, memoryCache } from "./cache_memory.ts";
import { PluginError } from "./errors.ts";
import { createLogger } from "./log.ts";
import { definePlugin, systemClock } from "./plugin.ts";
import type { PluginDefinition } from "./plugin.ts";
import { parseSpec } from "./spec/load.ts";

function fakes(events: string[], failures: Record<string, PluginError> = {}) {
  const fake = <K extends "source" | "sink" | "cache">(kind: K, name: string) =>
    definePlugin({
      kind,
      name,
      description: `fake ${kind}`,
      options: z.strictObject({ label: z.string().default(name) }),
      provides: kind === "sink" ? ["state"] : undefined,
      create: (options) => {
        if (failures[name]) return Promise.reject(failures[name]);
        events.push(`open ${options.label}`);
        const close = () => (events.push(`close ${options.label}`), Promise.resolve());
        const base = { close };
        return Promise.resolve(
          (kind === "cache"
            ? { ...createMemoryCache(systemClock), close }
            : kind === "sink"
            ? { ...base, prepare: () => Promise.resolve() }
            : { ...base, serverTime: () => Promise.resolve(0n) }) as never,
        );
      },
    }) as PluginDefinition;
  return [
    memoryCache as PluginDefinition,
    fake("source", "hist"),
    fake("sink", "store"),
    fake("cache", "shared"),
  ];
}

function load(yaml: string, plugins: PluginDefinition[]) {
  return parseSpec(
    `version: 1\nsource: {hist: {}}\nsink: {store: {}}\nbackfill: {from: now-1d}\n${yaml}`,
    "t.yaml",
    {
      plugins,
      env: () => undefined,
    },
  );
}

const options = (lines: string[] = []) => ({
  log: createLogger({ format: "json", write: (l) => lines.push(l) }),
  clock: systemClock,
  secrets: new Set<string>(),
  dataDir: "/nonexistent",
});

Deno.test("startEngine() opens cache, sink, source in order and closes them in reverse", async () => {
  const events: string[] = [];
  const engine = await startEngine(load("cache: {shared: {}}", fakes(events)), options());
  assert.deepEqual(events, ["open shared", "open store", "open hist"]);
  await engine.close();
  await engine.close();
  assert.deepEqual(events.slice(3), ["close hist", "close store", "close shared"]);
  assert.equal(engine.signal.aborted, true);
});

Deno.test("an unavailable cache falls back to memory when cache.fallback is memory", async () => {
  const events: string[] = [];
  const lines: string[] = [];
  const down = new PluginError("cache-shared", "connecting at 127.0.0.1:1 failed", {
    unavailable: true,
  });
  const engine = await startEngine(
    load("cache: {shared: {}}", fakes(events, { shared: down })),
    options(lines),
  );
  await engine.cache.set("k", "v");
  assert.equal(await engine.cache.get("k"), "v");
  assert.ok(
    lines.some((l) => l.includes("using the built-in memory cache") && l.includes("127.0.0.1:1")),
  );
  await engine.close();
});

Deno.test("an unavailable cache stops the engine when cache.fallback is fail", async () => {
  const events: string[] = [];
  const down = new PluginError("cache-shared", "connecting failed", { unavailable: true });
  await assert.rejects(
    () =>
      startEngine(
        load("cache: {shared: {}, fallback: fail}", fakes(events, { shared: down })),
        options(),
      ),
    /cache-shared: unavailable and cache.fallback is "fail": cache-shared: connecting failed/,
  );
});

Deno.test("an unavailable source or sink is reported and the rest keeps running", async () => {
  const events: string[] = [];
  const away = new PluginError("source-hist", "host is empty", { unavailable: true });
  const engine = await startEngine(load("", fakes(events, { hist: away })), options());
  assert.equal(engine.source, undefined);
  assert.equal(engine.unavailable.source, "source-hist: host is empty");
  assert.ok(engine.sink);
  await engine.close();
  assert.deepEqual(events, ["open store", "close store"]);
});

Deno.test("a plugin that fails for good closes what was already open and rethrows", async () => {
  const events: string[] = [];
  const refused = new PluginError("source-hist", "login refused");
  await assert.rejects(
    () => startEngine(load("", fakes(events, { hist: refused })), options()),
    /login refused/,
  );
  assert.deepEqual(events, ["open store", "close store"]);
});
