/**
 * An exact dataset served instead of the generated plant: a folder with `tags.csv`
 * (TagName,TagType,Description,EngUnit,MinEU,MaxEU; TagType 1 analog, 2 discrete, 3 string;
 * then optionally, by name, InterpolationType and IntegralDivisor) and `points.csv`
 * (TagName,DateTime,Value,vValue,QualityDetail,OPCQuality; DateTime in UTC, ISO 8601 with up to
 * 7 fractional digits and a Z; an empty field is NULL).
 *
 * InterpolationType is AnalogTag's: 0 or StairStep, 1 or Linear, 254 or SystemDefault (the
 * default when empty; linear for the simulator's real-valued analog tags). IntegralDivisor
 * belongs to the engineering unit (EngineeringUnit.IntegralDivisor), 1 when empty, so tags with
 * one EngUnit must agree on it.
 */
import { arraySeries } from "./series.ts";
import type { Point, TagKind, TagMeta } from "./series.ts";
import type { GeneratedTag } from "./plant.ts";

const KINDS: Record<string, TagKind> = { "1": "analog", "2": "discrete", "3": "string" };

/** The Historian's TagName is nvarchar(256): a longer name cannot exist there. */
export const MAX_TAG_NAME = 256;

/** RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') {
      quoted = true;
      wasQuoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (row.length > 1 || row[0] !== "" || wasQuoted) rows.push(row);
      row = [];
      field = "";
      wasQuoted = false;
    } else field += c;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function utcTicks(text: string, where: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?Z$/.exec(text.trim());
  const ms = m ? Date.parse(`${m[1]}T${m[2]}Z`) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw new Error(
      `${where}: cannot read DateTime "${text}": expected UTC ISO 8601 such as 2024-01-31T12:00:00.1234567Z`,
    );
  }
  return BigInt(ms) * 10_000n + BigInt((m[3] ?? "").padEnd(7, "0"));
}

function num(text: string, where: string): number | null {
  if (text.trim() === "") return null;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`${where}: "${text}" is not a number`);
  return n;
}

const INTERPOLATION: Record<string, number> = {
  "0": 0,
  stairstep: 0,
  "1": 1,
  linear: 1,
  "254": 254,
  systemdefault: 254,
};

/** AnalogTag.InterpolationType from a code or a name; empty is the system default (254). */
function interpolationOf(text: string, kind: TagKind, where: string): number {
  if (text === "") return kind === "analog" ? 254 : 0;
  const code = INTERPOLATION[text.toLowerCase()];
  if (code === undefined) {
    throw new Error(
      `${where}: InterpolationType "${text}" is not one of 0 (StairStep), 1 (Linear), 254 (SystemDefault)`,
    );
  }
  if (kind !== "analog") {
    throw new Error(`${where}: InterpolationType applies to analog tags only (TagType 1)`);
  }
  return code;
}

export async function loadDataset(dir: string): Promise<GeneratedTag[]> {
  const tagRows = parseCsv(await Deno.readTextFile(`${dir}/tags.csv`));
  const pointRows = parseCsv(await Deno.readTextFile(`${dir}/points.csv`));
  const header = (rows: string[][], want: string[], file: string, optional: string[] = []) => {
    const got = rows.shift()?.map((h) => h.trim());
    const extra = got?.slice(want.length) ?? [];
    if (
      !got || want.some((w, i) => got[i] !== w) || extra.some((h) => !optional.includes(h)) ||
      new Set(extra).size !== extra.length
    ) {
      const more = optional.length ? ` and optionally ${optional.join(", ")}` : "";
      throw new Error(`${dir}/${file}: expected the header ${want.join(",")}${more}`);
    }
    return got;
  };
  const tagHeader = header(
    tagRows,
    ["TagName", "TagType", "Description", "EngUnit", "MinEU", "MaxEU"],
    "tags.csv",
    ["InterpolationType", "IntegralDivisor"],
  );
  const column = (name: string) => tagHeader.indexOf(name);
  const divisors = new Map<string, number>();
  header(
    pointRows,
    ["TagName", "DateTime", "Value", "vValue", "QualityDetail", "OPCQuality"],
    "points.csv",
  );

  const metas = new Map<string, TagMeta>();
  tagRows.forEach((r, i) => {
    const where = `${dir}/tags.csv:${i + 2}`;
    const kind = KINDS[r[1]?.trim() ?? ""];
    if (!r[0] || !kind) throw new Error(`${where}: expected a TagName and a TagType of 1, 2 or 3`);
    if (r[0].length > MAX_TAG_NAME) {
      throw new Error(
        `${where}: tag "${r[0].slice(0, 40)}…" is ${
          r[0].length
        } characters long; the Historian's TagName is nvarchar(${MAX_TAG_NAME})`,
      );
    }
    // SQL Server's default collation is case-insensitive: two such names are one tag there.
    const clash = [...metas.keys()].find((k) => k.toLowerCase() === r[0]!.toLowerCase());
    if (clash) {
      throw new Error(
        `${where}: tag "${
          r[0]
        }" differs from tag "${clash}" only in case; the Historian (SQL Server's case-insensitive collation) would take them for one tag`,
      );
    }
    const unit = r[3] ?? "";
    const field = (name: string) => (column(name) < 0 ? "" : (r[column(name)] ?? "").trim());
    const interpolation = interpolationOf(field("InterpolationType"), kind, where);
    const divisor = num(field("IntegralDivisor"), where) ?? 1;
    if (!(divisor > 0)) {
      throw new Error(`${where}: IntegralDivisor must be above 0, not ${divisor}`);
    }
    if (divisors.has(unit) && divisors.get(unit) !== divisor) {
      throw new Error(
        `${where}: IntegralDivisor ${divisor} differs from ${
          divisors.get(unit)
        } given before for the engineering unit "${unit}"; the Historian keeps one per unit`,
      );
    }
    divisors.set(unit, divisor);
    metas.set(r[0], {
      name: r[0],
      key: i + 1,
      kind,
      description: r[2] ?? "",
      unit,
      minEU: num(r[4] ?? "", where) ?? 0,
      maxEU: num(r[5] ?? "", where) ?? 0,
      rateMs: 0,
      interpolation,
      integralDivisor: divisor,
    });
  });
  const points = new Map<string, Point[]>([...metas.keys()].map((k) => [k, []]));
  const byLower = new Map([...metas.keys()].map((k) => [k.toLowerCase(), k]));
  pointRows.forEach((r, i) => {
    const where = `${dir}/points.csv:${i + 2}`;
    const list = points.get(byLower.get((r[0] ?? "").toLowerCase()) ?? "");
    if (!list) throw new Error(`${where}: tag "${r[0]}" is not in tags.csv`);
    const value = num(r[2] ?? "", where);
    const text = (r[3] ?? "") === "" ? null : r[3]!;
    const opc = num(r[5] ?? "", where) ?? (value === null && text === null ? 0 : 192);
    const qd = num(r[4] ?? "", where) ?? 192;
    const bad = (value === null && text === null) || opc < 64;
    list.push({ t: utcTicks(r[1] ?? "", where), value, text, quality: bad ? 1 : 0, qd, opc });
  });
  return [...metas.values()].map((meta) => {
    const list = points.get(meta.name)!.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
    return { meta, series: arraySeries(list) };
  });
}
