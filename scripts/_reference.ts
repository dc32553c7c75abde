/**
 * Renders a zod schema as reference Markdown: one block per key, headed by its YAML path, with
 * its type, bounds, enum values, default, description and the environment variable the shipped
 * specs read it from. It reads the schema through its JSON Schema (`z.toJSONSchema`, the input
 * side, as editors see it), so it never branches on zod's own schema types; durations and sizes
 * are told apart by the registry their helpers declare them in (engine/spec/formats.ts).
 */
import { z } from "zod";
import { textFormats } from "../engine/spec/formats.ts";
import type { EnvRef } from "./_env_refs.ts";

/** The subset of JSON Schema that z.toJSONSchema emits for specs. */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  "x-format"?: string;
  "x-min"?: string;
}

/** The JSON Schema of `schema` as a spec's author writes it, durations and sizes marked. */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      for (let s: z.core.$ZodType | undefined = zodSchema; s; s = s._zod.parent) {
        const format = textFormats.get(s as z.ZodType);
        if (format) {
          jsonSchema["x-format"] = format.format;
          if (format.min) jsonSchema["x-min"] = format.min;
          return;
        }
      }
    },
  }) as JsonSchema;
}

/** A key's place: its YAML path (`<name>` for a map's keys, `[]` for a list's items). */
export type Path = string[];

/** What rendering needs besides the schema, and what it learns on the way. */
export interface RenderContext {
  refs: readonly EnvRef[];
  /** Plugin sections by dotted path (`source`): links to each plugin's own page. */
  pluginSections: ReadonlyMap<string, readonly PluginLink[]>;
  /** Dotted paths of keys without a description, in the order met. */
  undocumented: string[];
  /** The references some key matched, to report those none did. */
  matched: Set<EnvRef>;
  /** Each environment variable's keys, for the index: name → [page, dotted path]. */
  variables: Map<string, [string, string][]>;
  /** The page being rendered, for `variables`. */
  page: string;
}

export interface PluginLink {
  name: string;
  file: string;
  description: string;
}

/** `sink.clickhouse.embedded.port`, `summaries.cycles[].every`. */
export function dotted(path: Path): string {
  return path.join(".").replaceAll(".[]", "[]");
}

/**
 * The blocks of `node`'s keys under `path`, headed at `level` (nested keys at 3, their full path
 * in the heading), each followed by its children; `label` marks the shape of a union they are in.
 */
export function renderKeys(
  node: JsonSchema,
  path: Path,
  ctx: RenderContext,
  level: number,
  label = "",
): string[] {
  const out: string[] = [];
  const plugins = ctx.pluginSections.get(dotted(path));
  const pluginNames = new Set(plugins?.map((p) => p.name));
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    if (pluginNames.has(key)) continue;
    const required = (node.required ?? []).includes(key) && child.default === undefined;
    out.push(...renderKey(child, [...path, key], required, ctx, level, label));
  }
  return out;
}

function renderKey(
  node: JsonSchema,
  path: Path,
  required: boolean,
  ctx: RenderContext,
  level: number,
  label: string,
): string[] {
  const at = dotted(path);
  const lines = [`${"#".repeat(level)} ${code(at)}${label}`, ""];
  if (node.description) lines.push(prose(node.description), "");
  else ctx.undocumented.push(`${at}${label}`);
  const facts = [`- Type: ${[typeOf(node), ...bounds(node)].join(", ")}`];
  const values = node.enum ?? node.items?.enum;
  if (values) facts.push(`- Values: ${values.map((v) => code(String(v))).join(", ")}`);
  const map = mapValue(node);
  if (map && node.propertyNames?.pattern) {
    facts.push(`- Keys: ${bounds(node.propertyNames).join(", ")}`);
  }
  if (required) facts.push("- Required");
  else if (node.default === undefined) facts.push("- Optional");
  else if (!isEmptyObject(node.default)) {
    facts.push(`- Default: ${code(JSON.stringify(node.default))}`);
  }
  const plugins = ctx.pluginSections.get(at);
  if (plugins) {
    facts.push(
      "- Plugins, exactly one of:",
      ...[...plugins].sort((a, b) => a.name.localeCompare(b.name))
        .map((p) => `  - [${code(p.name)}](${p.file}): ${prose(p.description)}`),
    );
  }
  facts.push(...environment(path, ctx));
  const out = [[...lines, ...facts].join("\n")];

  const variants = objectVariants(node);
  if (node.properties) out.push(...renderKeys(node, path, ctx, 3, label));
  else if (map && isObjectLike(map)) {
    out.push(...renderNested(map, [...path, "<name>"], ctx, label));
  } else if (node.items && isObjectLike(node.items)) {
    out.push(...renderNested(node.items, [...path, "[]"], ctx, label));
  } else if (variants) out.push(...renderVariants(variants, path, ctx, label));
  return out;
}

/** The keys of a map's values or of a list's items (`<name>`, `[]` in their paths), by shape. */
function renderNested(node: JsonSchema, path: Path, ctx: RenderContext, label: string): string[] {
  if (node.properties) return renderKeys(node, path, ctx, 3, label);
  return renderVariants(objectVariants(node)!, path, ctx, label);
}

/** Each shape of a union of objects, its keys headed with the shape's label. */
function renderVariants(
  variants: JsonSchema[],
  path: Path,
  ctx: RenderContext,
  label: string,
): string[] {
  const discriminator = discriminatorOf(variants);
  return variants.flatMap((v, i) => {
    const own = v.description
      ? v.description
      : discriminator && v.properties?.[discriminator]?.const !== undefined
      ? `${discriminator}: ${String(v.properties[discriminator].const)}`
      : discriminator
      ? `${discriminator}: any other value`
      : `shape ${i + 1}`;
    return renderKeys(v, path, ctx, 3, `${label} (${prose(own)})`);
  });
}

/** A key present in every shape and a constant in at least one: `from` of tables. */
function discriminatorOf(variants: JsonSchema[]): string | undefined {
  const keys = Object.keys(variants[0]?.properties ?? {});
  return keys.find((k) =>
    variants.every((v) => v.properties?.[k]) &&
    variants.some((v) => v.properties?.[k]?.const !== undefined)
  );
}

function objectVariants(node: JsonSchema): JsonSchema[] | undefined {
  const variants = node.anyOf?.filter((v) => v.properties);
  return variants && variants.length > 0 ? variants : undefined;
}

function isObjectLike(node: JsonSchema): boolean {
  return node.properties !== undefined || objectVariants(node) !== undefined;
}

function mapValue(node: JsonSchema): JsonSchema | undefined {
  const ap = node.additionalProperties;
  return node.type === "object" && typeof ap === "object" ? ap : undefined;
}

/** `integer`, `duration`, `list of string`, `map of object`, `string or number`. */
export function typeOf(node: JsonSchema): string {
  if (node["x-format"]) return node["x-format"];
  if (node.const !== undefined) return `the value ${code(JSON.stringify(node.const))}`;
  if (node.anyOf) {
    const variants = node.anyOf.map((v) => v.properties ? "object" : typeOf(v));
    return orList([...new Set(variants)]);
  }
  if (Array.isArray(node.type)) return orList(node.type);
  if (node.type === "array") return `list of ${node.items ? typeOf(node.items) : "any"}`;
  const map = mapValue(node);
  if (map) return `map of ${typeOf(map)}`;
  return node.type ?? "any";
}

/** `a, b or c`. */
function orList(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/** The limits a value must keep: `from 1 to 65535`, `not empty`, `at least 1m`. */
export function bounds(node: JsonSchema): string[] {
  const out: string[] = [];
  const min = node.minimum !== undefined && node.minimum > -SAFE ? node.minimum : undefined;
  const max = node.maximum !== undefined && node.maximum < SAFE ? node.maximum : undefined;
  if (min !== undefined && max !== undefined) out.push(`from ${min} to ${max}`);
  else if (min !== undefined) out.push(`at least ${min}`);
  else if (max !== undefined) out.push(`at most ${max}`);
  if (node.exclusiveMinimum !== undefined) out.push(`more than ${node.exclusiveMinimum}`);
  if (node.exclusiveMaximum !== undefined) out.push(`less than ${node.exclusiveMaximum}`);
  if (node["x-min"]) out.push(`at least ${node["x-min"]}`);
  if (node.minLength === 1) out.push("not empty");
  else if (node.minLength !== undefined) out.push(`at least ${node.minLength} characters`);
  if (node.maxLength !== undefined) out.push(`at most ${node.maxLength} characters`);
  if (node.pattern !== undefined) out.push(`matching ${code(node.pattern)}`);
  if (node.minItems === 1) out.push("at least one item");
  else if (node.minItems !== undefined) out.push(`at least ${node.minItems} items`);
  if (node.maxItems !== undefined) out.push(`at most ${node.maxItems} items`);
  const each = node.items ? bounds(node.items) : [];
  if (each.length > 0) out.push(`each ${each.join(", ")}`);
  return out;
}

/** `- Read from VAR in file, file: ${VAR:-default}` lines for the key at `path`. */
function environment(path: Path, ctx: RenderContext): string[] {
  const byText = new Map<string, { names: string[]; files: string[] }>();
  for (const ref of ctx.refs) {
    if (!matches(path, ref.path)) continue;
    ctx.matched.add(ref);
    const entry = byText.get(ref.text) ?? { names: ref.names, files: [] };
    entry.files.push(ref.file);
    byText.set(ref.text, entry);
    for (const name of ref.names) {
      const keys = ctx.variables.get(name) ?? [];
      if (!keys.some(([page, at]) => page === ctx.page && at === dotted(path))) {
        keys.push([ctx.page, dotted(path)]);
      }
      ctx.variables.set(name, keys);
    }
  }
  return [...byText].sort(([a], [b]) => a.localeCompare(b)).map(([text, { names, files }]) =>
    `- Read from ${names.map(code).join(" and ")} in ${[...new Set(files)].sort().join(", ")}: ${
      code(text)
    }`
  );
}

function matches(pattern: Path, path: readonly (string | number)[]): boolean {
  return pattern.length === path.length && pattern.every((p, i) => {
    const segment = path[i];
    if (p === "[]") return typeof segment === "number";
    if (p === "<name>") return typeof segment === "string";
    return p === segment;
  });
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.keys(value).length === 0;
}

/** Text as an inline code span, fenced with enough backticks for what it holds. */
export function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A description as Markdown: its `code` kept, characters Markdown would take as markup escaped. */
export function prose(text: string): string {
  return text.split(/(`[^`]*`)/).map((part, i) =>
    i % 2 === 1 ? part : part.replace(/[\\*<]/g, (c) => `\\${c}`)
  ).join("").replace(/\s*\n\s*/g, " ");
}

/** The anchor GitHub gives a heading. */
export function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-");
}
