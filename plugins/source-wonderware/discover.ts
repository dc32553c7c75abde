/**
 * Tag discovery: TagRef (name, type, key), Tag (description), AnalogTag and EngineeringUnit
 * (range and unit), filtered by the spec's include/exclude patterns and types, in name order.
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
  const [refs, tags, analog, units] = await Promise.all([
    pool.request().query("SELECT TagName, TagType, wwTagKey FROM TagRef"),
    pool.request().query("SELECT TagName, Description FROM Tag"),
    pool.request().query("SELECT TagName, EUKey, MinEU, MaxEU FROM AnalogTag"),
    pool.request().query("SELECT EUKey, Unit FROM EngineeringUnit"),
  ]);
  type Analog = { TagName: string; EUKey: number; MinEU: number; MaxEU: number };
  const description = new Map<string, string | null>(
    (tags.recordset as { TagName: string; Description: string | null }[]).map((
      r,
    ) => [r.TagName, r.Description]),
  );
  const unitOf = new Map<number, string | null>(
    (units.recordset as { EUKey: number; Unit: string | null }[]).map((
      r,
    ) => [r.EUKey, r.Unit]),
  );
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
      fields: { wwTagKey: r.wwTagKey },
    });
  }
  out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  log.info("discovered tags", { tags: out.length, of: refs.recordset.length });
  return out;
}
