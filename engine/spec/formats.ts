/**
 * What a spec's text value means beyond "a string": a duration, a byte size. The schema helpers
 * that parse such text register their schemas here, so the generated reference (scripts/docs.ts)
 * can say "duration, at least 1m" where the JSON Schema only knows "string". A registry of its
 * own, not zod's global one, so spec.schema.json does not change with it.
 */
import { z } from "zod";

export interface TextFormat {
  /** duration: `30s`, `5m`, `1h30m`; size: `512KB`, `64MB`, `1GB`. */
  format: "duration" | "size";
  /** The smallest value accepted, as text in that format (`1m`, `4MB`). */
  min?: string;
}

export const textFormats = z.registry<TextFormat>();
