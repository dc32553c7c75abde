/**
 * What the Wonderware source provides beyond the engine's reading, so a spec's tables can be
 * checked without connecting: the History columns that vary per row, the tag's key, and the
 * columns that echo the query's own options (the same for a whole batch).
 */
import type { FieldSpec } from "../../engine/mod.ts";

const batch = (type: FieldSpec["type"]): FieldSpec => ({ type, per: "batch" });

/** History's option columns, echoed back by every row of a query (learned from one probe row). */
export const ECHO_FIELDS: Readonly<Record<string, FieldSpec>> = {
  wwRowCount: batch("int"),
  wwResolution: batch("int"),
  wwEdgeDetection: batch("string"),
  wwRetrievalMode: batch("string"),
  wwTimeDeadband: batch("int"),
  wwValueDeadband: batch("float"),
  wwTimeZone: batch("string"),
  wwVersion: batch("string"),
  wwCycleCount: batch("int"),
  wwTimeStampRule: batch("string"),
  wwInterpolationType: batch("string"),
  wwQualityRule: batch("string"),
  wwStateCalc: batch("string"),
  StateTime: batch("float"),
  PercentGood: batch("float"),
  wwParameters: batch("string"),
  SourceTag: batch("string"),
  SourceServer: batch("string"),
  wwFilter: batch("string"),
  wwValueSelector: batch("string"),
  wwMaxStates: batch("int"),
  wwOption: batch("string"),
  wwExpression: batch("string"),
  wwUnit: batch("string"),
};

export const FIELDS: Readonly<Record<string, FieldSpec>> = {
  QualityDetail: {
    type: "int",
    per: "row",
    description: "The Historian's detailed quality (192 good, 249 NaN/NULL, ...)",
  },
  OPCQuality: {
    type: "int",
    per: "row",
    description: "Quality as received from the source (OPC DA word)",
  },
  wwTagKey: {
    type: "int",
    per: "tag",
    nullable: false,
    description: "The tag's key in the Historian",
  },
  InterpolationType: {
    type: "int",
    per: "tag",
    description:
      "Analog tags: AnalogTag.InterpolationType, 0 stair-step or 1 linear (the system default, 254, resolved by SystemParameter)",
  },
  IntegralDivisor: {
    type: "float",
    per: "tag",
    description:
      "Analog tags: the engineering unit's IntegralDivisor (Integral = value × seconds ÷ divisor), 1 when it has none",
  },
  ...ECHO_FIELDS,
};
