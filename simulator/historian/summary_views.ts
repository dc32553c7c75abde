/**
 * The summary views, AnalogSummaryHistory and StateSummaryHistory (shared/reference/historian.md
 * §3.3a): one row per analog tag and cycle, or per discrete or string tag, cycle and state, with
 * AVEVA's column names. A query names its tags, its cycles by `StartDateTime >= @a AND
 * EndDateTime <= @b` and `wwResolution` (ms) or `wwCycleCount`, and may set `wwQualityRule`,
 * `wwVersion` and `wwTimeZone`; the cycles start at @a and only whole cycles are returned.
 *
 * Where AVEVA's pages leave it open, issue 29's rules decide: rows exist from the cycle holding
 * the tag's first stored point to the one holding the server's clock (a cycle with nothing
 * covered has Average NULL and PercentGood 0); PercentGood is 0–100 (AVEVA's SDK page says
 * seconds, the Application Server page a 0–100 ratio; the History Average mode's example shows
 * 0–100); a gap marker is no state, so StateSummaryHistory has rows only for states that
 * occurred. The numbers come from summary.ts.
 */
import { SqlTime } from "../tds/types.ts";
import type { SqlValue } from "../tds/types.ts";
import type { Table } from "../sql/run.ts";
import { C } from "./columns.ts";
import type { Column } from "../tds/types.ts";
import { cycles, linear, optionsOf, plan, qualityRule } from "./plan.ts";
import type { HistoryContext, Plan, Shape } from "./plan.ts";
import type { TagStore, View } from "./series.ts";
import { analogSummary, occurrences, pointsFor, stateSummaries } from "./summary.ts";

const HEAD: Column[] = [
  C("TagName", "nvarchar", 256),
  C("StartDateTime", "datetime2"),
  C("EndDateTime", "datetime2"),
  C("wwResolution", "int"),
];
const OPTIONS: Column[] = [
  C("wwCycleCount", "int"),
  C("wwRetrievalMode", "nvarchar", 16),
  C("wwQualityRule", "nvarchar", 20),
  C("wwVersion", "nvarchar", 30),
  C("wwTimeZone", "nvarchar", 50),
];

export const ANALOG_SUMMARY_COLUMNS: Column[] = [
  ...HEAD,
  C("OPCQuality", "int"),
  C("PercentGood", "float"),
  C("First", "float"),
  C("FirstDateTime", "datetime2"),
  C("Last", "float"),
  C("LastDateTime", "datetime2"),
  C("Minimum", "float"),
  C("MinDateTime", "datetime2"),
  C("Maximum", "float"),
  C("MaxDateTime", "datetime2"),
  C("Average", "float"),
  C("StdDev", "float"),
  C("Integral", "float"),
  C("ValueCount", "int"),
  ...OPTIONS,
];

export const STATE_SUMMARY_COLUMNS: Column[] = [
  ...HEAD,
  C("Value", "float"),
  C("vValue", "nvarchar", 4000),
  C("OPCQuality", "int"),
  C("StateCount", "int"),
  C("ContainedStateCount", "int"),
  C("StateTimeMin", "float"),
  C("StateTimeMax", "float"),
  C("StateTimeAvg", "float"),
  C("StateTimeTotal", "float"),
  C("StateTimeMinContained", "float"),
  C("StateTimeMaxContained", "float"),
  C("StateTimeAvgContained", "float"),
  C("StateTimeTotalContained", "float"),
  C("StateTimePercent", "float"),
  C("StateTimePercentContained", "float"),
  ...OPTIONS,
];

const shape = (columns: Column[]): Shape => ({
  options: optionsOf(columns),
  startColumn: "StartDateTime",
  endColumn: "EndDateTime",
  modes: ["CYCLIC"],
  defaultMode: "CYCLIC",
});

/** What every row of a query shares: the cycles, the options it echoes, the time zone. */
interface Query {
  p: Plan;
  view: View;
  list: [bigint, bigint][];
  time(t: bigint | null): SqlTime | null;
  echo: SqlValue[];
}

function query(p: Plan, ctx: HistoryContext): Query {
  const echo = [
    p.cycleCount ?? 0,
    "CYCLIC",
    qualityRule(p),
    p.latest ? "LATEST" : "ORIGINAL",
    p.zone.name,
  ];
  return {
    p,
    view: ctx.view(p.latest),
    list: cycles(p, false),
    time: (t) => (t === null ? null : new SqlTime(p.zone.toLocal(t))),
    echo,
  };
}

/** The cycles a tag has rows for: from the one holding its first stored point to "now". */
function tagCycles(tag: TagStore, q: Query): [bigint, bigint][] {
  const first = tag.range(0n, true, q.view.now, q.view)[Symbol.iterator]().next();
  if (first.done) return [];
  const t0 = first.value.t;
  return q.list.filter(([s, e]) => e > t0 && s < q.view.now);
}

/** Rows of all tags in cycle order, tags in listing order within a cycle. */
function* byCycle(
  q: Query,
  tags: TagStore[],
  rowsOf: (tag: TagStore, cycles: [bigint, bigint][]) => Map<bigint, SqlValue[][]>,
): Generator<SqlValue[]> {
  const perTag = tags.map((tag) => rowsOf(tag, tagCycles(tag, q)));
  for (const [start] of q.list) {
    for (const rows of perTag) yield* rows.get(start) ?? [];
  }
}

export function analogSummaryTable(ctx: HistoryContext): Table {
  const s = shape(ANALOG_SUMMARY_COLUMNS);
  return {
    name: "AnalogSummaryHistory",
    columns: ANALOG_SUMMARY_COLUMNS,
    rows(where, env) {
      const q = query(plan(where, env, ctx, s), ctx);
      const rule = qualityRule(q.p);
      const tags = q.p.tags.filter((t) => t.meta.kind === "analog");
      return byCycle(q, tags, (tag, list) => {
        const out = new Map<bigint, SqlValue[][]>();
        if (list.length === 0) return out;
        const points = pointsFor(tag, list[0]![0], list.at(-1)![1], q.view);
        const options = {
          linear: linear(q.p, tag),
          divisor: tag.meta.integralDivisor,
          rule,
          limit: q.view.now,
        };
        for (const [start, end] of list) {
          const x = analogSummary(points, start, end, options);
          out.set(start, [[
            tag.meta.name,
            q.time(start),
            q.time(end),
            q.p.resolution ?? Number((end - start) / 10_000n),
            x.opcQuality,
            x.percentGood,
            x.first,
            q.time(x.firstTime),
            x.last,
            q.time(x.lastTime),
            x.minimum,
            q.time(x.minTime),
            x.maximum,
            q.time(x.maxTime),
            x.average,
            x.stdDev,
            x.integral,
            x.valueCount,
            ...q.echo,
          ]]);
        }
        return out;
      });
    },
  };
}

export function stateSummaryTable(ctx: HistoryContext): Table {
  const s = shape(STATE_SUMMARY_COLUMNS);
  return {
    name: "StateSummaryHistory",
    columns: STATE_SUMMARY_COLUMNS,
    rows(where, env) {
      const q = query(plan(where, env, ctx, s), ctx);
      const rule = qualityRule(q.p);
      const tags = q.p.tags.filter((t) => t.meta.kind !== "analog");
      return byCycle(q, tags, (tag, list) => {
        const out = new Map<bigint, SqlValue[][]>();
        if (list.length === 0) return out;
        const occ = occurrences(pointsFor(tag, list[0]![0], list.at(-1)![1], q.view), rule);
        for (const [start, end] of list) {
          out.set(
            start,
            stateSummaries(occ, start, end, q.view.now).map((x) => [
              tag.meta.name,
              q.time(start),
              q.time(end),
              q.p.resolution ?? Number((end - start) / 10_000n),
              x.value,
              x.text,
              x.opcQuality,
              x.stateCount,
              x.containedStateCount,
              x.timeMin,
              x.timeMax,
              x.timeAvg,
              x.timeTotal,
              x.timeMinContained,
              x.timeMaxContained,
              x.timeAvgContained,
              x.timeTotalContained,
              x.timePercent,
              x.timePercentContained,
              ...q.echo,
            ]),
          );
        }
        return out;
      });
    },
  };
}
