/**
 * A request's deadline. A route's timeout holds end to end: the wait for a query slot, every
 * query, and the store's work, which is cancelled when the deadline passes or the client goes
 * (the signal reaches the query capability, which closes its request to the store). The handler
 * stops waiting at once too, so the 504 comes within the timeout even where a plugin is slow to
 * give up.
 */

/** Why a request's signal aborted: its timeout passed, or its client went away. */
export class DeadlineExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeadlineExceeded";
  }
}

export interface Deadline {
  /** Aborts at the deadline or when the client goes, with a DeadlineExceeded. */
  signal: AbortSignal;
  /** Stops the timer; call it once the request is answered. */
  clear(): void;
}

export function deadline(timeoutMs: number, client?: AbortSignal): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DeadlineExceeded(`the timeout of ${timeoutMs} ms passed`)),
    timeoutMs,
  );
  const onGone = () =>
    controller.abort(new DeadlineExceeded("the client closed the request before its answer"));
  if (client?.aborted) onGone();
  else client?.addEventListener("abort", onGone, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      client?.removeEventListener("abort", onGone);
    },
  };
}

/** What `work` settles with, or the signal's reason as soon as it aborts. */
export function within<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
