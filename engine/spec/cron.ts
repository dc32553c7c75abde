/**
 * Checks a 5-field cron expression the way Deno.cron reads it (minute hour day-of-month month
 * day-of-week), so a bad schedule is a config error with its position instead of a crash when
 * the engine registers the job.
 */

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

/** Undefined when `expression` is valid, else what is wrong with it. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  }
  for (const [i, field] of fields.entries()) {
    const spec = FIELDS[i]!;
    for (const part of field.split(",")) {
      const problem = partProblem(part, spec.min, spec.max);
      if (problem) return `${spec.name} field "${field}": ${problem}`;
    }
  }
  return undefined;
}

function partProblem(part: string, min: number, max: number): string | undefined {
  const m = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(part);
  if (!m) return `cannot read "${part}"`;
  const [, start, end, step] = m;
  if (start === "*" && end !== undefined) return `cannot read "${part}"`;
  for (const n of [start, end]) {
    if (n === undefined || n === "*") continue;
    if (Number(n) < min || Number(n) > max) return `${n} is outside ${min}-${max}`;
  }
  if (end !== undefined && Number(end) < Number(start)) return `range ${start}-${end} is reversed`;
  if (step !== undefined && Number(step) === 0) return "a step of 0 never fires";
  return undefined;
}
