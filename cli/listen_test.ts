import assert from "node:assert/strict";
import { errorText } from "../engine/log.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "./_load.ts";
import { listen } from "./_listen.ts";

const ok = () => new Response("ok");

async function shippedSetting() {
  const vars: Record<string, string> = { WONDERWARE_HOST: "h", CLICKHOUSE_URL: "http://c:8123" };
  return (await loadSpec("pipelines/wonderware.yaml", { plugins, sections, env: (n) => vars[n] }))
    .setting;
}

Deno.test("listen() on a port in use names the address and API_PORT, and keeps the system's words", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  try {
    const setting = await shippedSetting();
    const error = (() => {
      try {
        listen({ hostname: "127.0.0.1", port, setting }, ok);
      } catch (e) {
        return e as Error;
      }
      assert.fail("expected the port to be refused");
    })();
    assert.equal(
      error.message,
      `Cannot serve the REST API at 127.0.0.1:${port}: the address is already in use (another historian-sync, a demo or another program listens there): stop it, or set API_PORT to a free port (e.g. API_PORT=${
        port + 1
      }; demo reads it too)`,
    );
    assert.match(errorText(error), /: Address already in use \(os error 98\)$/);
  } finally {
    held.close();
  }
});

Deno.test("listen() without variables names the spec's keys; an address not on this machine names the hostname", () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  try {
    assert.throws(
      () => listen({ hostname: "127.0.0.1", port }, ok),
      /stop it, or set api\.port to a free port \(e\.g\. api\.port: \d+; demo reads it too\)$/,
    );
  } finally {
    held.close();
  }
  assert.throws(
    () => listen({ hostname: "192.0.2.1", port: 0 }, ok),
    /^Error: Cannot serve the REST API at 192\.0\.2\.1:0: this machine has no such address: set api\.hostname to one of its own addresses/,
  );
});

Deno.test("listen() serves when the address is free", async () => {
  const server = listen({ hostname: "127.0.0.1", port: 0 }, ok, () => {});
  const response = await fetch(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`);
  assert.equal(await response.text(), "ok");
  await server.shutdown();
});
