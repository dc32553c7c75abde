import assert from "node:assert/strict";
import { classify } from "./mod.ts";

const at = "127.0.0.1:5432/ignition";

Deno.test("classify(): a connection lost mid-query is retried, SQL errors and refused logins are not", () => {
  const cases: [{ code?: string; message: string }, boolean, string][] = [
    // PostgreSQL restarting under a running query: the next write finds the socket ended
    [
      { code: "EPIPE", message: "This socket has been ended by the other party" },
      true,
      "connection",
    ],
    [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:5432" }, true, "connection"],
    [{ code: "CONNECTION_CLOSED", message: "write CONNECTION_CLOSED" }, true, "connection"],
    [
      { code: "57P01", message: "terminating connection due to administrator command" },
      true,
      "connection",
    ],
    [{ code: "42P01", message: 'relation "sqlt_data_1_2024_01" does not exist' }, false, "invalid"],
    [{ code: "28P01", message: "password authentication failed" }, false, "auth"],
  ];
  for (const [error, retriable, reason] of cases) {
    const e = classify("reading history", Object.assign(new Error(error.message), error), at);
    assert.equal(e.retriable, retriable, error.message);
    assert.equal(e.reason, reason, error.message);
  }
});
