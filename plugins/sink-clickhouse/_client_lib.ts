/**
 * npm:@clickhouse/client as this sink loads it. Before every request the client sleeps 0 ms
 * (`setTimeout`), so that under load Node runs its idle-socket timers before a socket is
 * reused. In Deno such a sleep takes 1–3 ms, up to 17 ms in the tail: the better part of every
 * route's and every statement's overhead (a query answered at once: 3.9 ms median, 6.4 p95
 * through the client; 1.0 and 1.6 without the sleep). So a 0-ms sleep resolves at once, and the
 * sink has the client check a socket's age before reusing it (`keep_alive.
 * eagerly_destroy_stale_sockets`), which is what the sleep was for. A sleep of more than 0 ms
 * is left as it is. A test holds that the client's sleep is found (a new client version may move it).
 */
import Module from "node:module";
import { createClient } from "@clickhouse/client";

type SleepModule = { exports: { sleep?: (ms: number) => Promise<void> } };
const cache = (Module as unknown as { _cache: Record<string, SleepModule> })._cache;
const path = Object.keys(cache).find((k) =>
  /[\\/]@clickhouse[\\/]client[\\/].*[\\/]common[\\/]utils[\\/]sleep\.js$/.test(k)
);
const sleeping = path ? cache[path]!.exports : undefined;
const sleep = sleeping?.sleep;
if (sleeping && sleep) {
  sleeping.sleep = (ms: number) => ms <= 0 ? Promise.resolve() : sleep(ms);
}

/** The client's own sleep, as it now runs (undefined if it was not found). */
export const clientSleep = sleeping?.sleep;

export { createClient };
