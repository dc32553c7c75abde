/**
 * ClickHouse's HTTP sessions, as far as the embedded store keeps them: a `session_id` keeps the
 * `SET`s and the `USE` of its requests until `session_timeout` seconds (default 60, at most
 * 3600) pass without one, and they apply to its later requests as per-query settings, so the
 * engine's one connection never holds them. Temporary tables are refused by the policy (the
 * engine would keep them for everyone). `session_check=1` on an unknown session is ClickHouse's
 * SESSION_NOT_FOUND; `close_session=1` ends it after the request.
 */
import { setPairs } from "./_policy.ts";
import { nameOf, SqlError, tokens } from "./_sql.ts";
import type { StatementInfo } from "./_sql.ts";

export interface Session {
  id: string;
  settings: [string, string][];
  database?: string;
  expires: number;
  timeoutMs: number;
}

const MAX_SESSIONS = 1000;

export function createSessions(now: () => number = Date.now) {
  const open = new Map<string, Session>();

  function sweep() {
    const t = now();
    for (const [id, s] of open) if (s.expires <= t) open.delete(id);
  }

  return {
    /** The request's session, created unless `session_check=1`; undefined without session_id. */
    open(url: URL): Session | undefined {
      const id = url.searchParams.get("session_id");
      if (id === null || id === "") return undefined;
      sweep();
      const timeout = Number(url.searchParams.get("session_timeout") ?? "60");
      if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) {
        throw new SqlError(
          115,
          `Invalid session timeout "${
            url.searchParams.get("session_timeout")
          }": from 1 to 3600 seconds`,
          "INVALID_SESSION_TIMEOUT",
        );
      }
      let session = open.get(id);
      if (!session) {
        if (url.searchParams.get("session_check") === "1") {
          throw new SqlError(372, `Session ${id} not found`, "SESSION_NOT_FOUND");
        }
        if (open.size >= MAX_SESSIONS) {
          throw new SqlError(
            202,
            `Too many sessions open (${MAX_SESSIONS})`,
            "TOO_MANY_SIMULTANEOUS_QUERIES",
          );
        }
        session = { id, settings: [], expires: 0, timeoutMs: timeout * 1000 };
        open.set(id, session);
      }
      session.timeoutMs = timeout * 1000;
      session.expires = now() + session.timeoutMs;
      return session;
    },
    /** Keeps a SET's settings (later values replace earlier ones) or a USE's database. */
    remember(session: Session, info: StatementInfo) {
      const toks = tokens(info.text);
      if (info.keyword === "USE") {
        const db = toks[1];
        if (db) session.database = nameOf(db);
        return;
      }
      for (const [name, value] of setPairs(toks)) {
        session.settings = session.settings.filter(([n]) => n !== name);
        session.settings.push([name, value]);
      }
    },
    close(session: Session) {
      open.delete(session.id);
    },
  };
}
