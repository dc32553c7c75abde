/**
 * What each `value:` of a readings table delivers, in the engine's terms: a field type, whether
 * some readings carry null, and whether it varies per row or is the same for a whole batch. The
 * sink checks its column types against these offline (the engine knows readings, the sink knows
 * its types), so `validate` refuses what `run` could not write: quality, which is text, in a
 * numeric column; a value that is null on gap markers in a column that cannot hold null.
 */
import type { FieldSpec, FieldType } from "../plugin.ts";
import type { Quality } from "../types.ts";
import type { ReadingPart } from "./storage.ts";

/** What a readings column receives, described for a sink's checks and its messages. */
export interface ValueSpec {
  type: FieldType;
  /** Some readings carry null (`nullWhen` says which, for messages). */
  nullable: boolean;
  nullWhen?: string;
  /** One value per reading, per tag, or one for a whole batch (a batch field, the site). */
  per: FieldSpec["per"];
  /** The only values it takes (quality: good, uncertain, bad). */
  values?: readonly string[];
  /** What it holds, for messages: "the source's numeric code". */
  description: string;
  /** The part that holds the same in another type: quality and quality_code, value and text. */
  counterpart?: ReadingPart;
}

const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];

/**
 * The reading's own parts. `quality_code` may be null in a Reading, for a source without codes
 * of its own; the sources here always give one, so it is taken as never null.
 */
const PARTS: Readonly<Record<ReadingPart, ValueSpec>> = {
  tag: { type: "string", nullable: false, per: "row", description: "the tag's name" },
  time: { type: "time", nullable: false, per: "row", description: "the reading's time" },
  value: {
    type: "float",
    nullable: true,
    nullWhen: "on string tags and gap markers",
    per: "row",
    description: "numeric readings",
    counterpart: "text",
  },
  text: {
    type: "string",
    nullable: true,
    nullWhen: "on numeric tags and gap markers",
    per: "row",
    description: "the readings of string tags",
    counterpart: "value",
  },
  quality: {
    type: "string",
    nullable: false,
    per: "row",
    values: QUALITIES,
    description: "the normalized quality",
    counterpart: "quality_code",
  },
  quality_code: {
    type: "int",
    nullable: false,
    per: "row",
    description: "the source's numeric code",
    counterpart: "quality",
  },
  ingested_at: {
    type: "time",
    nullable: false,
    per: "row",
    description: "the time the store received the row",
  },
  site: { type: "string", nullable: false, per: "batch", description: "the pipeline's site" },
};

/** Every `value:` a readings table may name, the source's `fields.<name>` included. */
export function readingValues(
  fields: Readonly<Record<string, FieldSpec>>,
): Record<string, ValueSpec> {
  const out: Record<string, ValueSpec> = { ...PARTS };
  for (const [name, f] of Object.entries(fields)) {
    const nullable = f.nullable ?? true;
    out[`fields.${name}`] = {
      type: f.type,
      nullable,
      ...(nullable ? { nullWhen: "on readings that lack it" } : {}),
      per: f.per,
      description: f.description ?? `the source's field ${name}`,
    };
  }
  return out;
}
