/**
 * `verify [spec] [--from] [--to] [--tags] [--window 1d] [--repair]`: per tag and window, the
 * readings the historian holds against those stored; a table of the windows that differ and a
 * summary line; exit 1 when any differ. `--repair` re-reads exactly those windows, writes
 * what is missing, and verifies again.
 */
import type { PipelineContext } from "../engine/context.ts";
import { errorText } from "../engine/log.ts";
import { parseDuration } from "../engine/spec/duration.ts";
import { formatTicks, TICKS_PER_MS } from "../engine/types.ts";
import { repair, verify, verifyProblem } from "../engine/verify.ts";
import type { VerifyReport } from "../engine/verify.ts";
import { selection, withPipeline } from "./run.ts";
import type { BackfillOnly } from "./run.ts";

export interface VerifyOptions extends BackfillOnly {
  window?: string;
  repair?: boolean;
}

export function verifyCommand(file: string, options: VerifyOptions): Promise<number> {
  const windowMs = parseDuration(options.window ?? "1d");
  if (windowMs === undefined || windowMs < 60_000) {
    console.error(
      `Cannot use --window "${options.window}": give a duration of at least 1m, e.g. 1d`,
    );
    return Promise.resolve(2);
  }
  return withPipeline(file, undefined, (ctx) => run(ctx, options, windowMs));
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
  if (report.differ.length === 0 || !options.repair) return report.differ.length === 0 ? 0 : 1;
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
