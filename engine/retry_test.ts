import assert from "node:assert/strict";
import type { Clock } from "./plugin.ts";
import { retry } from "./retry.ts";

function fakeClock(slept: number[]): Clock {
  return { now: () => new Date(0), sleep: (ms) => (slept.push(ms), Promise.resolve()) };
}

Deno.test("retry() returns at once on success", async () => {
  const slept: number[] = [];
  const value = await retry(() => Promise.resolve(7), {
    attempts: 3,
    baseMs: 100,
    maxMs: 1000,
    clock: fakeClock(slept),
    isRetriable: () => true,
  });
  assert.equal(value, 7);
  assert.deepEqual(slept, []);
});

Deno.test("retry() backs off exponentially with jitter, capped, until it succeeds", async () => {
  const slept: number[] = [];
  let calls = 0;
  const value = await retry(
    () => ++calls < 5 ? Promise.reject(new Error("busy")) : Promise.resolve("ok"),
    {
      attempts: 5,
      baseMs: 100,
      maxMs: 300,
      clock: fakeClock(slept),
      isRetriable: () => true,
      random: () => 1,
    },
  );
  assert.equal(value, "ok");
  assert.deepEqual(slept, [100, 200, 300, 300]);
});

Deno.test("retry() gives up on an error that is not retriable, or after the last attempt", async () => {
  const slept: number[] = [];
  let calls = 0;
  const options = { attempts: 3, baseMs: 10, maxMs: 10, clock: fakeClock(slept), random: () => 0 };
  await assert.rejects(
    () =>
      retry(() => (calls++, Promise.reject(new Error("denied"))), {
        ...options,
        isRetriable: () => false,
      }),
    /denied/,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    () =>
      retry(() => (calls++, Promise.reject(new Error("down"))), {
        ...options,
        isRetriable: () => true,
      }),
    /down/,
  );
  assert.equal(calls, 3);
  assert.deepEqual(slept, [5, 5]);
});
