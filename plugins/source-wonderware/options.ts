/**
 * Options of the Wonderware source. The seed's environment variables reach them through the
 * spec's interpolation (see pipelines/wonderware.yaml), not through code.
 */
import { z } from "zod";
import { duration } from "../../engine/mod.ts";

function readable(path: string): boolean {
  if (path === "") return true;
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

export const options = z.strictObject({
  host: z.string().trim().min(
    1,
    "is empty: set the Historian's SQL Server host (WONDERWARE_HOST in the shipped spec); for a demo on simulated data run `deno task demo`",
  ).describe("SQL Server host of the Historian (WONDERWARE_HOST)"),
  port: z.int().min(1).max(65535).default(1433).describe("SQL Server port (WONDERWARE_PORT)"),
  database: z.string().min(1).default("Runtime").describe(
    "Historian database (WONDERWARE_DATABASE)",
  ),
  user: z.string().default("").describe(
    "SQL login (WONDERWARE_USERNAME); read-only aaUsers role is enough",
  ),
  password: z.string().default("").describe("SQL password (WONDERWARE_PASSWORD); never logged"),
  encrypt: z.boolean().default(false).describe(
    "Require TLS to SQL Server (needed when the server forces encryption)",
  ),
  trust_server_certificate: z.boolean().default(false).describe(
    "Accept the server's certificate without checking it (self-signed); prefer ca_file",
  ),
  ca_file: z.string().trim().default("").refine(readable, {
    error:
      "cannot be read: give the path of a PEM file with the CA certificate (or the server's own)",
  }).describe(
    "PEM file with the CA (or self-signed server) certificate to verify SQL Server's certificate against",
  ),
  connect_timeout: duration().prefault("15s").describe("Connection timeout"),
  request_timeout: duration().prefault("5m").describe("Timeout of one query"),
  pool_size: z.int().min(1).max(64).default(4).describe("Connections kept open to SQL Server"),
  retrieval_mode: z.enum(["full", "delta"]).default("full").describe(
    "History retrieval mode: full returns every stored point; delta drops repeated values",
  ),
  tags: z.strictObject({
    include: z.array(z.string().min(1)).min(1).default(["*"]).describe(
      "Tag name patterns to load (* and ? wildcards)",
    ),
    exclude: z.array(z.string().min(1)).default(["Sys*"]).describe(
      "Tag name patterns to skip; system tags by default",
    ),
    types: z.array(z.enum(["analog", "discrete", "string"])).min(1).default([
      "analog",
      "discrete",
      "string",
    ])
      .describe("Tag types to load"),
  }).prefault({}).describe("Which tags to load"),
});

export type Options = z.output<typeof options>;
