/** What the Ignition source provides beyond the engine's reading. */
import type { FieldSpec } from "../../engine/mod.ts";

export const FIELDS: Readonly<Record<string, FieldSpec>> = {
  provider: {
    type: "string",
    per: "tag",
    nullable: false,
    description: "The tag provider (sqlth_drv.provider)",
  },
  tagpath: {
    type: "string",
    per: "tag",
    nullable: false,
    description: "The path as sqlth_te stores it",
  },
  interpolation: {
    type: "string",
    per: "tag",
    nullable: false,
    description:
      "How summaries move its value between stored points, by its current data type: linear for " +
      "floats, stairstep for integers (and booleans), which hold between changes",
  },
  datatype: {
    type: "int",
    per: "row",
    description: "The version's data type: 0 int, 1 float, 2 string, 3 date",
  },
};
