/**
 * The asset model: which machine, line and site each tag belongs to. Declared as rules in the
 * spec; each tag takes the attributes of the first rule its name matches. Rule patterns are
 * globs (`Hamburg.L1.*`) or /regexes/ whose named groups, like the tag's own metadata
 * (`{tag}`, `{unit}`, `{description}`, `{type}`), can be used in attribute values.
 */
import type { Assets, SummariesSpec } from "./spec/storage.ts";
import type { AssetRow, Interpolation, TagInfo } from "./types.ts";

const METADATA = ["tag", "unit", "description", "type"] as const;

/** A glob (`*`, `?`) or `/regex/flags` pattern; throws a RangeError naming the problem. */
export function compilePattern(pattern: string, options: { ignoreCase?: boolean } = {}): RegExp {
  const re = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  if (re) {
    try {
      return new RegExp(
        re[1]!,
        re[2]!.replace(/[gy]/g, "") + (options.ignoreCase && !re[2]!.includes("i") ? "i" : ""),
      );
    } catch (e) {
      throw new RangeError(`invalid regular expression ${pattern}: ${(e as Error).message}`);
    }
  }
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(
    /\?/g,
    ".",
  );
  return new RegExp(`^${source}$`, options.ignoreCase ? "i" : "");
}

/** Placeholders in `value` that neither the pattern's groups nor the tag metadata provide. */
export function unknownPlaceholders(pattern: RegExp, value: string): string[] {
  const groups = Object.keys(new RegExp(`${pattern.source}|`).exec("")?.groups ?? {});
  const known = new Set<string>([...groups, ...METADATA]);
  return [...value.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!).filter((n) =>
    !known.has(n)
  );
}

/**
 * The asset dimension: one row per tag, with the attributes of the first rule its name matches
 * (none for a tag no rule matches: it is still listed) and the tag's own metadata.
 */
export function resolveAssets(
  assets: Assets,
  tags: readonly TagInfo[],
  source: string,
): AssetRow[] {
  const rules = assets.rules.map((r) => ({ pattern: compilePattern(r.tags), set: r.set }));
  return tags.map((tag) => {
    const attributes: Record<string, string> = Object.fromEntries(
      assets.columns.map((c) => [c, ""]),
    );
    for (const rule of rules) {
      const m = rule.pattern.exec(tag.name);
      if (!m) continue;
      const vars: Record<string, string> = {
        tag: tag.name,
        unit: tag.unit ?? "",
        description: tag.description ?? "",
        type: tag.type,
        ...m.groups,
      };
      for (const column of assets.columns) {
        attributes[column] = (rule.set[column] ?? "").replace(
          /\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
          (_, n) => vars[n] ?? "",
        );
      }
      break;
    }
    return {
      tag: tag.name,
      attributes,
      description: tag.description ?? "",
      unit: tag.unit ?? "",
      min: tag.min ?? null,
      max: tag.max ?? null,
      type: tag.type,
      source,
    };
  });
}

/** No asset model: every tag is listed with no attributes (for the summaries' tag metadata). */
export const NO_ASSETS: Assets = { columns: [], rules: [] };

/**
 * What the summaries need of a tag, from the tag fields the spec names: its interpolation
 * (AVEVA's InterpolationType 0 stair-step, 1 linear, or the words; anything else, such as 254
 * "system default" left unresolved, is linear, the Historian's default for real values) and its
 * integral divisor (1 unless a positive number).
 */
export function summaryMetadata(
  summaries: SummariesSpec,
  tag: TagInfo,
): { interpolation: Interpolation; integralDivisor: number } {
  const field = (ref: string | undefined) =>
    ref === undefined ? undefined : tag.fields?.[ref.slice("fields.".length)];
  const i = field(summaries.interpolation);
  const stairstep = i === 0 || i === "0" || (typeof i === "string" && /^stair/i.test(i.trim()));
  const d = Number(field(summaries.integral_divisor));
  return {
    interpolation: stairstep ? "stairstep" : "linear",
    integralDivisor: Number.isFinite(d) && d > 0 ? d : 1,
  };
}
