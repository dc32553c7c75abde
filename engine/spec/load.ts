/**
 * Loading a pipeline spec: YAML → `${VAR}` interpolation → validation of the whole document.
 * Every problem is collected (not only the first) and located: file, line, column and the YAML
 * path, e.g. `pipelines/wonderware.yaml:12:7 source.wonderware.port: expected a number, got "abc"`.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import type { ConfigIssue } from "../errors.ts";
import type { PluginDefinition, PluginKind } from "../plugin.ts";
import { contractIssues } from "./contract.ts";
import { interpolate } from "./interpolate.ts";
import { closest, issueMessage } from "./messages.ts";
import { specSchema } from "./schema.ts";
import type { PluginSectionInfo, SectionDefinition, Spec } from "./schema.ts";
import { shapeIssues, textOf } from "./tree.ts";

export interface LoadOptions {
  plugins: readonly PluginDefinition[];
  /** Top-level sections the engine does not own, such as the API's `api:`. */
  sections?: Readonly<Record<string, SectionDefinition>>;
  /** Environment for `${VAR}`; default: the process environment. */
  env?: (name: string) => string | undefined;
}

/** A validated spec and the plugin chosen for each kind, with its validated options. */
export interface LoadedSpec {
  file: string;
  spec: Spec;
  plugins: { [K in PluginKind]: { definition: PluginDefinition<K>; options: unknown } };
  /** A problem found later (`validate --connect`), placed at its YAML path like any other. */
  locate(path: (string | number)[], message: string): ConfigIssue;
  /**
   * How the user sets the value at a dotted YAML path: the environment variable it is read from
   * (`WONDERWARE_HOST` for `source.wonderware.host` in the shipped spec), else the path itself.
   */
  setting(path: string): string;
}

export async function loadSpec(file: string, options: LoadOptions): Promise<LoadedSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
    throw new ConfigError([{
      file,
      line: 1,
      col: 1,
      path: "",
      message: `cannot read the spec: ${reason}`,
    }]);
  }
  return parseSpec(text, file, options);
}

/** Parses spec text; `file` is only used in messages. Throws ConfigError with every problem. */
export function parseSpec(text: string, file: string, options: LoadOptions): LoadedSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lines.linePos(offset);
  const place = (path: (string | number)[], message: string): ConfigIssue => {
    const node = nearestNode(doc, path);
    return { file, ...at(node?.range?.[0] ?? 0), path: dotted(path), message };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.slice(0, 1).map((e) => ({
        file,
        ...at(e.pos[0]),
        path: "",
        message: /Maximum call stack/.test(e.message)
          ? `invalid YAML: nested too deeply (at most ${MAX_DEPTH} levels)`
          : `invalid YAML: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "")}`,
      })),
    );
  }
  if (doc.contents === null) {
    throw new ConfigError([{ file, line: 1, col: 1, path: "", message: "the spec is empty" }]);
  }
  const shape = shapeIssues(doc, { maxDepth: MAX_DEPTH, maxNodes: MAX_NODES });
  if (shape.length > 0) {
    throw new ConfigError(shape.map((p) => ({
      file,
      ...at(p.node.range?.[0] ?? 0),
      path: dotted(p.path),
      message: p.message,
    })));
  }

  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const variables = new Map<string, string[]>();
  const varIssues: ConfigIssue[] = interpolate(
    doc.contents,
    env,
    (path, names) => variables.set(dotted(path), names),
  ).map((p) => ({
    file,
    ...at(p.node.range?.[0] ?? 0),
    path: dotted(p.path),
    message: p.message,
  }));

  const extra = options.sections ?? {};
  const { schema, sections } = specSchema(options.plugins, extra);
  const input = doc.toJS({ maxAliasCount: -1 });
  let result = schema.safeParse(input, { reportInput: true });
  // A plain scalar YAML reads as a number or boolean (a password 007, a token true) is taken
  // as the text the user wrote wherever the schema wants text.
  if (!result.success && retext(result.error.issues, doc, input)) {
    result = schema.safeParse(input, { reportInput: true });
  }
  if (result.success && varIssues.length === 0) {
    const contract = contractIssues(
      result.data,
      pluginOf(options.plugins, "source", result.data.source.plugin),
      pluginOf(options.plugins, "sink", result.data.sink.plugin),
      extra,
    );
    if (contract.length > 0) {
      throw new ConfigError(dedupe(contract.map((i) => place(i.path, i.message))));
    }
  }
  if (!result.success || varIssues.length > 0) {
    // A value whose variable could not be resolved is reported once, for the variable.
    const unresolved = new Set(varIssues.map((i) => i.path));
    const located = (result.error?.issues ?? []).flatMap((issue) =>
      locate(issue, doc, file, at, sections, schema)
    );
    // "choose one source plugin" adds nothing next to "unknown source plugin".
    const unknownPlugin = new Set(
      located.filter((i) => i.message.startsWith("unknown ") && i.message.includes(" plugin "))
        .map((i) => i.path.split(".")[0]),
    );
    const issues = located.filter((i) =>
      !unresolved.has(i.path) && !(unknownPlugin.has(i.path) && i.message.startsWith("choose one"))
    );
    throw new ConfigError(dedupe([...varIssues, ...issues]));
  }

  const spec = result.data!;
  const pick = <K extends PluginKind>(kind: K) => ({
    definition: pluginOf(options.plugins, kind, spec[kind].plugin) as PluginDefinition<K>,
    options: spec[kind].options,
  });
  return {
    file,
    spec,
    plugins: { source: pick("source"), cache: pick("cache"), sink: pick("sink") },
    locate: place,
    setting: (path) => variables.get(path)?.join(", ") ?? path,
  };
}

/** Nesting deeper than this is refused before it can exhaust the stack. */
const MAX_DEPTH = 64;
/** Values, aliases expanded, a spec may hold: an alias bomb stops here. */
const MAX_NODES = 100_000;

function pluginOf(plugins: readonly PluginDefinition[], kind: PluginKind, name: string) {
  return plugins.find((p) => p.kind === kind && p.name === name)!;
}

/** Puts back the written text of scalars that YAML typed but the schema wants as text. */
function retext(issues: readonly z.core.$ZodIssue[], doc: Document, input: unknown): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== "invalid_type" || issue.expected !== "string") continue;
    const path = issue.path.map((p) => typeof p === "symbol" ? String(p) : p);
    const node = nearestNode(doc, path);
    const text = node && node === exactNode(doc, path) ? textOf(node) : undefined;
    if (text === undefined) continue;
    let parent = input as Record<string | number, unknown>;
    for (const segment of path.slice(0, -1)) parent = parent[segment] as typeof parent;
    parent[path.at(-1)!] = text;
    changed = true;
  }
  return changed;
}

type Pos = { line: number; col: number };

const SECRET_KEY = /pass(word)?|secret|token/i;

function locate(
  issue: z.core.$ZodIssue,
  doc: Document,
  file: string,
  at: (offset: number) => Pos,
  sections: Map<string, PluginSectionInfo>,
  schema: z.ZodType,
): ConfigIssue[] {
  const path = issue.path.map((p) => typeof p === "symbol" ? String(p) : p);
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    // Report the alternative that came closest: the one with the fewest problems.
    const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
    return best.flatMap((inner) =>
      locate(
        { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue,
        doc,
        file,
        at,
        sections,
        schema,
      )
    );
  }
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const node = keyNode(doc, [...path, key]) ?? nearestNode(doc, path);
      const section = sections.get(dotted(path));
      let message = `unknown key "${key}"`;
      if (section) {
        message = `unknown ${section.kind} plugin "${key}"; known ${section.kind} plugins: ${
          section.names.join(", ")
        }`;
      } else {
        const guess = closest(key, allowedKeys(schema, path));
        if (guess) message += ` (did you mean "${guess}"?)`;
      }
      return { file, ...at(node?.range?.[0] ?? 0), path: dotted([...path, key]), message };
    });
  }
  const node = nearestNode(doc, path);
  const secret = SECRET_KEY.test(String(path.at(-1) ?? ""));
  return [{
    file,
    ...at(node?.range?.[0] ?? 0),
    path: dotted(path),
    message: issueMessage(issue, secret),
  }];
}

/** The node at `path`, or its nearest existing ancestor (a missing key points at its map). */
function nearestNode(doc: Document, path: (string | number)[]): Node | undefined {
  let node: unknown = doc.contents;
  for (const segment of path) {
    const next = child(node, segment);
    if (next === undefined) break;
    node = next;
  }
  return node as Node | undefined;
}

function child(node: unknown, segment: string | number): unknown {
  if (isMap(node)) {
    return node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
      ?.value ?? undefined;
  }
  if (isSeq(node) && typeof segment === "number") return node.items[segment];
  return undefined;
}

/** The node at exactly `path`, or undefined. */
function exactNode(doc: Document, path: (string | number)[]): Node | undefined {
  let node: unknown = doc.contents;
  for (const segment of path) {
    node = child(node, segment);
    if (node === undefined) return undefined;
  }
  return node as Node;
}

/** The key node of the last path segment, to point at an unknown key itself. */
function keyNode(doc: Document, path: (string | number)[]): Node | undefined {
  const parent = nearestNode(doc, path.slice(0, -1));
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((p) =>
    isScalar(p.key) && String(p.key.value) === String(path.at(-1))
  );
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

/** Keys allowed at `path`, read from the JSON Schema so that no code inspects zod internals. */
function allowedKeys(schema: z.ZodType, path: (string | number)[]): string[] {
  let nodes: Record<string, unknown>[] = [
    z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }),
  ];
  for (const segment of path) {
    nodes = nodes.flatMap(expand).flatMap((n) => {
      const props = n.properties as Record<string, Record<string, unknown>> | undefined;
      if (typeof segment === "string" && props?.[segment]) return [props[segment]];
      if (typeof segment === "number" && n.items) return [n.items as Record<string, unknown>];
      return [];
    });
  }
  return nodes.flatMap(expand).flatMap((n) =>
    Object.keys((n.properties as object | undefined) ?? {})
  );
}

function expand(node: Record<string, unknown>): Record<string, unknown>[] {
  const variants = [node.anyOf, node.oneOf, node.allOf].flatMap((v) =>
    (v as Record<string, unknown>[]) ?? []
  );
  return [node, ...variants.flatMap(expand)];
}

function dotted(path: readonly (string | number)[]): string {
  return path.map((p, i) => typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`).join("");
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.line}:${i.col}:${i.path}:${i.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  }).sort((a, b) => a.line - b.line || a.col - b.col);
}
