/**
 * `verify [spec] [--from] [--to] [--tags] [--window 1d] [--repair]`: per tag and window, the
 * readings the historian holds against those stored; a table of the windows that differ and a
 * summary line; exit 1 when any differ. `--repair` re-reads exactly those windows, writes
 * what is missing, and verifies again. `--summaries [--tolerance 1e-9]` compares the stored
 * summary tables with the historian's own summaries instead (verify_summaries.ts prints them).
 */
import type { PipelineContext } from "../engine/context.ts";
import { errorText } from "../engine/log.ts";
import { parseDuration } from "../engine/spec/duration.ts";
import { formatTicks, TICKS_PER_MS } from "../engine/types.ts";
import { repair, verify, verifyProblem } from "../engine/verify.ts";
import type { VerifyReport } from "../engine/verify.ts";
import { DEFAULT_TOLERANCE } from "../engine/summary_diff.ts";
import { summariesProblem, verifySummaries } from "../engine/verify_summaries.ts";
import { printSummaries } from "./_summaries.ts";
import { selection, withPipeline } from "./run.ts";
import type { BackfillOnly } from "./run.ts";

export interface VerifyOptions extends BackfillOnly {
  window?: string;
  repair?: boolean;
  summaries?: boolean;
  tolerance?: string;
}

export function verifyCommand(file: string, options: VerifyOptions): Promise<number> {
  const windowMs = parseDuration(options.window ?? "1d");
  if (windowMs === undefined || windowMs < 60_000) {
    console.error(
      `Cannot use --window "${options.window}": give a duration of at least 1m, e.g. 1d`,
    );
    return Promise.resolve(2);
  }
  if (options.summaries) {
    const tolerance = Number(options.tolerance ?? DEFAULT_TOLERANCE);
    if (options.tolerance !== undefined && !(tolerance >= 0 && tolerance < 1)) {
      console.error(
        `Cannot use --tolerance "${options.tolerance}": give a relative tolerance from 0 to below 1, e.g. 1e-9`,
      );
      return Promise.resolve(2);
    }
    if (options.repair) {
      console.error(
        "Cannot use --repair with --summaries: summaries are recomputed from the stored readings; verify and repair the readings first",
      );
      return Promise.resolve(2);
    }
    return withPipeline(file, undefined, (ctx) => summaries(ctx, options, windowMs, tolerance));
  }
  if (options.tolerance !== undefined) {
    console.error("Cannot use --tolerance without --summaries: counts are compared exactly");
    return Promise.resolve(2);
  }
  return withPipeline(file, undefined, (ctx) => run(ctx, options, windowMs));
}

async function summaries(
  ctx: PipelineContext,
  options: VerifyOptions,
  windowMs: number,
  tolerance: number,
) {
  const problem = summariesProblem(ctx);
  if (problem) {
    console.error(`Cannot verify summaries: ${problem}`);
    return 1;
  }
  const { tags, from, to } = await selection(ctx, options);
  try {
    const report = await verifySummaries(ctx, tags, from, to, { windowMs, tolerance });
    printSummaries(report);
    return report.differ.length === 0 ? 0 : 1;
  } catch (e) {
    console.error(`Cannot verify summaries: ${errorText(e)}`);
    return 1;
  }
}

async function run(ctx: PipelineContext, options: VerifyOptions, windowMs: number) {
  const problem = verifyProblem(ctx);
  if (problem) {
    console.error(`Cannot verify: ${problem}`);
    return 1;
  }
  const { tags, from, to } = await selection(ctx, options);
  let report = await verify(ctx, tags, from, to, windowMs);
  print(report, windowMs);
  if (report.differ.length === 0) return 0;
  if (!options.repair) {
    console.log(repairHint(report));
    return 1;
  }
  try {
    const fixed = await repair(ctx, tags, report.differ);
    console.log(
      `repair: re-read ${report.differ.length} tag-windows, wrote ${fixed.rows} readings` +
        (fixed.failed.length ? `, ${fixed.failed.length} units failed` : ""),
    );
  } catch (e) {
    console.error(`repair failed: ${errorText(e)}`);
    return 1;
  }
  report = await verify(ctx, tags, from, to, windowMs);
  print(report, windowMs);
  return report.differ.length === 0 ? 0 : 1;
}

/** What to do about windows that differ: the same command with --repair. */
export function repairHint(report: VerifyReport): string {
  const missing = report.historian - report.stored;
  return `${report.differ.length} tag-windows differ` +
    (missing > 0 ? ` (${missing} readings missing from the store)` : "") +
    ": run the same verify with --repair to re-read exactly those windows, write what is " +
    "missing and verify again";
}

function print(report: VerifyReport, windowMs: number) {
  const w = BigInt(windowMs) * TICKS_PER_MS;
  // A window is (from, to]; it is shown by its first instant on the grid when it has one.
  const start = (from: bigint) => ((from + 1n) % w === 0n ? from + 1n : from);
  const time = (t: bigint) => formatTicks(t).replace(/\.0+Z$/, "Z");
  if (report.differ.length > 0) {
    const width = Math.max(3, ...report.differ.map((d) => d.tag.length));
    console.log(
      `${"tag".padEnd(width)}  ${"from".padEnd(20)}  ${"to".padEnd(20)}  ${
        "historian".padStart(10)
      }  ${"stored".padStart(10)}  ${"missing".padStart(8)}`,
    );
    for (const d of report.differ) {
      console.log(
        `${d.tag.padEnd(width)}  ${time(start(d.from)).padEnd(20)}  ${time(d.to).padEnd(20)}  ${
          String(d.historian).padStart(10)
        }  ${String(d.stored).padStart(10)}  ${String(d.historian - d.stored).padStart(8)}`,
      );
    }
  }
  console.log(
    `verify: ${report.tags} tags, ${report.compared} tag-windows compared in ${
      report.seconds.toFixed(1)
    } s: ${report.differ.length} differ (historian ${report.historian} readings, stored ${report.stored})`,
  );
}
