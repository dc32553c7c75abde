/** The OpenAPI 3.1 document of the API, generated from the same declarations as the routes. */
import type { ApiSpec, ColumnSpec, ParamSpec, RouteSpec } from "./spec.ts";

/** `getConsumptionWonderwareStatus` for `/consumption/wonderware_status`. */
export function operationId(path: string): string {
  return "get" +
    path.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join("");
}

/** The first sentence of a description, whole (a summary is never cut mid-sentence). */
function summaryOf(description: string): string {
  const text = description.replace(/\s+/g, " ").trim();
  const end = text.search(/[.!?](\s|$)/);
  return end === -1 ? text : text.slice(0, end + 1);
}

function columnSchema(c: ColumnSpec): Record<string, unknown> {
  const type = c.type === "time" ? "string" : c.type;
  return {
    type: c.nullable ? [type, "null"] : type,
    ...(c.type === "time" ? { format: "date-time" } : {}),
    ...(c.type === "array" ? { items: { type: "object" } } : {}),
    ...(c.description ? { description: c.description } : {}),
  };
}

/** The schema of a route's 200 response, typed from its declared columns where it has them. */
function responseSchema(route: RouteSpec): Record<string, unknown> {
  if (route.response === "series") return { $ref: "#/components/schemas/Series" };
  const row: Record<string, unknown> = route.columns
    ? {
      type: "object",
      required: Object.keys(route.columns),
      properties: Object.fromEntries(
        Object.entries(route.columns).map(([name, c]) => [name, columnSchema(c)]),
      ),
    }
    : { type: "object" };
  if (route.response === "rows") return { type: "array", items: row };
  if (!route.health) return row;
  return {
    ...row,
    properties: {
      ...(row.properties as object | undefined),
      health: { $ref: "#/components/schemas/Health" },
    },
  };
}

function schemaOf(p: ParamSpec): Record<string, unknown> {
  const base: Record<string, unknown> = (() => {
    switch (p.type) {
      case "string":
        return {
          type: "string",
          ...(p.enum ? { enum: p.enum } : {}),
          ...(p.max !== undefined ? { maxLength: p.max } : {}),
        };
      case "string_list":
        return {
          type: "array",
          items: { type: "string" },
          ...(p.min !== undefined ? { minItems: p.min } : {}),
          ...(p.max !== undefined ? { maxItems: p.max } : {}),
        };
      case "int":
      case "float":
        return {
          type: p.type === "int" ? "integer" : "number",
          ...(p.min !== undefined ? { minimum: p.min } : {}),
          ...(p.max !== undefined ? { maximum: p.max } : {}),
        };
      case "bool":
        return { type: "boolean" };
      case "timestamp":
        return {
          oneOf: [{ type: "integer", description: "milliseconds since 1970" }, {
            type: "string",
            format: "date-time",
          }],
        };
    }
  })();
  return p.default === undefined ? base : { ...base, default: p.default };
}

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/** A failed answer of a health route: the error, the totals marked unavailable, the health. */
const withHealth = (description: string) => ({
  description: `${description}. The health is still given: {error, totals: "unavailable", health}`,
  content: {
    "application/json": {
      schema: {
        type: "object",
        required: ["error", "totals", "health"],
        properties: {
          error: { type: "string" },
          totals: { const: "unavailable" },
          health: { $ref: "#/components/schemas/Health" },
        },
      },
    },
  },
});

export function openApi(spec: ApiSpec): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, route] of Object.entries(spec.routes)) {
    const failed = route.health ? withHealth : error;
    paths[path] = {
      get: {
        operationId: operationId(path),
        summary: summaryOf(route.description),
        description: route.description.trim(),
        parameters: Object.entries(route.params).map(([name, p]) => ({
          name,
          in: "query",
          required: p.required && p.default === undefined,
          description: p.description,
          ...(p.type === "string_list" ? { style: "form", explode: false } : {}),
          schema: schemaOf(p),
        })),
        responses: {
          "200": {
            description: route.response === "series"
              ? "Time series: [{target, datapoints: [[value, ts_ms], ...]}]"
              : route.response === "object"
              ? "One object"
              : "Rows",
            content: {
              "application/json": {
                schema: responseSchema(route),
              },
            },
          },
          "400": error("Invalid parameters: {error, issues: [{path, message}]}"),
          "405": error("Only GET (and HEAD) are allowed; the Allow header says so"),
          ...(spec.token ? { "401": error("Missing or wrong bearer token") } : {}),
          "422": failed(
            "The result or the query's memory is larger than the route's caps (max_rows, max_bytes, max_memory)",
          ),
          "500": failed("The route's SQL or the query failed"),
          "502": failed("The store answered, but not as it should"),
          "503": failed(
            "The store is unavailable or refused the query, the route cannot run, or every query slot is taken",
          ),
          "504": failed("The request took longer than the route's timeout"),
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "historian-sync API",
      version: "1",
      description:
        "Routes declared in the pipeline spec. Parameters reach ClickHouse only as typed placeholders. Times are ISO 8601 in UTC with a Z, or epoch milliseconds in series.",
    },
    paths,
    components: {
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: { type: "string" },
            issues: {
              type: "array",
              items: {
                type: "object",
                properties: { path: { type: "string" }, message: { type: "string" } },
              },
            },
          },
        },
        Health: {
          type: "object",
          description:
            "The engine's health: last sync, backfill progress, recent errors, source circuit, sink reachability, cache, lag per tag",
          properties: {
            last_sync: { type: ["object", "null"] },
            backfill: { type: ["object", "null"] },
            sync_rows: { type: "integer" },
            recent_errors: { type: "array", items: { type: "object" } },
            source: { type: ["object", "null"] },
            cache: { type: ["object", "null"] },
            sink: {
              type: "string",
              enum: ["reachable", "unreachable", "busy", "failing"],
              description:
                "How the store answered this request's totals: unreachable (down, or no answer within the route's timeout), busy (every query slot taken), failing (it answered with an error)",
            },
            sink_error: { type: "string", description: "Why, when the store is not reachable" },
            tags_known: {
              type: "integer",
              description: "Tags the pipeline runs now (its last discovery) with a watermark",
            },
            lag_seconds: { type: "object" },
            sites: {
              type: "object",
              description:
                "When this process runs several pipelines: the same health per site, by site name",
              additionalProperties: { type: "object" },
            },
          },
        },
        Series: {
          type: "array",
          items: {
            type: "object",
            properties: {
              target: { type: "string" },
              datapoints: {
                type: "array",
                items: { type: "array", prefixItems: [{}, { type: "integer" }] },
              },
            },
          },
        },
      },
      ...(spec.token
        ? {
          securitySchemes: {
            bearer: {
              type: "http",
              scheme: "bearer",
              description: "Authorization: Bearer <API_TOKEN>",
            },
          },
        }
        : {}),
    },
    ...(spec.token ? { security: [{ bearer: [] }] } : {}),
  };
}
