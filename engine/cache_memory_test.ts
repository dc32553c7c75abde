import assert from "node:assert/strict";
import { cacheContract } from "../tests/contracts/cache.ts";
import { createMemoryCache } from "./cache_memory.ts";
import { systemClock } from "./plugin.ts";

Deno.test("memory cache passes the cache contract", async (t) => {
  await cacheContract(t, () => Promise.resolve(createMemoryCache(systemClock)));
});

Deno.test("memory cache evicts the oldest entries past max_entries", async () => {
  const cache = createMemoryCache(systemClock, 2);
  await cache.set("a", "1");
  await cache.set("b", "2");
  await cache.set("c", "3");
  assert.equal(await cache.get("a"), undefined);
  assert.equal(await cache.get("c"), "3");
  await cache.close();
});

Deno.test("memory cache follows the injected clock", async () => {
  let now = 0;
  const cache = createMemoryCache({ now: () => new Date(now), sleep: () => Promise.resolve() });
  await cache.set("k", "v", 1_000);
  now = 999;
  assert.equal(await cache.get("k"), "v");
  now = 1_000;
  assert.equal(await cache.get("k"), undefined);
  await cache.close();
});
