import assert from "node:assert/strict";
import { createBreaker } from "./breaker.ts";

Deno.test("createBreaker() opens after repeated failures, half-opens after the cooldown, closes on success", () => {
  let now = 0;
  const b = createBreaker({ failures: 3, cooldownMs: 1_000, now: () => now });
  for (let i = 0; i < 2; i++) b.failure("down");
  assert.equal(b.waitMs(), 0);
  assert.equal(b.health().circuit, "closed");
  b.failure("down");
  assert.equal(b.health().circuit, "open");
  now = 400;
  assert.equal(b.waitMs(), 600, "calls wait out the rest of the cooldown");
  now = 1_000;
  assert.equal(b.health().circuit, "half-open");
  assert.equal(b.waitMs(), 0);
  b.failure("still down");
  assert.equal(b.health().circuit, "open", "a failed trial reopens it");
  assert.equal(b.waitMs(), 1_000);
  now = 2_500;
  b.success();
  assert.deepEqual({ ...b.health(), lastErrorAt: undefined }, {
    circuit: "closed",
    consecutiveFailures: 0,
    lastError: "still down",
    lastErrorAt: undefined,
  });
});
