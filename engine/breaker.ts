/**
 * A circuit breaker: after `failures` transient failures in a row it opens and calls fail fast
 * for `cooldownMs`; then one call is let through (half-open) and its outcome closes or reopens
 * it. Keeps a Historian that is down from being hammered by every worker at once.
 */
import type { PluginHealth } from "./plugin.ts";

export function createBreaker(
  options: { failures: number; cooldownMs: number; now?: () => number },
) {
  const now = options.now ?? Date.now;
  let consecutive = 0;
  let openedAt: number | undefined;
  let lastError: string | undefined;
  let lastErrorAt: Date | undefined;

  const state = (): PluginHealth["circuit"] =>
    openedAt === undefined
      ? "closed"
      : now() - openedAt >= options.cooldownMs
      ? "half-open"
      : "open";

  return {
    /** Throws `error()` while the circuit is open. */
    check(error: () => Error) {
      if (state() === "open") throw error();
    },
    success() {
      consecutive = 0;
      openedAt = undefined;
    },
    failure(message: string) {
      consecutive++;
      lastError = message;
      lastErrorAt = new Date(now());
      if (consecutive >= options.failures || state() === "half-open") openedAt = now();
    },
    health(): PluginHealth {
      return { circuit: state(), consecutiveFailures: consecutive, lastError, lastErrorAt };
    },
  };
}
