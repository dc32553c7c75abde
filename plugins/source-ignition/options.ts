/** Options of the Ignition source: where the SQL Tag Historian's database is, which tags to read. */
import { z } from "zod";
import { duration } from "../../engine/mod.ts";

export const options = z.strictObject({
  url: z.string().trim().min(
    1,
    "is empty: set the PostgreSQL URL of Ignition's history database (IGNITION_DATABASE_URL in the shipped spec)",
  ).describe('PostgreSQL URL, e.g. "postgres://reader:pw@db:5432/ignition"'),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, "a lowercase SQL identifier").default("public")
    .describe("Schema of the sqlth_* tables"),
  providers: z.array(z.string().min(1)).default([]).describe(
    "Tag providers to read (sqlth_drv.provider); empty: all",
  ),
  drivers: z.array(z.string().min(1)).default([]).describe(
    "Drivers (gateways, sqlth_drv.name) to read; empty: all, renamed gateways included",
  ),
  tags: z.strictObject({
    include: z.array(z.string().min(1)).min(1).default(["*"]).describe(
      "Patterns (* ? or /regex/) on the full path [provider]path",
    ),
    exclude: z.array(z.string().min(1)).default([]).describe("Patterns to skip"),
  }).prefault({}),
  pool_size: z.int().min(1).max(64).default(4).describe("Connections kept open"),
  connect_timeout: duration().prefault("15s"),
  statement_timeout: duration().prefault("5m").describe("Timeout of one query"),
});

export type Options = z.output<typeof options>;
