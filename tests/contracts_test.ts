/**
 * The source and sink contracts, run against every plugin of each kind and the in-memory
 * fakes the engine's own tests use (the cache contract runs beside each cache).
 */
import { parseTicks } from "../engine/types.ts";
import type { Ticks } from "../engine/types.ts";
import { sinkContract } from "./contracts/sink.ts";
import { sourceContract } from "./contracts/source.ts";
import { createFakeSink } from "./fakes/sink.ts";
import { createFakeSource, reading } from "./fakes/source.ts";
import { openSink, openSource } from "./_plugins.ts";

const T0 = parseTicks("2026-11-30T00:00:00Z");
const MINUTE = 600_000_000n;

Deno.test("source contract: the in-memory fake", async (t) => {
  await sourceContract(t, () => {
    const source = createFakeSource(["a", "b", "c"], T0 - 600n * MINUTE, T0, MINUTE);
    return Promise.resolve({
      source,
      window: { from: T0 - 300n * MINUTE, to: T0 },
      close: () => source.close(),
    });
  });
});

Deno.test({
  name: "source contract: wonderware on the Historian simulator",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await sourceContract(t, () => openSource("tests/fixtures/historian/mixed"));
  },
});

Deno.test("sink contract: the in-memory fake", async (t) => {
  await sinkContract(
    t,
    () => Promise.resolve({ sink: createFakeSink(), reading, close: () => Promise.resolve() }),
  );
});

Deno.test({
  name: "sink contract: clickhouse on the embedded store",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await sinkContract(t, async () => {
      const opened = await openSink();
      return {
        ...opened,
        reading: (tag: string, time: Ticks, value: number) => ({
          tag,
          time,
          value,
          text: null,
          quality: "good" as const,
          qualityCode: 0,
          fields: { QualityDetail: 192, OPCQuality: 192 },
        }),
      };
    });
  },
});
