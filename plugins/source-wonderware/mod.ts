/**
 * AVEVA (Wonderware) Historian as a source, through SQL Server (npm:mssql). It reads a real
 * Historian, or the simulator only where the demo command started one and named its address:
 * nothing here falls back to simulated data. The driver loads with the first source created
 * (connect.ts), not with the registry.
 */
import { definePlugin } from "../../engine/mod.ts";
import { options } from "./options.ts";
import { FIELDS } from "./fields.ts";

export default definePlugin({
  kind: "source",
  name: "wonderware",
  description: "AVEVA (Wonderware) Historian over SQL Server (npm:mssql)",
  options,
  create: async (opts, context) =>
    (await import("./connect.ts")).createWonderwareSource(opts, context),
  fields: FIELDS,
  provides: ["count", "summaries"],
});
