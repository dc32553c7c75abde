/**
 * The product as one composition: the engine, the plugins of this build and the API's spec
 * section. Commands, tests and benches load specs through here.
 */
import { loadSpec, parseSpec } from "../engine/spec/load.ts";
import type { LoadedSpec } from "../engine/spec/load.ts";
import { specSchema } from "../engine/spec/schema.ts";
import { apiSection } from "../api/spec.ts";
import { plugins } from "../plugins/registry.ts";

export const sections = { api: apiSection };

/** Loads and checks a spec file with this build's plugins and sections. */
export function load(
  file: string,
  env?: (name: string) => string | undefined,
): Promise<LoadedSpec> {
  return loadSpec(file, { plugins, sections, env });
}

/** Parses spec text (`file` only names it in messages). */
export function parse(
  text: string,
  file: string,
  env?: (name: string) => string | undefined,
): LoadedSpec {
  return parseSpec(text, file, { plugins, sections, env });
}

/** The root schema of specs for this build. */
export function schema() {
  return specSchema(plugins, sections).schema;
}
