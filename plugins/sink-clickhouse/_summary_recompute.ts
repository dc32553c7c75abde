/**
 * The recompute of the summaries a committed unit decides (summaries.ts has the storage;
 * docs/summaries.md the rules): per tag, from the cycle holding the unit's first instant — for
 * linear and state tags from the cycle of the point before it — to the cycle holding the tag's
 * first stored point after the unit (or its horizon); then every coarser cycle above.
 *
 * One plan query reads each tag's bounds off the stored finest rows (`_prev_time`, `_first_time`:
 * an index that can only err on the safe side, since stored points are never removed), the
 * per-tag tables and one cycle of raw points; the per-tag plan then goes to the `__plan` table in
 * a request body, and every statement joins it.
 */
import type { ClickHouseSettings } from "@clickhouse/client";
import type { Ticks, TimeWindow } from "../../engine/mod.ts";
import { command, rows } from "./_client.ts";
import type { Conn } from "./_client.ts";
import { q } from "./ddl.ts";
import { chTicks, planWhere, ticks, unionInserts } from "./_summary_sql.ts";
import { analogFromRaw, analogRollup } from "./_summary_analog.ts";
import { statesFromRaw, statesRollup } from "./_summary_states.ts";
import type { SummarySql } from "./_summary_sql.ts";
import type { PreparedSummaries } from "./summaries.ts";

/** Per tag, what a recompute reads and writes. */
interface TagPlan {
  tag: string;
  state: boolean;
  linear: boolean;
  divisor: number;
  horizon: Ticks;
  /** Read raw points in [lo, hi]. */
  lo: Ticks;
  hi: Ticks;
  /** Finest cycles s0..s1 (indexes on the UTC grid). */
  s0: bigint;
  s1: bigint;
}

interface BoundsRow {
  tag: string;
  kind: string | null;
  interpolation: string | null;
  divisor: number | null;
  h: string | null;
  p1: string | null;
  p0: string | null;
  a: string | null;
  firsts: string[];
}

/** At most this many time ranges in a raw read (tags sharing one read it once). */
const GROUPS = 16;

/**
 * Recomputes what a committed unit decides: the finest cycles from its raw points, then every
 * coarser cycle above them. Idempotent: run twice, it writes the same rows again.
 */
export async function recomputeSummaries(
  conn: Conn,
  p: PreparedSummaries,
  tags: readonly string[],
  window: TimeWindow,
  site: string,
): Promise<void> {
  if (tags.length === 0) return;
  const s = p.sql;
  const listed = crypto.randomUUID();
  await insertPlan(conn, s, listed, tags.map((tag) => ({ tag })));
  const siteColumn = s.site ? `${q(s.site)}, ` : "";
  const siteValue = s.site ? "{site:String}, " : "";
  await command(
    conn,
    "moving the summaries' horizon",
    `INSERT INTO ${p.horizonTable} (${siteColumn}tag, horizon) SELECT ${siteValue}tag, ` +
      `{to:DateTime64(7, 'UTC')} FROM ${s.plan} WHERE id = {plan:String}`,
    { plan: listed, to: chTicks(window.to), site },
    { insert_deduplicate: 0 },
  );
  const plans = await planTags(conn, p, listed, window, site);
  const rt0 = BigInt(p.cycles[0]!) * 10_000n;
  const id = crypto.randomUUID();
  const groups = groupRanges(plans, rt0);
  await insertPlan(
    conn,
    s,
    id,
    groups.flatMap((g, grp) =>
      g.plans.map((t) => ({
        tag: t.tag,
        state: t.state ? 1 : 0,
        lo: String(t.lo),
        hi: String(t.hi),
        s0: String(t.s0),
        s1: String(t.s1),
        h: String(t.horizon),
        lin: t.linear && !t.state ? 1 : 0,
        dv: t.divisor,
        grp,
      }))
    ),
  );
  const ranges = Object.fromEntries(groups.flatMap((g, i) => [
    [`g${i}_from`, chTicks(g.from)],
    [`g${i}_to`, chTicks(g.to)],
  ]));
  const where = planWhere(s, groups.length, s.tag, s.time);
  for (const state of [false, true]) {
    const chosen = plans.filter((t) => t.state === state);
    if (chosen.length === 0) continue;
    const kind = state ? "states" : "analog summaries";
    const finest = p.cycles[0]!;
    await command(
      conn,
      `recomputing ${kind} per ${finest / 1000} s`,
      state ? statesFromRaw(s, finest, where) : analogFromRaw(s, finest, where),
      { ...ranges, plan: id, site },
      COMPUTE,
    );
    // Every coarser cycle from the finest rows just written, in one statement.
    const coarse = p.cycles.slice(1);
    if (coarse.length === 0) continue;
    const spans: Record<string, string> = {};
    for (const cycle of coarse) {
      const rt = BigInt(cycle) * 10_000n;
      spans[`r${rt}_from`] = chTicks(min(chosen.map((t) => t.s0)) * rt0 / rt * rt);
      spans[`r${rt}_to`] = chTicks((max(chosen.map((t) => t.s1)) * rt0 / rt + 1n) * rt);
    }
    await command(
      conn,
      `rolling up ${kind} per ${coarse.map((c) => `${c / 1000} s`).join(", ")}`,
      unionInserts(
        coarse.map((cycle) =>
          state ? statesRollup(s, finest, finest, cycle) : analogRollup(s, finest, finest, cycle)
        ),
      ),
      { plan: id, site, ...spans },
      COMPUTE,
    );
  }
}

/** Rows of the plan table, in the request's body. */
async function insertPlan(
  conn: Conn,
  s: SummarySql,
  id: string,
  rows: Record<string, unknown>[],
) {
  const body = rows.map((r) => JSON.stringify({ id, ...r })).join("\n");
  await command(
    conn,
    "planning the summaries' recompute",
    `INSERT INTO ${s.plan} (${Object.keys({ id, ...rows[0] }).map(q).join(", ")}) ` +
      `FORMAT JSONEachRow\n${body}`,
    {},
    { insert_deduplicate: 0 },
  );
}

/**
 * Settings of the recompute: rows of one key never span partitions (monthly, by cycle start),
 * so FINAL need not merge across them; inserts need no merge pass (every read says FINAL).
 */
const COMPUTE: ClickHouseSettings = {
  do_not_merge_across_partitions_select_final: 1,
  optimize_on_insert: 0,
};

const min = (xs: bigint[]) => xs.reduce((a, b) => (b < a ? b : a));
const max = (xs: bigint[]) => xs.reduce((a, b) => (b > a ? b : a));

/**
 * Tags grouped by their read range (rounded out to finest cycles), at most GROUPS groups: tags
 * in time order of their ranges' starts, each group reading from its earliest start to its
 * latest end.
 */
function groupRanges(plans: TagPlan[], rt: bigint) {
  const sorted = [...plans].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const exact = new Map<string, TagPlan[]>();
  for (const t of sorted) {
    const key = `${t.lo / rt}:${t.hi / rt}`;
    exact.set(key, [...(exact.get(key) ?? []), t]);
  }
  const lists = [...exact.values()];
  const per = Math.ceil(lists.length / GROUPS);
  const out: { plans: TagPlan[]; from: bigint; to: bigint }[] = [];
  for (let i = 0; i < lists.length; i += per) {
    const members = lists.slice(i, i + per).flat();
    out.push({
      plans: members,
      from: min(members.map((t) => t.lo)) / rt * rt,
      to: (max(members.map((t) => t.hi)) / rt + 1n) * rt,
    });
  }
  return out;
}

/**
 * The bounds of each tag's recompute, in one query: from the per-tag tables, the finest stored
 * rows around the window (their `_prev_time` and `_first_time`), and the raw point at or before
 * `from` within the window's first cycle.
 */
async function planTags(
  conn: Conn,
  p: PreparedSummaries,
  listed: string,
  window: TimeWindow,
  site: string,
): Promise<TagPlan[]> {
  const s = p.sql;
  const rt = BigInt(p.cycles[0]!) * 10_000n;
  const res = p.cycles[0]!;
  const firstCycle = (window.from + 1n) / rt;
  const lastCycle = window.to / rt;
  const where = (column = "site") => (s.site ? `${q(column)} = {site:String} AND ` : "");
  const planned = `(SELECT tag FROM ${s.plan} WHERE id = {plan:String})`;
  const data = (what: string) =>
    `SELECT TagName AS tag, StartDateTime, _prev_time, _first_time FROM ${what} FINAL ` +
    `WHERE ${where(s.site)}wwResolution = ${res} AND TagName IN ${planned}`;
  const both = `(${data(s.analogData)} UNION ALL ${data(s.stateData)})`;
  const cycleOf = (expr: string) => `intDiv(${ticks(expr)}, ${rt})`;
  const nTicks = (expr: string) => `if(${expr} IS NULL, NULL, toString(${ticks(expr)}))`;
  // r1: the point in effect at the first cycle's start, from that cycle's stored row, or from
  // the cycle before when the first has none yet (a horizon on the cycle's very start leaves
  // it unstored): without it a linear segment ending in that cycle was not recomputed when the
  // unit after it brought its next point (verify found it at day-unit boundaries).
  const sql = `WITH r1 AS (SELECT tag, argMax(_prev_time, StartDateTime) AS prev FROM ${both} ` +
    `WHERE StartDateTime IN ({c0:DateTime64(7, 'UTC')}, {c1:DateTime64(7, 'UTC')}) ` +
    `GROUP BY tag) ` +
    `SELECT T.tag AS tag, m.kind AS kind, m.interpolation AS interpolation, m.divisor AS divisor, ` +
    `toString(${ticks("h.h")}) AS h, ${nTicks("r1.prev")} AS p1, ${nTicks("r0.prev")} AS p0, ` +
    `toString(lp.a) AS a, arrayMap(x -> toString(x), n.firsts) AS firsts ` +
    `FROM ${planned} AS T ` +
    `LEFT JOIN (SELECT tag, argMax(kind, _version) AS kind, ` +
    `argMax(interpolation, _version) AS interpolation, ` +
    `argMax(integral_divisor, _version) AS divisor FROM ${p.tagsTable} ` +
    `WHERE ${where(s.site)}tag IN ${planned} GROUP BY tag) AS m ON m.tag = T.tag ` +
    `LEFT JOIN (SELECT tag, max(horizon) AS h FROM ${p.horizonTable} ` +
    `WHERE ${where(s.site)}tag IN ${planned} GROUP BY tag) AS h ON h.tag = T.tag ` +
    `LEFT JOIN r1 ON r1.tag = T.tag ` +
    `LEFT JOIN (SELECT tag, _prev_time AS prev FROM ${both} WHERE (tag, ` +
    `${cycleOf("StartDateTime")}) IN (SELECT tag, ${cycleOf("prev")} FROM r1 ` +
    `WHERE prev IS NOT NULL)) AS r0 ON r0.tag = T.tag ` +
    `LEFT JOIN (SELECT tag, arraySlice(arraySort(groupArray(${ticks("_first_time")})), 1, 2) ` +
    `AS firsts FROM ${both} WHERE StartDateTime > {ct:DateTime64(7, 'UTC')} ` +
    `AND _first_time IS NOT NULL GROUP BY tag) AS n ON n.tag = T.tag ` +
    `LEFT JOIN (SELECT ${q(s.tag)} AS tag, max(${ticks(q(s.time))}) AS a FROM ${s.raw} ` +
    `WHERE ${where(s.site)}${q(s.tag)} IN ${planned} AND ${q(s.time)} >= ` +
    `{c0:DateTime64(7, 'UTC')} AND ${q(s.time)} <= {f:DateTime64(7, 'UTC')} GROUP BY tag) ` +
    `AS lp ON lp.tag = T.tag ` +
    `SETTINGS join_use_nulls = 1`;
  const found = await rows<BoundsRow>(conn, "planning the summaries' recompute", sql, {
    plan: listed,
    site,
    c0: chTicks((firstCycle - 1n) * rt),
    c1: chTicks(firstCycle * rt),
    ct: chTicks(lastCycle * rt),
    f: chTicks(window.from),
  });
  return found.map((r): TagPlan => {
    const state = r.kind === "state";
    const linear = r.interpolation !== "stairstep";
    const back = state || linear;
    const horizon = r.h !== null ? BigInt(r.h) : window.to;
    const p1 = r.p1 !== null ? BigInt(r.p1) : undefined;
    // The point at or before `from`: the latest of the one the stored row says was in effect
    // at the window's first cycle and the raw points of that cycle (and the one before) up to `from`.
    const inCycle = r.a !== null ? BigInt(r.a) : undefined;
    const a = inCycle !== undefined && (p1 === undefined || inCycle > p1) ? inCycle : p1;
    const s0 = back && a !== undefined ? a / rt : firstCycle;
    // Read back to the point in effect at s0's start: the stored row says no earlier than this.
    const p0 = r.p0 !== null ? BigInt(r.p0) : 0n;
    const lo = back && a !== undefined && a === p1 ? p0 : p1 ?? 0n;
    const [u1, u2] = r.firsts.map(BigInt);
    const s1 = (u1 !== undefined && u1 < horizon ? u1 : horizon) / rt;
    const hi = u2 !== undefined && u2 < horizon ? u2 : horizon;
    return {
      tag: r.tag,
      state,
      linear,
      divisor: r.divisor ?? 1,
      horizon,
      lo: lo < s0 * rt ? lo : 0n,
      hi,
      s0: s0 < firstCycle ? s0 : firstCycle,
      s1: s1 > lastCycle ? s1 : lastCycle,
    };
  });
}
