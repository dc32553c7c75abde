/**
 * The one retry layer. Every call the engine makes to a source or a sink goes through here:
 * a circuit breaker per plugin (a store or historian that is down is not hammered by every
 * worker), and backoff with jitter for errors the plugin classified as retriable. Plugins never
 * retry on their own, so a fault costs exactly the budget documented in docs/architecture.md:
 *
 * - a sink call (a write of the batch in hand, a commit, a state or asset write) is attempted
 *   up to `retry.attempts` times; the batch is kept, the source is not read again for it;
 * - a source call (discovery, the clock) likewise; a read that fails mid-stream fails its unit,
 *   and the unit is read again up to `retry.unit_attempts` times (pool.ts).
 */
import { createBreaker } from "./breaker.ts";
import { PluginError } from "./errors.ts";
import { errorText } from "./log.ts";
import type { Logger } from "./log.ts";
import type { Clock, PluginHealth, Sink, Source } from "./plugin.ts";
import { retry } from "./retry.ts";

export interface RetryPolicy {
  /** Attempts of one plugin call, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

/** The spec's `retry` section as a policy. */
export function policyOf(
  r: { attempts: number; base_delay: number; max_delay: number },
): RetryPolicy {
  return { attempts: r.attempts, baseMs: r.base_delay, maxMs: r.max_delay };
}

export interface GuardDeps {
  policy: RetryPolicy;
  clock: Clock;
  signal: AbortSignal;
  log: Logger;
  /** Called for every failed attempt, retried or not (health, metrics). */
  onFailure?: (kind: "source" | "sink" | "cache", error: unknown) => void;
}

/** A plugin call wrapped with the breaker and the retry budget. */
export type Guard = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export interface Guarded {
  call: Guard;
  /** Records the outcome of a call made outside `call` (a streamed read). */
  outcome(error?: unknown): void;
  /** Waits while the circuit is open (a call then would fail without reaching the plugin). */
  ready(what: string): Promise<void>;
  health(): PluginHealth;
}

export function createGuard(
  kind: "source" | "sink",
  name: string,
  deps: GuardDeps,
): Guarded {
  const breaker = createBreaker({
    failures: 5,
    cooldownMs: 5_000,
    now: () => deps.clock.now().getTime(),
  });
  const retriable = (e: unknown) => e instanceof PluginError && e.retriable;

  function outcome(error?: unknown) {
    if (error === undefined) return breaker.success();
    deps.onFailure?.(kind, error);
    if (retriable(error)) breaker.failure(errorText(error));
  }

  // While the circuit is open every caller waits for it, instead of failing fast and spending
  // its attempts on calls that never reach the plugin: an outage shorter than the budget of
  // real attempts loses no unit.
  async function ready(what: string) {
    let ms = breaker.waitMs();
    if (ms <= 0) return;
    deps.log.warn(`${kind} circuit open after repeated failures; waiting`, {
      plugin: name,
      what,
      wait_ms: Math.round(ms),
    });
    for (; ms > 0; ms = breaker.waitMs()) await deps.clock.sleep(ms, deps.signal);
  }

  const call: Guard = (what, fn) =>
    retry(async () => {
      await ready(what);
      try {
        const result = await fn();
        outcome();
        return result;
      } catch (e) {
        outcome(e);
        throw e;
      }
    }, {
      ...deps.policy,
      clock: deps.clock,
      signal: deps.signal,
      isRetriable: retriable,
      onRetry: (e, attempt, delayMs) =>
        deps.log.warn(`${kind} call failed; retrying`, {
          what,
          attempt,
          delay_ms: delayMs,
          reason: e instanceof PluginError ? e.reason : undefined,
          error: errorText(e),
        }),
    });

  return { call, outcome, ready, health: () => breaker.health() };
}

/** The source with every call guarded; reads are checked and observed, not retried here. */
export function guardSource(source: Source, guard: Guarded): Source {
  return {
    discover: (signal) => guard.call("discovering tags", () => source.discover(signal)),
    serverTime: () => guard.call("reading the historian's clock", () => source.serverTime()),
    async *read(tags, window, options) {
      await guard.ready("reading history");
      try {
        yield* source.read(tags, window, options);
      } catch (e) {
        guard.outcome(e);
        throw e;
      }
      guard.outcome();
    },
    count: source.count &&
      ((tags, window, signal) =>
        guard.call(`counting ${tags.length} tags`, () => source.count!(tags, window, signal))),
    summaries: source.summaries &&
      ((tags, window, resolutionMs, signal) =>
        guard.call(
          `summarizing ${tags.length} tags`,
          () => source.summaries!(tags, window, resolutionMs, signal),
        )),
    close: () => source.close(),
  };
}

/** The sink with every call guarded, its capabilities too. */
export function guardSink(sink: Sink, guard: Guarded): Sink {
  const { state, queries } = sink;
  return {
    prepare: (model, pipeline) =>
      guard.call("preparing tables", () => sink.prepare(model, pipeline)),
    setAssets: (rows) => guard.call("writing the asset model", () => sink.setAssets(rows)),
    write: (batch, options) =>
      guard.call(`writing ${batch.readings.length} readings`, () => sink.write(batch, options)),
    commit: (unit) => guard.call("committing a unit", () => sink.commit(unit)),
    release: sink.release && ((unit) => sink.release!(unit)),
    state: state && {
      load: () => guard.call("reading pipeline state", () => state.load()),
      saveWatermarks: (m) => guard.call("saving watermarks", () => state.saveWatermarks(m)),
      saveRun: (r) => guard.call("saving a run record", () => state.saveRun(r)),
    },
    // Queries answer API clients now or not at all: no retries, no breaker.
    queries,
    explain: sink.explain,
    counts: sink.counts && {
      count: (tags, window) =>
        guard.call("counting stored readings", () => sink.counts!.count(tags, window)),
    },
    close: () => sink.close(),
  };
}
