import assert from "node:assert/strict";
import { parseDocument } from "yaml";
import { interpolate } from "./interpolate.ts";

function resolve(yaml: string, vars: Record<string, string>) {
  const doc = parseDocument(yaml);
  const problems = interpolate(doc.contents, (n) => vars[n]);
  return { value: doc.toJS(), problems: problems.map((p) => `${p.path.join(".")}: ${p.message}`) };
}

Deno.test("interpolate() replaces variables and applies defaults when unset or empty", () => {
  const { value, problems } = resolve(
    "a: ${A}\nb: ${B:-fallback}\nc: ${C:-fallback}\nd: pre-${A}-post\ne: ${E:-}",
    { A: "x", C: "" },
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(value, { a: "x", b: "fallback", c: "fallback", d: "pre-x-post", e: "" });
});

Deno.test("interpolate() types a plain scalar that is one whole reference", () => {
  const { value } = resolve(
    "port: ${P:-1433}\non: ${ON}\nquoted: '${P:-1433}'\nmixed: ${P:-1433}s\nlist: ${L}",
    { ON: "true", L: "[1, 2]" },
  );
  assert.deepEqual(value, { port: 1433, on: true, quoted: "1433", mixed: "1433s", list: "[1, 2]" });
});

Deno.test("interpolate() keeps $${...} literal and never touches keys", () => {
  const { value } = resolve("${K}: $${NOT_A_VAR}", {});
  assert.deepEqual(value, { "${K}": "${NOT_A_VAR}" });
});

Deno.test("interpolate() reports missing variables and bad references with their paths", () => {
  const { problems } = resolve("a:\n  b: ${MISSING}\nlist: [ok, '${1BAD}']\nc: ${OPEN", {});
  assert.deepEqual(problems, [
    "a.b: environment variable MISSING is not set (write ${MISSING:-default} to give a default)",
    'list.1: invalid variable reference "${1BAD}": expected ${NAME}, ${NAME:-default} or ${NAME:?hint}',
    'c: unclosed variable reference in "${OPEN"',
  ]);
});

Deno.test("interpolate() ${NAME:?hint} requires the variable and says the hint", () => {
  const doc = parseDocument("a: ${NEEDED:?set it to the host}\nb: ${NEEDED:?x}-${OTHER:-d}\n");
  const problems = interpolate(doc.contents, (n) => ({ OTHER: "o" })[n]);
  assert.deepEqual(problems.map((p) => p.message), [
    "environment variable NEEDED is not set: set it to the host",
    "environment variable NEEDED is not set: x",
  ]);
  const ok = parseDocument("a: ${NEEDED:?hint}\n");
  assert.deepEqual(interpolate(ok.contents, () => "h"), []);
  assert.equal(ok.toJS().a, "h");
});

Deno.test("interpolate() tells which variables each value reads, set or not", () => {
  const doc = parseDocument(
    "host: ${HOST:?the host}\nport: ${PORT:-1433}\nurl: http://${A}:${B}/$${C}\nplain: 1\n",
  );
  const heard: string[] = [];
  interpolate(doc.contents, (n) => ({ HOST: "h", A: "a", B: "b" })[n], (path, names) => {
    heard.push(`${path.join(".")}: ${names.join(" ")}`);
  });
  assert.deepEqual(heard, ["host: HOST", "port: PORT", "url: A B"]);
});
