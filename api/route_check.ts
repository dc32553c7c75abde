/**
 * `run` checks every route's SQL against the store before answering (as `validate --connect`
 * does, but in the pipeline's own database and as the user the API's queries run as): each
 * statement, with sample parameter values, is EXPLAINed. A route the store refuses (its SQL, or
 * the user's grants) answers 503 with the reason, which /health and the status route show too,
 * instead of failing every request. A store that cannot be asked (down, slow) proves nothing:
 * such a route is left to answer as usual, and the warning is logged. Checked once, at start.
 */
import { PluginError } from "../engine/errors.ts";
import type { Logger } from "../engine/log.ts";
import { errorText } from "../engine/log.ts";
import type { QueryService } from "../engine/plugin.ts";
import { routeStatements } from "./spec.ts";
import type { ApiSpec } from "./spec.ts";

/** Route path → why it cannot run. */
export type RouteProblems = ReadonlyMap<string, string>;

/** How long one EXPLAIN may take. */
const EXPLAIN_TIMEOUT_MS = 10_000;

export async function checkRoutes(
  api: ApiSpec,
  queries: QueryService,
  log: Logger,
  signal?: AbortSignal,
): Promise<RouteProblems> {
  const problems = new Map<string, string>();
  for (const { path, sql, params } of routeStatements(api)) {
    if (signal?.aborted) break; // stopping: what is left is not checked, and that is no news
    const route = String(path[2]);
    if (problems.has(route)) continue;
    const at = path.slice(3).join(".");
    try {
      await queries.query(`EXPLAIN ${sql}`, params, { timeoutMs: EXPLAIN_TIMEOUT_MS });
    } catch (e) {
      const reason = e instanceof PluginError ? e.reason : undefined;
      if (reason === "invalid" || reason === "permission" || reason === "auth") {
        const problem = `the store refuses its ${at}: ${errorText(e)}`;
        log.error("a route cannot run", { route, problem });
        problems.set(route, problem);
      } else if (!signal?.aborted) {
        log.warn("a route's SQL could not be checked against the store", {
          route,
          at,
          error: errorText(e),
        });
      }
    }
  }
  return problems;
}
