/**
 * Tag discovery: TagRef (name, type, key), Tag (description), AnalogTag and EngineeringUnit
 * (range and unit; what summaries need: the interpolation type, with the system default (254)
 * resolved from SystemParameter, and the unit's integral divisor), filtered by the spec's
 * include/exclude patterns and types, in name order.
 */
import type sql from "mssql";
import { compilePattern } from "../../engine/mod.ts";
import type { Logger, TagInfo } from "../../engine/mod.ts";
import type { Options } from "./options.ts";

const TAG_TYPES: Record<number, TagInfo["type"]> = { 1: "analog", 2: "discrete", 3: "string" };

export async function discoverTags(
  pool: sql.ConnectionPool,
  options: Options,
  log: Logger,
): Promise<TagInfo[]> {
  const [refs, tags, analog, units, defaults] = await Promise.all([
    pool.request().query("SELECT TagName, TagType, wwTagKey FROM TagRef"),
    pool.request().query("SELECT TagName, Description FROM Tag"),
    withFallback(
      pool,
      "SELECT TagName, EUKey, MinEU, MaxEU, RawType, InterpolationType FROM AnalogTag",
      "SELECT TagName, EUKey, MinEU, MaxEU FROM AnalogTag",
    ),
    withFallback(
      pool,
      "SELECT EUKey, Unit, IntegralDivisor FROM EngineeringUnit",
      "SELECT EUKey, Unit FROM EngineeringUnit",
    ),
    systemDefaults(pool),
  ]);
  type Analog = {
    TagName: string;
    EUKey: number;
    MinEU: number;
    MaxEU: number;
    RawType?: number;
    InterpolationType?: number | null;
  };
  const description = new Map<string, string | null>(
    (tags.recordset as { TagName: string; Description: string | null }[]).map((
      r,
    ) => [r.TagName, r.Description]),
  );
  type Unit = { EUKey: number; Unit: string | null; IntegralDivisor?: number | null };
  const unitRows = new Map((units.recordset as Unit[]).map((r) => [r.EUKey, r]));
  const unitOf = new Map<number, string | null>([...unitRows].map(([k, r]) => [k, r.Unit]));
  const ranges = new Map<string, Analog>(
    (analog.recordset as Analog[]).map((r) => [r.TagName, r]),
  );
  // SQL Server compares tag names case-insensitively; so do the patterns.
  const include = options.tags.include.map((p) => compilePattern(p, { ignoreCase: true }));
  const exclude = options.tags.exclude.map((p) => compilePattern(p, { ignoreCase: true }));
  const out: TagInfo[] = [];
  for (
    const r of refs.recordset as { TagName: string; TagType: number; wwTagKey: number }[]
  ) {
    const type = TAG_TYPES[r.TagType];
    if (!type || !options.tags.types.includes(type)) continue;
    if (
      !include.some((re) => re.test(r.TagName)) || exclude.some((re) => re.test(r.TagName))
    ) continue;
    const a = ranges.get(r.TagName);
    out.push({
      name: r.TagName,
      type,
      description: description.get(r.TagName) ?? undefined,
      unit: a ? unitOf.get(a.EUKey) ?? undefined : undefined,
      min: a?.MinEU,
      max: a?.MaxEU,
      fields: a ? { wwTagKey: r.wwTagKey, ...summaryFields(a, unitRows.get(a.EUKey), defaults) } : {
        wwTagKey: r.wwTagKey,
      },
    });
  }
  out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  log.info("discovered tags", { tags: out.length, of: refs.recordset.length });
  return out;
}

/** A query of optional columns (older Historians lack some), else one of the columns all have. */
async function withFallback(pool: sql.ConnectionPool, query: string, fallback: string) {
  try {
    return await pool.request().query(query);
  } catch (e) {
    if ((e as { number?: number }).number !== 207) throw e; // 207: invalid column name
    return await pool.request().query(fallback);
  }
}

/** The interpolation system parameters: for integer and for real analog tags (0 or 1). */
async function systemDefaults(pool: sql.ConnectionPool): Promise<Map<string, number>> {
  try {
    const result = await pool.request().query(
      "SELECT Name, Value FROM SystemParameter WHERE Name LIKE 'InterpolationType%'",
    );
    return new Map(
      (result.recordset as { Name: string; Value: unknown }[]).map((r) => [
        r.Name.toLowerCase(),
        Number(r.Value),
      ]),
    );
  } catch {
    return new Map();
  }
}

/**
 * What summaries need of an analog tag, as per-tag fields: InterpolationType (AnalogTag's 0
 * stair-step or 1 linear; 254, the system default, resolved by InterpolationTypeInteger for
 * integer tags (RawType 3) and InterpolationTypeReal for the others, left 254 when the server
 * does not say) and IntegralDivisor (the engineering unit's, 1 when it has none).
 */
function summaryFields(
  a: { RawType?: number; InterpolationType?: number | null },
  unit: { IntegralDivisor?: number | null } | undefined,
  defaults: Map<string, number>,
): { InterpolationType?: number; IntegralDivisor: number } {
  let interpolation = a.InterpolationType ?? undefined;
  if (interpolation === 254) {
    const key = a.RawType === 3 ? "interpolationtypeinteger" : "interpolationtypereal";
    interpolation = defaults.get(key) ?? 254;
  }
  const divisor = Number(unit?.IntegralDivisor);
  return {
    ...(interpolation === undefined ? {} : { InterpolationType: interpolation }),
    IntegralDivisor: Number.isFinite(divisor) && divisor > 0 ? divisor : 1,
  };
}
