/**
 * Keeping cheap routes cheap. Declared queries share a bounded number of slots with a bounded
 * queue; when the queue is full a request is refused at once (503 with Retry-After) instead of
 * piling up on the store, and a request whose deadline passes while it waits leaves the queue
 * (the wait counts toward its timeout). A route with `memo` answers from its last result while
 * it is fresh and refreshes it in the background (stale-while-revalidate), so a status page
 * stays fast while heavy series queries run.
 */

/** Thrown when every slot is busy and the queue is full. */
export class Busy extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("the API is busy: every query slot is taken and the queue is full");
    this.name = "Busy";
  }
}

export interface Limiter {
  /** Runs `fn` in a slot; rejects with the signal's reason if it aborts before a slot is free. */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Queries running and waiting, for tests and metrics. */
  load(): { running: number; queued: number };
}

export function createLimiter(slots: number, queue: number): Limiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(fn, signal) {
      signal?.throwIfAborted();
      if (running >= slots) {
        if (waiting.length >= queue) throw new Busy(1);
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => {
            waiting.splice(waiting.indexOf(turn), 1);
            reject(signal!.reason);
          };
          const turn = () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          };
          waiting.push(turn);
          signal?.addEventListener("abort", onAbort, { once: true });
        });
      }
      running++;
      try {
        return await fn();
      } finally {
        running--;
        waiting.shift()?.();
      }
    },
    load: () => ({ running, queued: waiting.length }),
  };
}

/**
 * A result kept for `ttlMs` per key; once stale it is still answered (and refreshed in the
 * background) while younger than twice that, so a busy route stays fast; older, it is computed
 * again before answering, so the first request after a quiet spell never gets old news.
 */
export function createMemo<T>(ttlMs: number, now: () => number = Date.now, maxEntries = 1_000) {
  const entries = new Map<string, { value: T; at: number; refreshing?: Promise<T> }>();
  return async function memo(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = entries.get(key);
    const age = hit ? now() - hit.at : Infinity;
    if (hit && age < ttlMs) return hit.value;
    if (hit && age < 2 * ttlMs) {
      // Stale: answer with it, and let one refresh run.
      hit.refreshing ??= compute().then((value) => {
        entries.set(key, { value, at: now() });
        return value;
      }).catch((e) => {
        hit.refreshing = undefined;
        throw e;
      });
      hit.refreshing.catch(() => {});
      return hit.value;
    }
    const value = await compute();
    entries.set(key, { value, at: now() });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    return value;
  };
}
