/**
 * Every bad spec under tests/fixtures/bad/ is rejected with exactly the lines in its .errors
 * file: the messages users read are pinned, position and wording.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../engine/errors.ts";
import { loadSpec } from "../engine/spec/load.ts";
import { plugins } from "../plugins/registry.ts";
import { sections } from "../cli/_load.ts";

const DIR = "tests/fixtures/bad";
const env = (name: string) => ({ BAD_NUMBER: "many" } as Record<string, string>)[name];

const fixtures = [...Deno.readDirSync(DIR)].filter((e) => e.name.endsWith(".yaml")).map((e) =>
  e.name
).sort();

Deno.test("there are at least 15 bad spec fixtures, each with its expected errors", () => {
  assert.ok(fixtures.length >= 15, `only ${fixtures.length} fixtures`);
});

for (const name of fixtures) {
  Deno.test(`bad spec ${name} is rejected with its pinned error lines`, async () => {
    const file = `${DIR}/${name}`;
    const expected = (await Deno.readTextFile(file.replace(/\.yaml$/, ".errors"))).trimEnd();
    const error = await loadSpec(file, { plugins, sections, env }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ConfigError, `${name} was accepted`);
    assert.equal(error.message, expected);
  });
}
