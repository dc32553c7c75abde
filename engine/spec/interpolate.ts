/**
 * `${VAR}`, `${VAR:-default}` and `${VAR:?hint}` in spec values, resolved on the YAML tree before
 * validation so every problem keeps its position. `${VAR:?hint}` requires VAR to be set and not
 * empty, and says `hint` when it is not. `$${...}` stands for a literal `${...}`.
 *
 * A plain (unquoted) scalar that is exactly one reference takes the type of what it resolves
 * to: `port: ${WONDERWARE_PORT:-1433}` is the number 1433, as if it had been written inline.
 * Quoted scalars always stay text. Keys are never interpolated.
 */
import { isMap, isScalar, isSeq, parse, Scalar } from "yaml";
import type { Node } from "yaml";

/** The text a scalar resolved to, before it was retyped (a password that reads as a number). */
export const resolvedText = new WeakMap<Scalar, string>();

export interface InterpolationProblem {
  node: Node;
  path: (string | number)[];
  message: string;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Resolves every reference in place and returns the problems; `onReference` hears, for each
 * value that holds references, its path and the variables it reads (where a message tells the
 * user to set a value, it can name the variable).
 */
export function interpolate(
  root: Node | null,
  env: (name: string) => string | undefined,
  onReference?: (path: (string | number)[], names: string[]) => void,
): InterpolationProblem[] {
  const problems: InterpolationProblem[] = [];
  walk(root, [], (scalar, path) => {
    if (typeof scalar.value !== "string" || !scalar.value.includes("${")) return;
    const source = scalar.value;
    const names = variableNames(source);
    if (names.length > 0) onReference?.(path, names);
    const result = substitute(source, env);
    if ("problem" in result) {
      problems.push({ node: scalar, path, message: result.problem });
      return;
    }
    const whole = /^\$\{[^}]*\}$/.test(source);
    resolvedText.set(scalar, result.text);
    scalar.value = whole && scalar.type === Scalar.PLAIN ? retype(result.text) : result.text;
  });
  return problems;
}

function walk(
  node: unknown,
  path: (string | number)[],
  visit: (scalar: Scalar, path: (string | number)[]) => void,
) {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      walk(pair.value, [...path, key], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item, [...path, i], visit));
  } else if (isScalar(node)) {
    visit(node, path);
  }
}

function substitute(
  text: string,
  env: (name: string) => string | undefined,
): { text: string } | { problem: string } {
  let problem: string | undefined;
  const out = text.replace(REFERENCE, (match, body: string | undefined) => {
    if (match === "$${") return "${";
    if (problem) return "";
    const sep = /:[-?]/.exec(body!)?.index ?? -1;
    const name = sep === -1 ? body! : body!.slice(0, sep);
    if (!NAME.test(name)) {
      problem =
        `invalid variable reference "${match}": expected \${NAME}, \${NAME:-default} or \${NAME:?hint}`;
      return "";
    }
    const value = env(name);
    const unset = value === undefined || value === "";
    if (sep !== -1 && body![sep + 1] === "?") {
      if (unset) {
        problem = `environment variable ${name} is not set: ${body!.slice(sep + 2).trim()}`;
      }
      return value ?? "";
    }
    if (sep !== -1) return unset ? body!.slice(sep + 2) : value;
    if (value === undefined) {
      problem =
        `environment variable ${name} is not set (write \${${name}:-default} to give a default)`;
      return "";
    }
    return value;
  });
  if (!problem && text.replace(REFERENCE, "").includes("${")) {
    problem = `unclosed variable reference in ${JSON.stringify(text)}`;
  }
  return problem ? { problem } : { text: out };
}

/** The variables a value reads, in order, each once; `$${...}` reads none. */
function variableNames(text: string): string[] {
  const names = [...text.matchAll(REFERENCE)].flatMap(([match, body]) =>
    match === "$${" ? [] : [body!.split(/:[-?]/)[0]!]
  );
  return [...new Set(names.filter((n) => NAME.test(n)))];
}

/** Reads resolved text as a YAML plain scalar would be read: numbers, booleans, null. */
function retype(text: string): unknown {
  if (text === "") return "";
  try {
    const value = parse(text);
    return value === null || ["number", "boolean"].includes(typeof value) ? value : text;
  } catch {
    return text;
  }
}
