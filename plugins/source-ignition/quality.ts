/**
 * `dataintegrity` in the engine's terms. Exactly 192 is good (Ignition's legacy DataQuality and
 * 8.x QualityCode agree on it); an 8.x QualityCode whose level bits say uncertain (01) is
 * uncertain; everything else — 0, 600, negative (bad, error) codes — is bad. The raw integer is
 * kept as the reading's quality code.
 */
import type { Quality } from "../../engine/mod.ts";

const UNCERTAIN_LEVEL = 0x4000_0000;

export function qualityOf(dataintegrity: number | null): Quality {
  if (dataintegrity === 192) return "good";
  if (dataintegrity !== null && dataintegrity >= UNCERTAIN_LEVEL && dataintegrity < 0x8000_0000) {
    return "uncertain";
  }
  return "bad";
}
