/** The History extension table's 33 columns, as SQL Server describes them to clients. */
import type { Column } from "../tds/types.ts";

/** A result column: name, SQL type, and for nvarchar the length in characters. */
export const C = (name: string, type: Column["type"], length?: number): Column => ({
  name,
  type,
  length,
});

export const HISTORY_COLUMNS: Column[] = [
  C("DateTime", "datetime2"),
  C("TagName", "nvarchar", 256),
  C("Value", "float"),
  C("vValue", "nvarchar", 4000),
  C("Quality", "tinyint"),
  C("QualityDetail", "int"),
  C("OPCQuality", "int"),
  C("wwTagKey", "int"),
  C("wwRowCount", "int"),
  C("wwResolution", "int"),
  C("wwEdgeDetection", "nvarchar", 16),
  C("wwRetrievalMode", "nvarchar", 16),
  C("wwTimeDeadband", "int"),
  C("wwValueDeadband", "float"),
  C("wwTimeZone", "nvarchar", 50),
  C("wwVersion", "nvarchar", 30),
  C("wwCycleCount", "int"),
  C("wwTimeStampRule", "nvarchar", 20),
  C("wwInterpolationType", "nvarchar", 20),
  C("wwQualityRule", "nvarchar", 20),
  C("wwStateCalc", "nvarchar", 20),
  C("StateTime", "float"),
  C("PercentGood", "float"),
  C("wwParameters", "nvarchar", 128),
  C("StartDateTime", "datetime2"),
  C("SourceTag", "nvarchar", 256),
  C("SourceServer", "nvarchar", 256),
  C("wwFilter", "nvarchar", 512),
  C("wwValueSelector", "nvarchar", 20),
  C("wwMaxStates", "int"),
  C("wwOption", "nvarchar", 512),
  C("wwExpression", "nvarchar", 512),
  C("wwUnit", "nvarchar", 32),
];
