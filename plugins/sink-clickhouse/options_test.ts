import assert from "node:assert/strict";
import { options } from "./options.ts";

/** The messages the options schema gives for `sink.clickhouse`, by key. */
function problems(input: Record<string, unknown>): string[] {
  const result = options.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

Deno.test("options: http and https URLs the ClickHouse client takes are accepted", () => {
  for (
    const url of [
      "http://ch.example:8123",
      "https://ch.example:8443/",
      "http://writer:s3cret@127.0.0.1:8123",
      "http://[::1]:8123",
      "https://proxy.example/?pathname=/clickhouse/",
      "http://ch:8123?ch_max_threads=2&http_header_X-Team=plant&request_timeout=30000",
    ]
  ) {
    assert.deepEqual(problems({ url }), [], url);
  }
});

Deno.test("options: a URL without a scheme names the fix", () => {
  assert.deepEqual(problems({ url: "ch.example:8123" }), [
    'url: "ch.example:8123" has no scheme: write "http://ch.example:8123", or https:// for TLS',
  ]);
  assert.deepEqual(problems({ url: "127.0.0.1:8123" }), [
    'url: "127.0.0.1:8123" has no scheme: write "http://127.0.0.1:8123", or https:// for TLS',
  ]);
});

Deno.test("options: a URL's credentials never appear in a message", () => {
  const [message] = problems({ url: "writer:s3cret@ch.example:8123" });
  assert.equal(message, "url: the URL has no scheme: start it with http://, or https:// for TLS");
  for (const url of ["http://writer:s3cret@ch:8123/db", "http://writer:s3cret@ch:8123?nope=1"]) {
    const [m] = problems({ url });
    assert.ok(m && !m.includes("s3cret"), String(m));
  }
});

Deno.test("options: what the ClickHouse client refuses or misreads in a URL is refused", () => {
  assert.deepEqual(problems({ url: "tcp://ch.example:9000" }), [
    "url: the sink speaks ClickHouse's HTTP interface, not tcp: use http:// (port 8123) or https:// (port 8443)",
  ]);
  assert.deepEqual(problems({ url: "http://" }), [
    'url: "http://" is not a URL: write it as http://host:8123, or https://host:8443 for TLS',
  ]);
  assert.deepEqual(problems({ url: "http://ch:8123/analytics" }), [
    'url: the path "/analytics" would be taken for a database by the ClickHouse client; set database (CLICKHOUSE_DB) instead, or ?pathname=... for a proxy\'s path',
  ]);
  assert.deepEqual(problems({ url: "http://ch:8123?database=x" }), [
    'url: unknown URL parameter "database": the ClickHouse client takes application, pathname, request_timeout, max_open_connections, compression_request, compression_response, log_level, keep_alive_enabled, keep_alive_idle_socket_ttl, ch_<setting> and http_header_<name>',
  ]);
  assert.deepEqual(problems({ url: "https://ch:8443?access_token=abc" }), [
    "url: access_token is not supported: the sink signs in with user and password",
  ]);
  assert.deepEqual(problems({ url: "http://ch:8123?session_id=s1" }), [
    "url: session_id is not supported: the sink sends requests in parallel, which one session refuses",
  ]);
});

Deno.test("options: host is a host name, without scheme or port", () => {
  for (const host of ["ch.example", "127.0.0.1", "[::1]"]) assert.deepEqual(problems({ host }), []);
  assert.deepEqual(problems({ host: "http://ch.example:8123" }), [
    "host: is a URL, not a host name: set url (CLICKHOUSE_URL) to it",
  ]);
  assert.deepEqual(problems({ host: "ch.example:9000" }), [
    "host: holds a port: set port (CLICKHOUSE_PORT) instead",
  ]);
  assert.deepEqual(problems({ host: "::1" }), [
    "host: an IPv6 address goes in brackets, e.g. [::1]",
  ]);
  assert.deepEqual(problems({ host: "ch example" }), ["host: is not a host name"]);
});
