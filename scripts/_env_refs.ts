/**
 * Where the shipped specs read each value from the environment: every `${VAR}`,
 * `${VAR:-default}` and `${VAR:?hint}` in pipelines/, by YAML path, as the engine's own
 * interpolation finds them (engine/spec/interpolate.ts), so the reference can say "read from
 * WONDERWARE_HOST in pipelines/wonderware.yaml".
 */
import { isScalar, parseDocument } from "yaml";
import { interpolate } from "../engine/spec/interpolate.ts";

/** One value of one shipped spec that is read from the environment. */
export interface EnvRef {
  file: string;
  /** The YAML path, record keys and list indexes included. */
  path: (string | number)[];
  /** The variables it reads, in order. */
  names: string[];
  /** The value as written, a `:?` hint shortened to `…`. */
  text: string;
}

/** The references of one spec's text (`file` only names it). */
export function envRefs(text: string, file: string): EnvRef[] {
  const written = parseDocument(text);
  const refs: EnvRef[] = [];
  interpolate(parseDocument(text).contents, () => undefined, (path, names) => {
    const node = written.getIn(path, true);
    const value = isScalar(node) ? String(node.value) : "";
    refs.push({ file, path, names, text: value.replace(/(\$\{\w+:\?)[^}]*\}/g, "$1…}") });
  });
  return refs;
}

/** The YAML files under `dir` (pipelines/), sorted, as paths relative to the working directory. */
export async function specFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await specFiles(path));
    else if (/\.ya?ml$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}

/** The references of every shipped spec under `dir`. */
export async function shippedEnvRefs(dir = "pipelines"): Promise<EnvRef[]> {
  const refs: EnvRef[] = [];
  for (const file of await specFiles(dir)) {
    refs.push(...envRefs(await Deno.readTextFile(file), file));
  }
  return refs;
}
