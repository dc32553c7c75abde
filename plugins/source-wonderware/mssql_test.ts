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

Deno.test("a process with the plugins registered but no Wonderware source loads no SQL Server driver", async () => {
  const probe = `import Module from "node:module";
await import(${JSON.stringify(new URL("../../cli/mod.ts", import.meta.url).href)});
const loaded = Object.keys(Module._cache).filter((m) => /[\\\\/](mssql|tedious)[\\\\/]/.test(m));
console.log(loaded.length);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", probe],
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "0");
});
