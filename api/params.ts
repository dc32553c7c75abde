/**
 * Route parameters: zod schemas derived from the declarations. Query strings arrive as text
 * (or several values for a repeated name); each parameter is read, checked and converted to
 * the value its ClickHouse placeholder expects. Problems are data: `{ path, message }`.
 */
import { z } from "zod";
import type { ParamSpec } from "./spec.ts";

export type ParamValue = string | number | boolean | string[];

/** The range of ClickHouse's DateTime64, in ms since 1970: timestamps outside it are refused. */
export const MIN_TIME_MS = Date.UTC(1900, 0, 1);
export const MAX_TIME_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);

function scalar(declared: ParamSpec, name: string) {
  return z.array(z.string()).transform((values, ctx) => {
    if (values.length > 1) {
      ctx.addIssue({ code: "custom", message: `expected one value, got ${values.length}` });
      return z.NEVER;
    }
    return values[0]!;
  }).pipe(valueSchema(declared, name));
}

function valueSchema(p: ParamSpec, name: string): z.ZodType<ParamValue, string> {
  switch (p.type) {
    case "string": {
      let s: z.ZodType<string, string> = z.string().max(
        p.max ?? 10_000,
        `must be at most ${p.max ?? 10_000} characters`,
      );
      if (p.enum) {
        const allowed = p.enum;
        s = z.string().refine((v) => allowed.includes(v), {
          message: `expected one of ${allowed.join(", ")}`,
        });
      }
      return s;
    }
    case "int":
    case "float":
      return z.string().transform((text, ctx) => {
        const ok = p.type === "int"
          ? /^-?\d{1,16}$/.test(text)
          : /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text);
        const n = Number(text);
        if (!ok || !Number.isFinite(n) || (p.type === "int" && !Number.isSafeInteger(n))) {
          ctx.addIssue({
            code: "custom",
            message: `expected ${p.type === "int" ? "an integer" : "a number"}, got ${
              JSON.stringify(text.slice(0, 40))
            }`,
          });
          return z.NEVER;
        }
        if (p.min !== undefined && n < p.min) {
          ctx.addIssue({ code: "custom", message: `must be at least ${p.min}` });
        }
        if (p.max !== undefined && n > p.max) {
          ctx.addIssue({ code: "custom", message: `must be at most ${p.max}` });
        }
        return n;
      });
    case "bool":
      return z.string().transform((text, ctx) => {
        const v = { true: true, false: false, "1": true, "0": false }[text.toLowerCase()];
        if (v === undefined) {
          ctx.addIssue({
            code: "custom",
            message: `expected true or false, got ${JSON.stringify(text.slice(0, 40))}`,
          });
          return z.NEVER;
        }
        return v;
      });
    case "timestamp":
      return z.string().transform((text, ctx) => {
        const ms = /^-?\d{1,15}$/.test(text)
          ? Number(text)
          : /^\d{4}-\d{2}-\d{2}/.test(text)
          ? Date.parse(text)
          : NaN;
        if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
          ctx.addIssue({
            code: "custom",
            message: `expected milliseconds since 1970 or an ISO 8601 time, got ${
              JSON.stringify(text.slice(0, 40))
            }`,
          });
          return z.NEVER;
        }
        if (ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
          ctx.addIssue({
            code: "custom",
            message:
              "must be between 1900-01-01T00:00:00Z and 2299-12-31T23:59:59.999Z (what ClickHouse's DateTime64 holds)",
          });
          return z.NEVER;
        }
        return ms;
      });
    default:
      throw new Error(`${name}: unknown parameter type`);
  }
}

function listSchema(p: ParamSpec) {
  return z.array(z.string()).transform((values, ctx) => {
    const items = values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
    if (p.min !== undefined && items.length < p.min) {
      ctx.addIssue({ code: "custom", message: `needs at least ${p.min} item(s)` });
    }
    if (p.max !== undefined && items.length > p.max) {
      ctx.addIssue({ code: "custom", message: `takes at most ${p.max} items` });
    }
    if (items.some((i) => i.length > 1_000)) {
      ctx.addIssue({ code: "custom", message: "an item is longer than 1000 characters" });
    }
    return items;
  });
}

/** The zod schema of a route's query: each declared parameter, required or optional. */
export function paramsSchema(params: Record<string, ParamSpec>) {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, p] of Object.entries(params)) {
    const base = p.type === "string_list" ? listSchema(p) : scalar(p, name);
    shape[name] = p.required && p.default === undefined ? base : base.optional();
  }
  return z.object(shape);
}

/** Declared defaults, as a query string would carry them. */
function withDefaults(params: Record<string, ParamSpec>, query: Record<string, string[]>) {
  const out: Record<string, string[]> = {};
  for (const [name, p] of Object.entries(params)) {
    const given = query[name];
    if (given !== undefined) out[name] = given;
    else if (p.default !== undefined) {
      out[name] = Array.isArray(p.default) ? p.default : [String(p.default)];
    }
  }
  return out;
}

export interface Issue {
  path: string;
  message: string;
}

/** Reads a query (name → values) against the declarations. */
export function readParams(
  params: Record<string, ParamSpec>,
  query: Record<string, string[]>,
): { values: Record<string, ParamValue | undefined> } | { issues: Issue[] } {
  const issues: Issue[] = [];
  for (const name of Object.keys(query)) {
    if (!(name in params)) {
      issues.push({
        path: name,
        message: `unknown parameter; known: ${Object.keys(params).join(", ") || "none"}`,
      });
    }
  }
  const result = paramsSchema(params).safeParse(withDefaults(params, query));
  if (!result.success) {
    for (const i of result.error.issues) {
      const path = String(i.path[0] ?? "");
      issues.push({
        path,
        message: i.code === "invalid_type" && i.input === undefined ? "is required" : i.message,
      });
    }
  }
  if (issues.length > 0) return { issues };
  return { values: result.data as Record<string, ParamValue | undefined> };
}
