/**
 * Ctrl-C (SIGINT) and SIGTERM for commands that run a pipeline. The first says it is stopping
 * and aborts the run, which stops at the next batch boundary (engine/pool.ts): the batch in
 * hand is written, units in flight are not committed and are read again by the next run, so
 * nothing is lost. A second says what exiting at once would cost; a third exits at once.
 */
import type { Logger } from "../engine/log.ts";
import type { Progress } from "../engine/progress.ts";

export interface StopOptions {
  /** The run in progress, if any (the health's live view). */
  current?: () => Progress | undefined;
  /** Exits the process (tests pass their own). */
  exit?: (code: number) => void;
}

/** Listens for SIGINT and SIGTERM until the returned function is called. */
export function stopOnSignals(stop: AbortController, log: Logger, options: StopOptions = {}) {
  const signals = ["SIGINT", "SIGTERM"] as const;
  const handle = stopper(stop, log, options);
  const listeners = signals.map((s) => [s, () => handle(s)] as const);
  for (const [signal, fn] of listeners) Deno.addSignalListener(signal, fn);
  return () => {
    for (const [signal, fn] of listeners) Deno.removeSignalListener(signal, fn);
  };
}

/** What each signal does, by how many came before it. */
export function stopper(stop: AbortController, log: Logger, options: StopOptions = {}) {
  let signals = 0;
  return (signal: string) => {
    signals++;
    if (signals === 1) {
      log.info(
        "stopping: finishing the batch in hand, then closing; units not yet committed are read " +
          "again by the next run, nothing is lost (Ctrl-C again to hear what exiting at once costs)",
        { signal },
      );
      stop.abort(new Error(`stopping on ${signal}`));
      return;
    }
    if (signals === 2) {
      log.warn(
        `still stopping; ${signal} once more exits at once: that loses ${
          atStake(options.current?.())
        }`,
        { signal },
      );
      return;
    }
    log.error("exiting at once, without closing", { signal });
    (options.exit ?? Deno.exit)(130);
  };
}

/** What an exit now would lose of the run in progress, beyond what stopping gives up anyway. */
export function atStake(p: Progress | undefined): string {
  const always = "the run's record and report, and cuts the store's writes in flight (the next " +
    "run writes them again, exactly once)";
  if (!p || p.running === 0) return always;
  const read = p.rowsInFlight.toLocaleString("en-US");
  return `${always}; the ${p.running} ${p.running === 1 ? "unit" : "units"} in flight ` +
    `(${read} readings not committed) are read again by the next run either way`;
}
