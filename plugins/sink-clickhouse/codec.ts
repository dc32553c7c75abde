/**
 * Column codecs as a spec names them (`codec: "Delta, ZSTD(3)"`), checked offline the way
 * ClickHouse checks them at CREATE: known codecs with arguments in range, a chain ClickHouse
 * accepts without `allow_suspicious_codecs` (a general-purpose compression last, something that
 * compresses, no floating-point codec after a delta), and each codec valid for the column's type.
 * Every rule here was tried against the embedded engine (ClickHouse 26.7); what passes, CREATE
 * accepts. Encryption codecs are left out: they need keys in the server's configuration.
 */
import { unwrapType } from "./column_types.ts";

type Role = "generic" | "transform" | "compresses" | "none";

/** What a codec's base type must be, in words and as a test. */
interface TypeRule {
  words: string;
  test: (base: string) => boolean;
}

const FLOAT = /^Float(32|64)$/;
const INTEGER = /^U?Int(8|16|32|64)$/;
const WIDE_INTEGER = /^U?Int(128|256)$/;
const TIME = /^(Date|Date32|DateTime(64)?(\s*\(.*\))?)$/;
const SMALL_DECIMAL = /^Decimal(32|64)\s*\(|^Decimal\s*\(\s*([1-9]|1[0-8])\s*(,|\))/;
const DECIMAL = /^Decimal(32|64|128|256)?\s*\(/;

/** Columns whose values are 1, 2, 4 or 8 bytes wide: what Delta and DoubleDelta work on. */
const fixedWidth: TypeRule = {
  words: "numbers, dates and times of 1, 2, 4 or 8 bytes",
  test: (b) =>
    INTEGER.test(b) || FLOAT.test(b) || TIME.test(b) || SMALL_DECIMAL.test(b) ||
    /^(Bool|IPv4|Enum(8|16)\s*\(.*\))$/.test(b),
};
const floats: TypeRule = { words: "Float32 and Float64 columns", test: (b) => FLOAT.test(b) };
const integers: TypeRule = {
  words: "integers, decimals, dates and times (not floating point)",
  test: (b) =>
    INTEGER.test(b) || TIME.test(b) || SMALL_DECIMAL.test(b) ||
    /^(Bool|IPv4|Enum(8|16)\s*\(.*\))$/.test(b),
};
const gcd: TypeRule = {
  words: "integers, decimals, dates and times",
  test: (b) => INTEGER.test(b) || WIDE_INTEGER.test(b) || DECIMAL.test(b) || TIME.test(b),
};

interface Codec {
  role: Role;
  /** The base types it applies to; any type when absent. */
  types?: TypeRule;
  /** Checks the arguments: why they are wrong, or undefined. */
  args: (args: string[]) => string | undefined;
}

const none = (args: string[]) => args.length ? "takes no arguments" : undefined;
/** At most one argument, an integer from `min` to `max` (or one of `allowed`). */
const level = (min: number, max: number, allowed?: number[]) => (args: string[]) => {
  if (args.length > 1) return "takes at most one argument";
  if (args.length === 0) return undefined;
  const n = Number(args[0]);
  const ok = /^\d+$/.test(args[0]!) && (allowed ? allowed.includes(n) : n >= min && n <= max);
  if (ok) return undefined;
  return allowed
    ? `takes ${allowed.join(", ")} (bytes per value)`
    : `takes a level from ${min} to ${max}`;
};
const bytes = level(0, 0, [1, 2, 4, 8]);

export const CODECS: Record<string, Codec> = {
  NONE: { role: "none", args: none },
  LZ4: { role: "generic", args: none },
  LZ4HC: { role: "generic", args: level(1, 12) },
  ZSTD: { role: "generic", args: level(1, 22) },
  Delta: { role: "transform", types: fixedWidth, args: bytes },
  DoubleDelta: { role: "compresses", types: fixedWidth, args: bytes },
  Gorilla: { role: "compresses", types: floats, args: bytes },
  FPC: {
    role: "compresses",
    types: floats,
    args: (args) => {
      if (args.length > 2) return "takes at most a level and a float size";
      if (args[0] !== undefined && !(/^\d+$/.test(args[0]) && +args[0] >= 1 && +args[0] <= 28)) {
        return "takes a level from 1 to 28";
      }
      if (args[1] !== undefined && args[1] !== "4" && args[1] !== "8") {
        return "takes a float size of 4 or 8";
      }
      return undefined;
    },
  },
  T64: {
    role: "compresses",
    types: integers,
    args: (args) =>
      args.length === 0 || (args.length === 1 && /^'(bit|byte)'$/.test(args[0]!))
        ? undefined
        : "takes 'bit' or 'byte'",
  },
  GCD: { role: "transform", types: gcd, args: none },
};

/** Splits `a, b(c, d)` at top-level commas, trimmed. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** The codecs of a chain as [name, arguments]; a string naming what cannot be read. */
export function parseCodecs(text: string): [string, string[]][] | string {
  const out: [string, string[]][] = [];
  for (const part of splitTop(text)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^()]*)\))?$/.exec(part);
    if (!m) return part ? `cannot read "${part}" as a codec` : "a codec is missing between commas";
    out.push([m[1]!, m[2] === undefined ? [] : splitTop(m[2]).filter((a) => a !== "")]);
  }
  return out;
}

/** The known codec named like `name` in another case, if any. */
function knownAs(name: string): string | undefined {
  return Object.keys(CODECS).find((k) => k.toLowerCase() === name.toLowerCase());
}

/**
 * Why ClickHouse refuses `codec` on a column of `type`, or undefined when it accepts it.
 * `type` is the column's declared type (Nullable, LowCardinality and Array wrappers aside).
 */
export function codecProblem(codec: string, type: string): string | undefined {
  const chain = parseCodecs(codec);
  if (typeof chain === "string") return chain;
  const base = unwrapType(type).base.replace(/^Array\s*\((.*)\)$/, "$1").trim();
  const described = chain.map(([name, args]) => args.length ? `${name}(${args.join(", ")})` : name);
  for (const [i, [name, args]] of chain.entries()) {
    const c = CODECS[name];
    if (!c) {
      const other = knownAs(name);
      return other
        ? `unknown codec "${name}" (codec names are case-sensitive: ${other})`
        : `unknown codec "${name}"; known: ${Object.keys(CODECS).join(", ")}`;
    }
    const wrong = c.args(args);
    if (wrong) return `${described[i]}: ${name} ${wrong}`;
    if (c.types && !c.types.test(unwrapType(base).base)) {
      return `${name} is for ${c.types.words}, not ${base}`;
    }
  }
  const roles = chain.map(([name]) => CODECS[name]!.role);
  if (roles.includes("none") && chain.length > 1) {
    return `NONE stores the column uncompressed: it cannot be combined with other codecs`;
  }
  const generic = roles.findIndex((r) => r === "generic");
  if (generic !== -1 && generic !== chain.length - 1) {
    return `${described[generic]} must come last: ClickHouse applies nothing after a ` +
      "general-purpose compression (LZ4, LZ4HC, ZSTD)";
  }
  if (roles.every((r) => r === "transform")) {
    return `${described.join(", ")} only transforms the values: add a compression after it, ` +
      `e.g. "${described.join(", ")}, ZSTD(1)"`;
  }
  const delta = chain.findIndex(([name]) => name === "Delta" || name === "DoubleDelta");
  const float = chain.findIndex(([name]) => name === "Gorilla" || name === "FPC");
  if (delta !== -1 && float > delta) {
    return `${described[float]} after ${described[delta]}: floating-point codecs take their own ` +
      "deltas, and ClickHouse refuses them after a delta codec";
  }
  return undefined;
}
