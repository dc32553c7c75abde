/**
 * The contract every cache plugin passes; the memory and the Redis cache run the same steps.
 */
import assert from "node:assert/strict";
import type { Cache } from "../../engine/mod.ts";

export async function cacheContract(t: Deno.TestContext, open: () => Promise<Cache>) {
  const cache = await open();
  const key = (name: string) => `contract:${name}:${crypto.randomUUID()}`;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await t.step("get() of a missing key is undefined", async () => {
      assert.equal(await cache.get(key("missing")), undefined);
    });
    await t.step(
      "set() then get() returns the value, unicode and empty strings included",
      async () => {
        for (const value of ["plain", "", "Zoë ✓ 測試 \n\t\"'", "x".repeat(100_000)]) {
          const k = key("value");
          await cache.set(k, value);
          assert.equal(await cache.get(k), value);
        }
      },
    );
    await t.step("set() overwrites and clears an earlier TTL", async () => {
      const k = key("overwrite");
      await cache.set(k, "first", 300);
      await cache.set(k, "second");
      await sleep(500);
      assert.equal(await cache.get(k), "second");
    });
    await t.step("an entry expires after its TTL", async () => {
      const k = key("ttl");
      await cache.set(k, "v", 1_000);
      assert.equal(await cache.get(k), "v");
      await sleep(1_300);
      assert.equal(await cache.get(k), undefined);
    });
    await t.step("add() sets only an absent key", async () => {
      const k = key("add");
      assert.equal(await cache.add(k, "a", 5_000), true);
      assert.equal(await cache.add(k, "b", 5_000), false);
      assert.equal(await cache.get(k), "a");
    });
    await t.step("add() succeeds again once the holder's TTL ran out", async () => {
      const k = key("lock");
      assert.equal(await cache.add(k, "holder-1", 300), true);
      await sleep(500);
      assert.equal(await cache.add(k, "holder-2", 5_000), true);
      assert.equal(await cache.get(k), "holder-2");
    });
    await t.step("delete() with a value deletes only while the key still holds it", async () => {
      const k = key("release");
      await cache.set(k, "mine");
      assert.equal(await cache.delete(k, "theirs"), false);
      assert.equal(await cache.get(k), "mine");
      assert.equal(await cache.delete(k, "mine"), true);
      assert.equal(await cache.get(k), undefined);
      assert.equal(await cache.delete(k), false);
    });
  } finally {
    await cache.close();
  }
  await t.step("a closed cache refuses to work", async () => {
    await assert.rejects(() => cache.get(key("closed")));
  });
}
