/**
 * A circuit breaker: after `failures` transient failures in a row it opens and calls fail fast
 * for `cooldownMs`; then calls are let through (half-open) and the first outcome closes or
 * reopens it. Keeps a Historian that is down from being hammered by every worker at once.
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
    /** Milliseconds until the circuit lets a call through again; 0 when it does now. */
    waitMs(): number {
      return state() === "open" ? openedAt! + options.cooldownMs - now() : 0;
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
