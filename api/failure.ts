/**
 * How a failed request is answered: by the reason the plugin gave (PluginError.reason), never by
 * the text of a dependency's message. What the client can fix is a 4xx; what only the operator
 * can fix is logged with its cause and answered without it.
 *
 * - timeout, or the request's own deadline → 504, naming the route's timeout;
 * - too_big (max_rows, max_bytes) → 422, naming the caps: the same request fails the same way;
 * - memory → 422 too, naming the route's max_memory. The per-query cap the route sets is what a
 *   heavy request meets first, and that request needs narrowing, not a retry; a 503 would invite
 *   retries that cannot succeed (the store's own total limit is the rare case, and the limiter
 *   keeps the number of queries bounded);
 * - connection, backpressure, not_configured, or a dependency marked unavailable → 503;
 * - auth, permission → 503, logged as an error: the API's store user lacks a login or a grant;
 * - protocol → 502: the store answered, but not as the store it should be;
 * - invalid → 500 "the route's SQL failed", logged with the store's reason;
 * - anything else → 500, logged.
 */
import { PluginError } from "../engine/errors.ts";
import type { Logger } from "../engine/log.ts";
import { errorText } from "../engine/log.ts";
import { DeadlineExceeded } from "./deadline.ts";
import type { RouteSpec } from "./spec.ts";

export interface Failure {
  status: 422 | 500 | 502 | 503 | 504;
  error: string;
}

/** The answer to a request that failed with `e`, logged where only the operator can act. */
export function failureOf(e: unknown, path: string, route: RouteSpec, log: Logger): Failure {
  const timedOut = {
    status: 504,
    error: `the query took longer than this route's timeout of ${route.timeout} ms`,
  } as const;
  if (e instanceof DeadlineExceeded) return timedOut;
  const reason = e instanceof PluginError ? e.reason : undefined;
  const fields = { route: path, reason, error: errorText(e) };
  switch (reason) {
    case "timeout":
      return timedOut;
    case "too_big":
      return {
        status: 422,
        error: `the result is larger than this route's cap of ${route.max_rows} rows or ${
          sizeText(route.max_bytes)
        }; narrow the query`,
      };
    case "memory":
      log.info("a query needed more memory than its route allows", fields);
      return {
        status: 422,
        error: `the query needs more memory than this route's cap of ${
          sizeText(route.max_memory)
        }; narrow the query`,
      };
    case "auth":
    case "permission":
      log.error(
        "the store refused the API's query: check the login and grants of the user the API's queries run as",
        fields,
      );
      return { status: 503, error: "the store refused the query; the operator is told why" };
    case "protocol":
      log.error("the store answered, but not as it should", fields);
      return { status: 502, error: "the store answered, but not as it should" };
    case "invalid":
      log.error("the route's SQL failed", fields);
      return { status: 500, error: "the route's SQL failed" };
  }
  if (
    e instanceof PluginError &&
    (e.unavailable || reason === "connection" || reason === "backpressure" ||
      reason === "not_configured")
  ) {
    log.warn("the store is unavailable", fields);
    return { status: 503, error: "the store is unavailable" };
  }
  log.error("API query failed", fields);
  return { status: 500, error: "the query failed" };
}

/** Bytes as a spec writes them: `64MB`, `1GB`, `1536KB`. */
export function sizeText(bytes: number): string {
  for (const [unit, size] of [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["KB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
