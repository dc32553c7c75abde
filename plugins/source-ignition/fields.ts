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
  datatype: {
    type: "int",
    per: "row",
    description: "The version's data type: 0 int, 1 float, 2 string, 3 date",
  },
};
