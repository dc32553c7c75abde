/**
 * The spec's contract with its plugins, checked without connecting: every `fields.<name>` a
 * table stores is a field the configured source declares, the sink offers the capabilities the
 * spec needs (pipeline state to run, queries for API routes), and the sink accepts the storage
 * model in its own terms (column types, expressions, and whether each column can hold what its
 * `value:` delivers: values.ts). What passes here, `run` can do.
 */
import type { ModelIssue, PluginDefinition } from "../plugin.ts";
import { closest } from "./messages.ts";
import type { SectionDefinition, Spec } from "./schema.ts";
import { isReadingsTable } from "./storage.ts";
import { readingValues } from "./values.ts";

export function contractIssues(
  spec: Spec,
  source: PluginDefinition,
  sink: PluginDefinition,
  sections: Readonly<Record<string, SectionDefinition>>,
): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const provides = new Set(sink.provides ?? []);
  if (!provides.has("state")) {
    issues.push({
      path: ["sink", sink.name],
      message:
        `the ${sink.name} sink keeps no pipeline state (watermarks, finished units), which a pipeline needs to run`,
    });
  }
  for (const [key, section] of Object.entries(sections)) {
    if (spec[key] === undefined) continue;
    for (const need of section.needs?.(spec[key]) ?? []) {
      if (!provides.has(need)) {
        issues.push({
          path: [key],
          message: `needs a sink that answers ${
            need === "query" ? "queries" : need
          }; the ${sink.name} sink does not`,
        });
      }
    }
  }
  issues.push(...fieldIssues(spec, source));
  issues.push(
    ...(sink.checkModel?.(spec, readingValues(source.fields ?? {}), spec.sink.options) ?? []),
  );
  return issues;
}

function fieldIssues(spec: Spec, source: PluginDefinition): ModelIssue[] {
  const fields = source.fields ?? {};
  const names = Object.keys(fields);
  const issues: ModelIssue[] = [];
  for (const [tableName, table] of Object.entries(spec.tables)) {
    if (!isReadingsTable(table)) continue;
    for (const [column, c] of Object.entries(table.columns)) {
      if (!c.value.startsWith("fields.")) continue;
      const field = c.value.slice("fields.".length);
      if (field in fields) {
        if (c.stored === "per_batch" && fields[field]!.per !== "batch") {
          issues.push({
            path: ["tables", tableName, "columns", column, "stored"],
            message: `the ${source.name} source's field "${field}" varies per ${
              fields[field]!.per
            }: only a field that is the same for a whole batch can be stored per batch`,
          });
        }
        continue;
      }
      const guess = closest(field, names);
      issues.push({
        path: ["tables", tableName, "columns", column, "value"],
        message: `the ${source.name} source provides no field "${field}"` +
          (guess
            ? ` (did you mean "fields.${guess}"?)`
            : names.length
            ? `; its fields: ${names.join(", ")}`
            : "; it provides no fields"),
      });
    }
  }
  // The summaries read per-tag fields: the interpolation and the integral divisor.
  for (const key of ["interpolation", "integral_divisor"] as const) {
    const ref = spec.summaries?.[key];
    if (ref === undefined) continue;
    const field = ref.slice("fields.".length);
    const declared = fields[field];
    if (declared?.per === "tag") continue;
    const guess = closest(field, names);
    issues.push({
      path: ["summaries", key],
      message: declared
        ? `the ${source.name} source's field "${field}" varies per ${declared.per}, not per tag`
        : `the ${source.name} source provides no field "${field}"` +
          (guess ? ` (did you mean "fields.${guess}"?)` : ""),
    });
  }
  return issues;
}
