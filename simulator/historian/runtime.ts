/**
 * The Runtime database as clients see it: the configuration tables (Tag, TagRef, AnalogTag,
 * DiscreteTag, StringTag, Message, EngineeringUnit, QualityMap, TimeZone, SystemParameter), the
 * Live table, the History view and the summary views (AnalogSummaryHistory,
 * StateSummaryHistory), under their plain, `Runtime.dbo.` and `INSQL.Runtime.dbo.` names; and
 * the databases a login may name (Runtime and SQL Server's system databases, which drivers ask
 * for).
 */
import type { Column, SqlValue } from "../tds/types.ts";
import { SqlTime } from "../tds/types.ts";
import type { Catalog, Table } from "../sql/run.ts";
import { C, historyTable } from "./history.ts";
import type { HistoryContext } from "./history.ts";
import { analogSummaryTable, stateSummaryTable } from "./summary_views.ts";

const TYPE_CODE = { analog: 1, discrete: 2, string: 3 } as const;

export const QUALITY_MAP: [number, string][] = [
  [0, "Bad, undetermined state"],
  [1, "No data; tag did not exist at that time"],
  [10, "Communication loss"],
  [24, "I/O Server communication failed"],
  [44, "Pipe reconnect"],
  [150, "Storage startup"],
  [192, "Good"],
  [202, "Good point of version Latest"],
  [248, "First value received in store-and-forward mode"],
  [249, "Not a number"],
  [252, "First value received from I/O Server"],
  [65536, "No data at or before the query start"],
];

/** The databases a session may be in: Runtime, and the system databases every SQL Server has. */
export const DATABASES = ["Runtime", "master", "tempdb", "model", "msdb"];

/** The system parameters the retrieval modes read their defaults from. */
export const SYSTEM_PARAMETERS: [string, string, string][] = [
  ["InterpolationTypeInteger", "0", "Interpolation of integer analog tags: 0 stair-step, 1 linear"],
  ["InterpolationTypeReal", "1", "Interpolation of real analog tags: 0 stair-step, 1 linear"],
  ["QualityRule", "0", "0: good and uncertain values count (EXTENDED), 1: good only (GOOD)"],
  ["TimeStampRule", "1", "Cycle timestamps: 0 at the cycle's start, 1 at its end"],
];

function staticTable(name: string, columns: Column[], rows: () => SqlValue[][]): Table {
  return { name, columns, rows: () => rows() };
}

export function runtimeCatalog(ctx: HistoryContext): Catalog {
  const tables: Table[] = [
    ...tagTables(ctx),
    ...referenceTables(ctx),
    liveTable(ctx),
    historyTable(ctx),
    analogSummaryTable(ctx),
    stateSummaryTable(ctx),
  ];
  const byName = new Map(tables.map((t) => [t.name.toLowerCase(), t]));
  return {
    table(parts) {
      const [name, schema, database, server, ...extra] = [...parts].reverse().map((p) =>
        p.toLowerCase()
      );
      if (extra.length > 0) return undefined;
      if (schema !== undefined && schema !== "" && schema !== "dbo") return undefined;
      if (database !== undefined && database !== "runtime") return undefined;
      if (server !== undefined && server !== "insql") return undefined;
      return byName.get(name!);
    },
    database(name) {
      return DATABASES.find((d) => d.toLowerCase() === name.toLowerCase());
    },
  };
}

/** Tag, TagRef, AnalogTag, DiscreteTag. */
function tagTables(ctx: HistoryContext): Table[] {
  const tags = () => ctx.tags.map((t) => t.meta);
  const units = () => [...new Set(tags().map((m) => m.unit).filter(Boolean))].sort();
  const unitKey = (unit: string) => units().indexOf(unit) + 1;
  return [
    staticTable(
      "Tag",
      [
        C("TagName", "nvarchar", 256),
        C("IOServerKey", "int"),
        C("StorageNodeKey", "int"),
        C("wwTagKey", "int"),
        C("TopicKey", "int"),
        C("Description", "nvarchar", 512),
        C("AcquisitionType", "tinyint"),
        C("StorageType", "smallint"),
        C("StorageRate", "int"),
        C("ItemName", "nvarchar", 256),
        C("TagType", "int"),
        C("TimeDeadband", "int"),
      ],
      () =>
        tags().map((m) => [
          m.name,
          m.name.startsWith("Sys") ? null : 1,
          1,
          m.key,
          m.name.startsWith("Sys") ? null : 1,
          m.description,
          m.name.startsWith("Sys") ? 3 : 1,
          m.rateMs > 0 && m.kind === "analog" ? 1 : 2,
          m.rateMs,
          m.name,
          TYPE_CODE[m.kind],
          0,
        ]),
    ),
    staticTable(
      "TagRef",
      [
        C("wwDomainTagKey", "int"),
        C("wwTagKey", "int"),
        C("ServerKey", "int"),
        C("TagName", "nvarchar", 256),
        C("TagType", "int"),
      ],
      () => tags().map((m) => [m.key, m.key, 1, m.name, TYPE_CODE[m.kind]]),
    ),
    staticTable(
      "AnalogTag",
      [
        C("TagName", "nvarchar", 256),
        C("EUKey", "int"),
        C("MinEU", "float"),
        C("MaxEU", "float"),
        C("MinRaw", "float"),
        C("MaxRaw", "float"),
        C("Scaling", "int"),
        C("RawType", "int"),
        C("ValueDeadband", "float"),
        C("IntegerSize", "tinyint"),
        C("SignedInteger", "bit"),
        C("InterpolationType", "tinyint"),
      ],
      () =>
        tags().filter((m) => m.kind === "analog").map((m) => [
          m.name,
          unitKey(m.unit),
          m.minEU,
          m.maxEU,
          m.minEU,
          m.maxEU,
          0,
          2,
          0,
          0,
          false,
          m.interpolation,
        ]),
    ),
    staticTable(
      "DiscreteTag",
      [C("TagName", "nvarchar", 256), C("MessageKey", "int")],
      () => tags().filter((m) => m.kind === "discrete").map((m) => [m.name, 1]),
    ),
  ];
}

/** Message, StringTag, EngineeringUnit, SystemParameter, QualityMap, TimeZone. */
function referenceTables(ctx: HistoryContext): Table[] {
  const tags = () => ctx.tags.map((t) => t.meta);
  const units = () => [...new Set(tags().map((m) => m.unit).filter(Boolean))].sort();
  return [
    staticTable(
      "Message",
      [C("MessageKey", "int"), C("Message0", "nvarchar", 64), C("Message1", "nvarchar", 64)],
      () => [[1, "Off", "On"]],
    ),
    staticTable(
      "StringTag",
      [C("TagName", "nvarchar", 256), C("MaxLength", "smallint"), C("DoubleByte", "tinyint")],
      () => tags().filter((m) => m.kind === "string").map((m) => [m.name, 512, 1]),
    ),
    staticTable(
      "EngineeringUnit",
      [
        C("EUKey", "int"),
        C("Unit", "nvarchar", 32),
        C("DefaultTagRate", "int"),
        C("Status", "tinyint"),
        C("EUCKey", "int"),
        C("IntegralDivisor", "float"),
      ],
      () =>
        units().map((u, i) => [
          i + 1,
          u,
          null,
          null,
          1,
          tags().find((m) => m.unit === u)?.integralDivisor ?? 1,
        ]),
    ),
    staticTable(
      "SystemParameter",
      [C("Name", "nvarchar", 50), C("Value", "nvarchar", 4000), C("Description", "nvarchar", 512)],
      () => SYSTEM_PARAMETERS.map(([name, value, text]) => [name, value, text]),
    ),
    staticTable(
      "QualityMap",
      [C("QualityDetail", "int"), C("QualityString", "nvarchar", 4000)],
      () => QUALITY_MAP.map(([qd, text]) => [qd, text]),
    ),
    staticTable(
      "TimeZone",
      [C("TimeZoneID", "int"), C("TimeZone", "nvarchar", 50)],
      () => [[1, "UTC"], [2, ctx.serverZone.name]],
    ),
  ];
}

/** The Live table: the newest streamed value of each tag. */
function liveTable(ctx: HistoryContext): Table {
  return {
    name: "Live",
    columns: [
      C("DateTime", "datetime2"),
      C("TagName", "nvarchar", 256),
      C("Value", "float"),
      C("vValue", "nvarchar", 256),
      C("Quality", "tinyint"),
      C("QualityDetail", "int"),
      C("OPCQuality", "int"),
      C("wwTagKey", "int"),
      C("wwTimeZone", "nvarchar", 50),
    ],
    *rows() {
      // Live shows the newest streamed value: not late (injected) data, not revisions.
      const view = { ...ctx.view(false), hidden: () => false };
      for (const t of ctx.tags) {
        const p = t.base.lastAtOrBefore(view.now);
        if (!p) continue;
        yield [
          new SqlTime(ctx.serverZone.toLocal(p.t)),
          t.meta.name,
          p.value,
          p.text ?? (p.value === null ? null : String(p.value)),
          p.quality,
          p.qd,
          p.opc,
          t.meta.key,
          ctx.serverZone.name,
        ];
      }
    },
  };
}
