import assert from "node:assert/strict";
import { byteSize, parseSize } from "./size.ts";
import { batchRows, holdBytes } from "../pool.ts";

Deno.test("sizes are text with a unit, in powers of 1024", () => {
  assert.equal(parseSize("32MB"), 32 * 1024 ** 2);
  assert.equal(parseSize("512 KiB"), 512 * 1024);
  assert.equal(parseSize("1.5gb"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("64"), undefined, "a bare number could be bytes or megabytes");
  assert.equal(parseSize("64 MBs"), undefined);
  const r = byteSize({ min: 4 * 1024 ** 2 }).safeParse("1MB");
  assert.ok(!r.success);
  assert.match(r.error.issues[0]!.message, /too small: the minimum is 4MB/);
});

Deno.test("the memory budget: half for batches (three a worker, 200 bytes a reading), half held by the sink", () => {
  assert.equal(batchRows({ memory: 32 * 1024 ** 2, parallelism: 4 }), 6_990);
  assert.equal(batchRows({ memory: 32 * 1024 ** 2, parallelism: 1 }), 27_962);
  assert.equal(batchRows({ memory: 4 * 1024 ** 2, parallelism: 64 }), 500, "never below 500");
  assert.equal(batchRows({ memory: 32 * 1024 ** 2, parallelism: 4, batch_rows: 2_000 }), 2_000);
  assert.equal(holdBytes({ memory: 32 * 1024 ** 2, parallelism: 4 }), 4 * 1024 ** 2);
  assert.equal(holdBytes({ memory: 32 * 1024 ** 2, parallelism: 1 }), 16 * 1024 ** 2);
});
