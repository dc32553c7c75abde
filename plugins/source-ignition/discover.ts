/**
 * Discovery through sqlth_te → sqlth_scinfo → sqlth_drv. A tag is `[provider]path` (the path
 * byte for byte as stored); every version of it under every driver (a renamed gateway gets a
 * new driver id) maps to that one tag, retired versions included, so their history stays
 * readable. A tag with no current (non-retired) version is gone and not listed.
 */
import type postgres from "postgres";
import { compilePattern } from "../../engine/mod.ts";
import type { TagInfo, TagType } from "../../engine/mod.ts";
import type { Options } from "./options.ts";

interface VersionRow {
  id: number;
  tagpath: string;
  datatype: number | null;
  created: string | null;
  retired: string | null;
  drvid: number;
  driver: string;
  provider: string | null;
}

/** What read() needs of a tag: its ids (all versions) and drivers. */
export interface IgnitionTag {
  ids: number[];
  /** The data type of each version, by id. */
  types: Record<number, number | null>;
  drivers: number[];
  provider: string;
  tagpath: string;
}

const TYPES: Record<number, TagType> = { 0: "analog", 1: "analog", 2: "string", 3: "string" };

export function fullPath(provider: string, tagpath: string): string {
  return `[${provider}]${tagpath}`;
}

export async function discoverTags(
  sql: postgres.Sql,
  options: Options,
): Promise<TagInfo[]> {
  const rows = await sql<VersionRow[]>`
    SELECT te.id, te.tagpath, te.datatype, te.created::text AS created, te.retired::text AS retired,
           d.id AS drvid, d.name AS driver, d.provider
    FROM ${sql(options.schema)}.sqlth_te te
    JOIN ${sql(options.schema)}.sqlth_scinfo sc ON sc.id = te.scid
    JOIN ${sql(options.schema)}.sqlth_drv d ON d.id = sc.drvid
    ORDER BY te.id`;
  const include = options.tags.include.map((p) => compilePattern(p));
  const exclude = options.tags.exclude.map((p) => compilePattern(p));
  const tags = new Map<string, { tag: IgnitionTag; current?: VersionRow }>();
  for (const r of rows) {
    const provider = r.provider ?? "";
    if (options.providers.length && !options.providers.includes(provider)) continue;
    if (options.drivers.length && !options.drivers.includes(r.driver)) continue;
    const name = fullPath(provider, r.tagpath);
    const entry = tags.get(name) ??
      { tag: { ids: [], types: {}, drivers: [], provider, tagpath: r.tagpath } };
    entry.tag.ids.push(r.id);
    entry.tag.types[r.id] = r.datatype;
    if (!entry.tag.drivers.includes(r.drvid)) entry.tag.drivers.push(r.drvid);
    // The newest current version says the type.
    if (
      r.retired === null && (!entry.current || Number(r.created) >= Number(entry.current.created))
    ) {
      entry.current = r;
    }
    tags.set(name, entry);
  }
  const out: TagInfo[] = [];
  for (const [name, { tag, current }] of tags) {
    if (!current) continue;
    if (!include.some((re) => re.test(name)) || exclude.some((re) => re.test(name))) continue;
    out.push({
      name,
      type: TYPES[current.datatype ?? 1] ?? "analog",
      fields: { ...tag, interpolation: current.datatype === 1 ? "linear" : "stairstep" },
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
