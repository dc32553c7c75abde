/**
 * The status page's script, run by the browser: it reads the status, tags, series and minute
 * routes named in `api.page`, refreshes itself every 5 s, asks for the API token once when a
 * route answers 401 and keeps it for the tab, and draws charts with uPlot (gap markers as
 * breaks, text tags as steps with their labels, time-weighted minutes with a min/max band).
 *
 * It stays useful when things break: a status answer that failed still carries the health, so
 * the page says which part is down and why. Every time is shown in UTC, and says so. The
 * explorer's tag, range and resolution live in the URL, so a view can be linked.
 */
export const SCRIPT = String.raw`
const cfg = JSON.parse(document.getElementById("page-config").textContent);
const $ = (id) => document.getElementById(id);
const KEY = "historian-sync-token";
let token = sessionStorage.getItem(KEY);
let charts = {};
let selected = null;

const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmt = (n) => n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
const ago = (t) => { const s = Math.round((Date.now() - new Date(t).getTime()) / 1000); return s < 90 ? s + " s ago" : Math.round(s / 60) + " min ago"; };
// One time zone on the whole page: UTC, 24-hour, labelled.
const iso = (t) => new Date(t).toISOString();
const clock = (t) => iso(t).slice(11, 19) + " UTC";
const stamp = (t) => iso(t).slice(0, 19).replace("T", " ") + " UTC";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const day = (d) => d.getUTCDate() + " " + MONTHS[d.getUTCMonth()];
const seconds = (s) => s < 60 ? Math.round(s) + " s" : s < 3600 ? Math.floor(s / 60) + " min " + Math.round(s % 60) + " s" : Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
// The breaker's states in plain words.
const CIRCUIT = { closed: "reachable", open: "failing", "half-open": "trying again" };
const STORE = { reachable: "reachable", unreachable: "unreachable", busy: "busy", failing: "failing" };

async function get(path) {
  const r = await fetch(path, { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (r.status === 401) {
    askToken(token ? "That token was refused." : "");
    throw new Error("the API needs its token");
  }
  if (!r.ok) {
    // A status route answers a failure with the health still in it: keep it.
    const body = await r.json().catch(() => null);
    if (body?.health) return body;
    throw new Error(path + ": HTTP " + r.status + (body?.error ? ": " + body.error : ""));
  }
  return r.json();
}

function askToken(message) {
  $("login").style.display = "flex";
  $("login-error").textContent = message;
  $("token").focus();
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem(KEY, token);
  $("login").style.display = "none";
  refresh();
  loadTags();
});

function set(id, text, cls) {
  const el = $(id);
  el.textContent = text;
  if (cls !== undefined) el.className = cls;
}

async function refresh() {
  let status;
  try {
    status = await get(cfg.status);
  } catch (e) {
    set("updated", String(e.message), "bad");
    return;
  }
  const h = status.health ?? {};
  const circuit = h.source?.circuit ?? "unknown";
  set("source", CIRCUIT[circuit] ?? circuit, circuit === "closed" ? "ok" : circuit === "half-open" ? "warn" : "bad");
  set("source-detail", circuit !== "closed" && h.source?.lastError ? h.source.lastError : "");
  set("store", STORE[h.sink] ?? "unknown", h.sink === "reachable" ? "ok" : "bad");
  set("store-detail", h.sink_error ?? "");
  const cache = h.cache;
  set(
    "cache",
    !cache ? "–" : !cache.configured ? "built-in memory" : cache.using === "configured" ? "configured" : "memory fallback",
    cache?.configured && cache.using === "memory" ? "warn" : "ok",
  );
  if (h.last_sync) {
    set("last-sync", h.last_sync.ok ? "ok" : "failed", h.last_sync.ok ? "ok" : "bad");
    set("last-sync-detail", ago(h.last_sync.at) + " (" + clock(h.last_sync.at) + "), " + fmt(h.last_sync.rows) + " rows" + (h.last_sync.error ? " — " + h.last_sync.error : ""));
  } else {
    set("last-sync", "not yet", "");
    set("last-sync-detail", "");
  }
  const totals = status.totals === "unavailable";
  set("tags-count", totals ? "unavailable" : fmt(status.tags), totals ? "bad" : "");
  set("points", totals ? "unavailable" : fmt(status.points), totals ? "bad" : "");
  renderBackfill(h.backfill);
  // The store's own failure first (it is why this answer lacks totals), then the engine's.
  const errors = (h.recent_errors ?? []).slice().reverse();
  if (h.sink_error) errors.unshift({ at: Date.now(), kind: "store", message: h.sink_error });
  $("errors").innerHTML = errors.length
    ? errors.map((e) => "<li>" + esc(clock(e.at)) + " " + esc(e.kind) + ": " + esc(e.message) + "</li>").join("")
    : '<li style="color:var(--ok)">none</li>';
  const lag = h.lag_seconds ?? {};
  set("lag-max", lag.max ?? "–");
  set("within", lag.within_freshness ?? "–");
  set("known", fmt(h.tags_known));
  set("freshness", h.freshness_seconds ?? "–");
  renderLags(lag.by_tag ?? {}, h.freshness_seconds);
  renderThroughput(h.throughput ?? []);
  set("updated", "updated " + clock(Date.now()), "");
}

/** Backfill progress; its rate is over the backfill's own time, which ends when it ends. */
function renderBackfill(b) {
  if (!b) return;
  set("backfill-done", fmt(b.done));
  set("backfill-units", fmt(b.units));
  const read = b.rowsRead ?? b.rows;
  set("backfill-read", fmt(read));
  set("backfill-rows", fmt(b.rows));
  set("backfill-already", fmt(b.alreadyStored ?? 0));
  $("backfill-bar").style.width = (b.units ? Math.round(100 * b.done / b.units) : 100) + "%";
  const started = b.started ? new Date(b.started).getTime() : null;
  const end = b.finished ? new Date(b.finished).getTime() : Date.now();
  const took = b.seconds ?? (started ? (end - started) / 1000 : 0);
  set("backfill-rate", took > 0 ? fmt(Math.round(read / took)) : "–");
  set("backfill-eta", !b.running ? (b.done >= b.units ? "done" : "stopped") : b.etaSeconds !== undefined ? seconds(b.etaSeconds) : "–");
  set("backfill-when", started ? "started " + stamp(started) + (b.finished ? ", ended " + stamp(b.finished) + " after " + seconds(took) : "") : "");
}

/** A tag name that may wrap after its dots (and anywhere, if it must). */
const breakable = (tag) => esc(tag).replace(/\./g, ".<wbr>");

let lags = {};
let freshness = null;
function renderLags(byTag, limit) {
  lags = byTag;
  freshness = limit;
  const filter = $("lag-filter").value.toLowerCase();
  $("lags").innerHTML = Object.entries(lags)
    .filter(([tag]) => tag.toLowerCase().includes(filter))
    .map(([tag, s]) => "<tr><td>" + breakable(tag) + '</td><td class="num ' + (freshness !== null && s > freshness ? "bad" : "ok") + '">' + s + "</td></tr>")
    .join("");
}
$("lag-filter").addEventListener("input", () => renderLags(lags, freshness));

/** Tick labels of a time axis in UTC: HH:MM, the day under the first tick of each day. */
function timeTicks(u, splits, axis, space, incr) {
  let last = null;
  return splits.map((s) => {
    const d = new Date(s * 1000);
    if (incr >= 86400) return day(d);
    const hm = d.toISOString().slice(11, 16);
    const today = d.toISOString().slice(0, 10);
    const label = today === last ? hm : hm + "\n" + day(d);
    last = today;
    return label;
  });
}

/** A y axis as wide as its widest label, so no label is cut or runs into the plot. */
function fitAxis(u, values, axis) {
  if (!values) return 40;
  const ctx = u.ctx;
  ctx.save();
  ctx.font = u.axes[axis].font[0];
  const widest = Math.max(...values.map((v) => ctx.measureText(String(v ?? "")).width));
  ctx.restore();
  return Math.ceil(widest / devicePixelRatio) + 18;
}

const X_AXIS = { space: 64, values: timeTicks, label: "time (UTC)", labelSize: 18 };
const X_SERIES = { label: "time (UTC)", value: (u, v) => v === null ? "–" : stamp(v * 1000) };

function plot(name, el, opts, data) {
  charts[name]?.destroy();
  el.innerHTML = "";
  const axes = opts.axes ?? [{}, {}];
  charts[name] = new uPlot({
    width: Math.max(260, el.clientWidth || 600),
    ...opts,
    series: [X_SERIES, ...opts.series.slice(1)],
    axes: [{ ...X_AXIS, ...axes[0] }, { size: fitAxis, space: 30, ...axes[1] }],
  }, data, el);
  return charts[name];
}

function renderThroughput(points) {
  const el = $("throughput");
  // Every minute of the last hour, idle ones at zero.
  const rows = new Map(points);
  const last = Math.floor(Date.now() / 60000) * 60000;
  const minutes = Array.from({ length: 60 }, (_, i) => last - (59 - i) * 60000);
  const xs = minutes.map((m) => m / 1000);
  const ys = minutes.map((m) => (rows.get(m) ?? 0) / 60);
  plot("throughput", el, { height: 180, series: [{}, { label: "rows/s", stroke: "#1f6feb", fill: "rgba(31,111,235,.15)" }] }, [xs, ys]);
}

let searchTimer;
$("tag-search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadTags, 250); });

let tagsAsked = 0;
async function loadTags() {
  const q = $("tag-search").value.trim();
  const ask = ++tagsAsked;
  let rows;
  try {
    rows = await get(cfg.tags + "?limit=50" + (q ? "&search=" + encodeURIComponent(q) : ""));
  } catch (e) {
    $("tags").textContent = e.message;
    return;
  }
  if (ask !== tagsAsked) return; // a newer search answered first
  $("tags").innerHTML = rows.map((r) => '<button data-tag="' + esc(r.tag) + '"' + (r.tag === selected ? ' class="on"' : "") + ">" + esc(r.tag) + " <small>(" + fmt(r.points) + ")</small></button>").join("");
}
$("tags").addEventListener("click", (e) => {
  const button = e.target.closest("button");
  if (!button) return;
  selected = button.dataset.tag;
  for (const b of $("tags").querySelectorAll("button")) b.classList.toggle("on", b === button);
  draw();
});
$("range").addEventListener("change", () => {
  showCustom();
  draw();
});
for (const id of ["mode", "from", "to"]) $(id).addEventListener("change", () => draw());

function showCustom() {
  const custom = $("range").value === "custom";
  for (const id of ["from-label", "to-label"]) $(id).hidden = !custom;
}

/** The explorer's view in the URL (tag, range, custom from/to in UTC, resolution), so it can be linked. */
function saveView() {
  const q = new URLSearchParams();
  if (selected) q.set("tag", selected);
  q.set("range", $("range").value);
  if ($("range").value === "custom") {
    if ($("from").value) q.set("from", $("from").value);
    if ($("to").value) q.set("to", $("to").value);
  }
  q.set("mode", $("mode").value);
  history.replaceState(null, "", location.pathname + "?" + q.toString());
}

/** The view a linked URL names; unknown values are left at their defaults. */
function restoreView() {
  const q = new URLSearchParams(location.search);
  const pick = (id, value) => {
    if (value && [...$(id).options].some((o) => o.value === value)) $(id).value = value;
  };
  pick("range", q.get("range"));
  pick("mode", q.get("mode"));
  if (q.get("from")) $("from").value = q.get("from");
  if (q.get("to")) $("to").value = q.get("to");
  showCustom();
  selected = q.get("tag");
}

/** The chosen range in epoch ms; the custom inputs are read as UTC. */
function span() {
  if ($("range").value === "custom" && $("from").value && $("to").value) {
    return [Date.parse($("from").value + "Z"), Date.parse($("to").value + "Z")];
  }
  const now = Date.now();
  return [now - Number($("range").value === "custom" ? 86400000 : $("range").value), now];
}

let drawn = 0;
async function draw() {
  saveView();
  if (!selected) return;
  const ask = ++drawn;
  const stale = () => ask !== drawn;
  const [from, to] = span();
  const el = $("chart");
  const width = Math.max(260, el.clientWidth || 600);
  $("labels").innerHTML = "";
  const range = " from " + stamp(from) + " to " + stamp(to);
  try {
    if ($("mode").value === "1min") {
      const rows = await get(cfg.minutes + "?tag=" + encodeURIComponent(selected) + "&start_ts=" + from + "&end_ts=" + to);
      if (stale()) return;
      const data = [rows.map((r) => r.t / 1000), rows.map((r) => r.avg), rows.map((r) => r.min), rows.map((r) => r.max)];
      window.__chart = { tag: selected, mode: "1min", points: rows.length, gaps: rows.filter((r) => r.avg === null).length, from, to };
      $("chart-title").textContent = selected + ": 1-minute time-weighted average with the min/max band of its points (" + rows.length + " minutes)" + range;
      plot("chart", el, {
        height: 300,
        series: [{}, { label: "avg", stroke: "#1f6feb", spanGaps: false }, { label: "min", stroke: "rgba(31,111,235,.35)" }, { label: "max", stroke: "rgba(31,111,235,.35)" }],
        bands: [{ series: [3, 2], fill: "rgba(31,111,235,.12)" }],
      }, data);
      return;
    }
    const series = await get(cfg.series + "?tags=" + encodeURIComponent(selected) + "&start_ts=" + from + "&end_ts=" + to + "&max_data_points=" + Math.min(width * 2, 5000));
    if (stale()) return;
    const points = series[0]?.datapoints ?? [];
    const texts = points.some((p) => typeof p[0] === "string");
    const xs = points.map((p) => p[1] / 1000);
    const gaps = points.filter((p) => p[0] === null).length;
    if (texts) {
      // Text tags: a step per change, the labels listed under the chart.
      const labels = [...new Set(points.map((p) => p[0]).filter((v) => v !== null))];
      const ys = points.map((p) => (p[0] === null ? null : labels.indexOf(p[0])));
      window.__chart = { tag: selected, mode: "raw", kind: "text", points: points.length, gaps, ys, from, to };
      $("chart-title").textContent = selected + ": text values as steps (" + points.length + " points, " + gaps + " gaps)" + range;
      plot("chart", el, {
        height: 260,
        series: [{}, { label: "value", stroke: "#8250df", spanGaps: false, paths: uPlot.paths.stepped({ align: 1 }) }],
        axes: [{}, { values: (u, ticks) => ticks.map((t) => labels[t] ?? "") }],
      }, [xs, ys]);
      $("labels").innerHTML = "<tr><th>time (UTC)</th><th>value</th></tr>" + points.map((p) => "<tr><td>" + esc(stamp(p[1])) + "</td><td>" + (p[0] === null ? '<span class="bad">gap</span>' : esc(p[0])) + "</td></tr>").join("");
      return;
    }
    const ys = points.map((p) => p[0]);
    window.__chart = { tag: selected, mode: "raw", kind: "number", points: points.length, gaps, ys, from, to };
    $("chart-title").textContent = selected + ": raw values (" + points.length + " points, " + gaps + " gap markers shown as breaks)" + range;
    plot("chart", el, { height: 300, series: [{}, { label: "value", stroke: "#1f6feb", spanGaps: false, points: { show: false } }] }, [xs, ys]);
  } catch (e) {
    if (!stale()) $("chart-title").textContent = selected + ": " + e.message;
  }
}

/** Refreshes every 5 s, the next one once this one is answered (a hung store never piles them up). */
async function refreshLoop() {
  await refresh();
  setTimeout(refreshLoop, 5000);
}

restoreView();
refreshLoop();
loadTags();
draw();
`;
