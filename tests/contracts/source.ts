/**
 * The contract every source plugin passes; the in-memory fake and the Wonderware source (on
 * the simulator) run the same steps. `window` must hold readings of the discovered tags.
 */
import assert from "node:assert/strict";
import type { Reading, Source, TimeWindow } from "../../engine/mod.ts";

async function readAll(source: Source, window: TimeWindow, batchSize?: number) {
  const tags = await source.discover();
  const out: Reading[] = [];
  for await (const batch of source.read(tags, window, { batchSize })) {
    assert.ok(batch.readings.length > 0, "no empty batches");
    assert.ok(batch.readings.length <= (batchSize ?? 10_000), "batches respect batchSize");
    out.push(...batch.readings);
  }
  return out;
}

const key = (r: Reading) => `${r.tag}@${r.time}`;

export async function sourceContract(
  t: Deno.TestContext,
  open: () => Promise<{ source: Source; window: TimeWindow; close(): Promise<void> }>,
) {
  const { source, window, close } = await open();
  try {
    await t.step("discover() lists each tag once with a known type", async () => {
      const tags = await source.discover();
      assert.ok(tags.length > 0);
      assert.equal(new Set(tags.map((t) => t.name)).size, tags.length);
      for (const tag of tags) assert.ok(["analog", "discrete", "string"].includes(tag.type));
    });
    await t.step(
      "read() returns readings inside (from, to], in time order, normalized",
      async () => {
        const all = await readAll(source, window, 97);
        assert.ok(all.length > 0, "the window holds readings");
        for (let i = 0; i < all.length; i++) {
          const r = all[i]!;
          assert.ok(r.time > window.from && r.time <= window.to, key(r));
          if (i > 0) assert.ok(all[i - 1]!.time <= r.time, "ordered by time");
          assert.ok(["good", "uncertain", "bad"].includes(r.quality), r.quality);
          assert.ok(r.qualityCode === null || Number.isInteger(r.qualityCode));
          assert.ok(r.value === null || typeof r.value === "number");
          assert.ok(r.text === null || typeof r.text === "string");
        }
      },
    );
    await t.step("adjacent windows hold the whole window's readings, none twice", async () => {
      const whole = (await readAll(source, window)).map(key).sort();
      const mid = window.from + (window.to - window.from) / 2n;
      const halves = [
        ...await readAll(source, { from: window.from, to: mid }),
        ...await readAll(source, { from: mid, to: window.to }),
      ].map(key).sort();
      assert.deepEqual(halves, whole);
    });
    await t.step("reading the same window again yields the same readings", async () => {
      const big = (_k: string, v: unknown) => typeof v === "bigint" ? v.toString() : v;
      const a = JSON.stringify(await readAll(source, window), big);
      assert.equal(JSON.stringify(await readAll(source, window), big), a);
    });
    if (source.count) {
      await t.step("count() says per tag how many readings read() returns", async () => {
        const tags = await source.discover();
        const read = new Map<string, number>();
        for (const r of await readAll(source, window)) read.set(r.tag, (read.get(r.tag) ?? 0) + 1);
        const counted = await source.count!(tags, window);
        for (const tag of tags) {
          assert.equal(counted.get(tag.name) ?? 0, read.get(tag.name) ?? 0, tag.name);
        }
      });
    }
    if (source.summaries) {
      await t.step(
        "summaries() has rows of the asked cycles only, and counts the values read() returns",
        async () => {
          const tags = await source.discover();
          const minute = 600_000_000n;
          const from = ((window.from + minute) / minute) * minute;
          const to = (window.to / minute) * minute;
          assert.ok(to > from, "the window holds a whole minute");
          const { analog, state } = await source.summaries!(tags, { from, to }, 60_000);
          const type = new Map(tags.map((t) => [t.name, t.type]));
          for (const r of [...analog, ...state]) {
            assert.ok(r.StartDateTime >= from && r.EndDateTime <= to, r.TagName);
            assert.equal(r.EndDateTime - r.StartDateTime, minute);
            assert.equal(r.StartDateTime % minute, 0n, "cycles start at the window's start");
          }
          assert.ok(analog.every((r) => type.get(r.TagName) === "analog"));
          assert.ok(state.every((r) => type.get(r.TagName) !== "analog"));
          const valued = new Map<string, number>();
          for (const r of await readAll(source, { from: from - 1n, to: to - 1n })) {
            if (r.value === null || r.quality === "bad" || type.get(r.tag) !== "analog") continue;
            const k = `${r.tag}@${(r.time / minute) * minute}`;
            valued.set(k, (valued.get(k) ?? 0) + 1);
          }
          assert.ok(analog.length > 0, "the window holds analog cycles");
          for (const r of analog) {
            assert.equal(r.ValueCount, valued.get(`${r.TagName}@${r.StartDateTime}`) ?? 0);
          }
        },
      );
    }
    await t.step("serverTime() is the historian's clock in ticks", async () => {
      const now = await source.serverTime();
      assert.equal(typeof now, "bigint");
      assert.ok(now >= window.to, "after the data it holds");
    });
  } finally {
    await close();
  }
}
