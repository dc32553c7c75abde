/**
 * The contract every sink plugin passes; the in-memory fake and the ClickHouse sink (on the
 * embedded store) run the same steps: exactly-once writes, revisions, commits recorded in
 * the sink's state, watermarks at 100 ns.
 */
import assert from "node:assert/strict";
import type { Reading, Sink, Ticks } from "../../engine/mod.ts";

export interface SinkUnderTest {
  /** A sink already prepared with a readings table keyed by tag and time. */
  sink: Sink;
  /** A reading as this sink's model stores it. */
  reading(tag: string, time: Ticks, value: number): Reading;
  close(): Promise<void>;
}

export async function sinkContract(t: Deno.TestContext, open: () => Promise<SinkUnderTest>) {
  const { sink, reading, close } = await open();
  // A day ago, on the hour: recent enough for any retention a sink's tables keep.
  const T0 = BigInt(Math.floor(Date.now() / 3_600_000 - 24) * 3_600_000) * 10_000n;
  const batch = (tag: string, from: number, to: number, value = (i: number) => i) => ({
    readings: Array.from(
      { length: to - from },
      (_, k) => reading(tag, T0 + BigInt(from + k) * 10_000_000n + 1n, value(from + k)),
    ),
  });
  try {
    await t.step("a batch written again is skipped whole", async () => {
      assert.deepEqual(await sink.write(batch("c.a", 0, 100)), { written: 100, skipped: 0 });
      assert.deepEqual(await sink.write(batch("c.a", 0, 100)), { written: 0, skipped: 100 });
    });
    await t.step("an overlapping batch stores only what is new", async () => {
      assert.deepEqual(await sink.write(batch("c.a", 50, 150)), { written: 50, skipped: 50 });
    });
    await t.step("a revised reading replaces the stored one", async () => {
      const revised = batch("c.a", 0, 10, (i) => (i === 3 ? 1_000 : i));
      assert.deepEqual(await sink.write(revised), { written: 1, skipped: 9 });
    });
    if (sink.counts) {
      await t.step("counts.count() counts each stored reading once, in (from, to]", async () => {
        const all = { from: T0, to: T0 + 1_000n * 10_000_000n };
        assert.equal((await sink.counts!.count(["c.a", "c.none"], all)).get("c.a"), 150);
        const part = { from: T0 + 10n * 10_000_000n + 1n, to: T0 + 20n * 10_000_000n + 1n };
        assert.equal((await sink.counts!.count(["c.a"], part)).get("c.a"), 10);
        assert.equal((await sink.counts!.count(["c.none"], all)).get("c.none") ?? 0, 0);
      });
    }
    await t.step("a commit with an id is recorded in the state, idempotently", async () => {
      const unit = {
        id: "contract-unit",
        tags: ["c.a"],
        window: { from: T0, to: T0 + 200n * 10_000_000n },
        rows: 150,
        readings: 150,
      };
      await sink.commit(unit);
      await sink.commit(unit);
      assert.ok((await sink.state!.load()).doneUnits.has("contract-unit"));
    });
    if (sink.counts) {
      await t.step(
        "a unit attempt's writes are all stored by its commit; a released attempt's may be dropped",
        async () => {
          const window = { from: T0, to: T0 + 1_000n * 10_000_000n };
          const held = { unit: "contract#1", holdBytes: 64 << 20 };
          for (const [from, to] of [[0, 40], [40, 80]] as const) {
            assert.deepEqual(await sink.write(batch("c.held", from, to), held), {
              written: 40,
              skipped: 0,
            });
          }
          await sink.commit({
            unit: "contract#1",
            tags: ["c.held"],
            window,
            rows: 80,
            readings: 80,
          });
          assert.equal((await sink.counts!.count(["c.held"], window)).get("c.held"), 80);
          await sink.write(batch("c.gone", 0, 10), { unit: "contract#2", holdBytes: 64 << 20 });
          sink.release?.("contract#2");
          const left = (await sink.counts!.count(["c.gone"], window)).get("c.gone") ?? 0;
          assert.ok(
            left === 0 || left === 10,
            "dropped, or stored whole by a sink that holds none",
          );
        },
      );
    }
    await t.step("watermarks round-trip at 100 ns, the latest save winning", async () => {
      await sink.state!.saveWatermarks(new Map([["c.a", T0 + 1n], ["c.b'\\", T0 + 2n]]));
      await sink.state!.saveWatermarks(new Map([["c.a", T0 + 3n]]));
      const marks = (await sink.state!.load()).watermarks;
      assert.equal(marks.get("c.a"), T0 + 3n);
      assert.equal(marks.get("c.b'\\"), T0 + 2n);
    });
  } finally {
    await close();
  }
}
