import assert from "node:assert/strict";
import { createLogger, errorText, redact } from "./log.ts";

function capture(secrets = new Set<string>(), format: "json" | "text" = "json") {
  const lines: string[] = [];
  const log = createLogger({
    format,
    secrets,
    write: (l) => lines.push(l),
    now: () => new Date(0),
  });
  return { log, lines };
}

Deno.test("redact() masks credentials inside URLs", () => {
  assert.equal(redact("redis://:pw@cache:6379/0"), "redis://:***@cache:6379/0");
  assert.equal(
    redact("see https://bob:s3cret@ch.example:8443/?x"),
    "see https://bob:***@ch.example:8443/?x",
  );
  assert.equal(redact("http://ch.example:8123"), "http://ch.example:8123");
});

Deno.test("logger masks registered secrets, secret-named fields and URL passwords", () => {
  const secrets = new Set(["Tr0ub4dor&3"]);
  const { log, lines } = capture(secrets);
  log.info("connecting with Tr0ub4dor&3", {
    password: "whatever",
    url: "redis://u:pw9@h:1",
    token: "t-123",
  });
  const line = lines[0]!;
  for (const leak of ["Tr0ub4dor&3", "whatever", "pw9", "t-123"]) {
    assert.ok(!line.includes(leak), line);
  }
  assert.deepEqual(JSON.parse(line), {
    time: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "connecting with ***",
    password: "***",
    url: "redis://u:***@h:1",
    token: "***",
  });
});

Deno.test("logger child lines carry the parent's fields and honour the level", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", level: "warn", write: (l) => lines.push(l) }).child({
    plugin: "x",
  });
  log.info("hidden");
  log.warn("shown", { n: 1 });
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]!).plugin, "x");
});

Deno.test("text lines are one line with quoted fields", () => {
  const { log, lines } = capture(new Set(), "text");
  log.warn("cache unavailable", { reason: "a b", n: 2 });
  assert.equal(lines[0], '00:00:00.000 WARN  cache unavailable  reason="a b" n=2');
});

Deno.test("errorText() joins causes without repeating them", () => {
  const inner = new Error("connect ECONNREFUSED 127.0.0.1:6379");
  const outer = new Error("Redis at 127.0.0.1:6379 failed: connect ECONNREFUSED 127.0.0.1:6379", {
    cause: inner,
  });
  assert.equal(
    errorText(outer),
    "Redis at 127.0.0.1:6379 failed: connect ECONNREFUSED 127.0.0.1:6379",
  );
  assert.equal(errorText(new Error("a", { cause: new Error("b") })), "a: b");
});

Deno.test("a text log line sets out a field of several lines as an indented block", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "text", write: (l) => lines.push(l) });
  log.error("tables differ", { error: "Plan: 1 change\n\n1. T: MODIFY TTL", table: "T" });
  assert.match(
    lines.join(""),
    /tables differ {2}table=T\n {2}error:\n {4}Plan: 1 change\n {4}\n {4}1\. T: MODIFY TTL/,
  );
});
