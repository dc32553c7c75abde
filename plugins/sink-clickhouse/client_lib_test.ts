import assert from "node:assert/strict";
import { clientSleep } from "./_client_lib.ts";

Deno.test("the ClickHouse client's 0-ms sleep before each request waits for no timer; longer ones still wait", async () => {
  assert.ok(clientSleep, "the client's sleep was found");
  const order: string[] = [];
  setTimeout(() => order.push("timer"), 0);
  await clientSleep(0);
  order.push("sleep(0)");
  const started = performance.now();
  await clientSleep(20);
  order.push("sleep(20)");
  assert.deepEqual(order, ["sleep(0)", "timer", "sleep(20)"]);
  assert.ok(performance.now() - started >= 19);
});
