import assert from "node:assert/strict";
import Module from "node:module";
import sql from "./_mssql.ts";
import { refusing } from "./_no_azure_identity.ts";

Deno.test("tedious loads without @azure/identity; an Azure AD login would refuse, saying why", () => {
  assert.equal(typeof sql.ConnectionPool, "function");
  const loaded = Object.keys((Module as unknown as { _cache: Record<string, unknown> })._cache);
  assert.ok(loaded.some((m) => /[\\/]tedious[\\/]/.test(m)), "tedious is loaded");
  assert.deepEqual(loaded.filter((m) => m.includes("@azure/identity")), []);
  for (const Credential of Object.values(refusing)) {
    assert.throws(() => new Credential(), /Azure AD logins are not offered .* use a SQL login/);
  }
});
