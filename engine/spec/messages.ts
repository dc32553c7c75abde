/**
 * Turns zod issues into the one-line messages users read. Kept apart from positions: this file
 * says *what* is wrong, load.ts says *where*.
 */
import type { z } from "zod";

type Issue = z.core.$ZodIssue & { input?: unknown };

/** How a value looks in a message: strings quoted, containers named. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  }
  return String(value);
}

const TYPE_NAMES: Record<string, string> = {
  object: "a map",
  record: "a map",
  array: "a list",
  string: "text",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

/** The message for `issue`; with `hideInput`, the offending value is not repeated (secrets). */
export function issueMessage(issue: Issue, hideInput = false): string {
  const message = plainMessage(issue);
  return hideInput ? message.replace(/, got .*$/, " (value hidden: it is a secret)") : message;
}

function plainMessage(issue: Issue): string {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      if (!issue.message.startsWith("Invalid input")) return issue.message; // the schema's own wording
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${
        describeValue(issue.input)
      }`;
    case "too_small":
      return boundMessage("at least", "more than", issue.minimum, issue.inclusive, issue.origin);
    case "too_big":
      return boundMessage("at most", "less than", issue.maximum, issue.inclusive, issue.origin);
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${describeValue(issue.values[0])}, got ${describeValue(issue.input)}`
        : `expected one of ${issue.values.map(describeValue).join(", ")}, got ${
          describeValue(issue.input)
        }`;
    case "invalid_format":
      return `${issue.message.replace(/^Invalid string: /, "")}, got ${describeValue(issue.input)}`;
    case "invalid_key":
      return `invalid key: ${issue.issues[0]?.message ?? issue.message}`;
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

function boundMessage(
  incl: string,
  excl: string,
  bound: number | bigint,
  inclusive: boolean | undefined,
  origin: string,
): string {
  if (origin === "array" || origin === "set") {
    return Number(bound) === 1 && inclusive !== false
      ? "must not be empty"
      : `must have ${incl} ${bound} items`;
  }
  if (origin === "string") {
    return Number(bound) === 1 && inclusive !== false
      ? "must not be empty"
      : `must be ${incl} ${bound} characters`;
  }
  return `must be ${inclusive === false ? excl : incl} ${bound}`;
}

/** The closest of `candidates` to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(word.length / 3))
    ? best
    : undefined;
}

/** Edit distance where swapping two neighbours counts as one edit ("hots" → "host"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
