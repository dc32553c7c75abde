/**
 * Exponential backoff with full jitter. Plugins say *whether* an error is worth retrying (they
 * know their store's error codes); this says *how*, once for everyone.
 */
import type { Clock } from "./plugin.ts";

export interface RetryOptions {
  /** Attempts in total, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  clock: Clock;
  signal?: AbortSignal;
  isRetriable(error: unknown): boolean;
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  random?: () => number;
}

export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const random = options.random ?? Math.random;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= options.attempts || !options.isRetriable(e) || options.signal?.aborted) {
        throw e;
      }
      const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));
      const delay = Math.round(ceiling / 2 + random() * ceiling / 2);
      options.onRetry?.(e, attempt, delay);
      await options.clock.sleep(delay, options.signal);
    }
  }
}
