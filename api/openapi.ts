/** The OpenAPI 3.1 document of the API, generated from the same declarations as the routes. */
import type { ApiSpec, ParamSpec } from "./spec.ts";

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

export function openApi(spec: ApiSpec): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [path, route] of Object.entries(spec.routes)) {
    paths[path] = {
      get: {
        summary: route.description.split("\n")[0],
        description: route.description,
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
                schema: route.response === "series"
                  ? { $ref: "#/components/schemas/Series" }
                  : { type: route.response === "object" ? "object" : "array" },
              },
            },
          },
          "400": error("Invalid parameters: {error, issues: [{path, message}]}"),
          ...(spec.token ? { "401": error("Missing or wrong bearer token") } : {}),
          "502": error("The query failed"),
          "503": error("The store is unavailable or the query timed out"),
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "historian-sync API", version: "1" },
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
      ...(spec.token ? { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } } : {}),
    },
    ...(spec.token ? { security: [{ bearer: [] }] } : {}),
  };
}
