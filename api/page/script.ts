/**
 * The status page's script, run by the browser: it reads the status, tags, series and minute
 * routes named in `api.page`, refreshes itself every 5 s, asks for the API token once when a
 * route answers 401 and keeps it for the tab, and draws charts with uPlot (gap markers as
 * breaks, text tags as steps with their labels, a min/max band for minutes).
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

async function get(path) {
  const r = await fetch(path, { headers: token ? { Authorization: "Bearer " + token } : {} });
  if (r.status === 401) {
    askToken(token ? "That token was refused." : "");
    throw new Error("the API needs its token");
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
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
  set("source", circuit === "closed" ? "reachable" : circuit === "open" ? "failing" : circuit, circuit === "closed" ? "ok" : "bad");
  set("store", h.sink ?? "unknown", h.sink === "reachable" ? "ok" : "bad");
  const cache = h.cache;
  set(
    "cache",
    !cache ? "–" : !cache.configured ? "built-in memory" : cache.using === "configured" ? "configured" : "memory fallback",
    cache?.configured && cache.using === "memory" ? "warn" : "ok",
  );
  if (h.last_sync) {
    set("last-sync", h.last_sync.ok ? "ok" : "failed", h.last_sync.ok ? "ok" : "bad");
    set("last-sync-detail", ago(h.last_sync.at) + ", " + fmt(h.last_sync.rows) + " rows" + (h.last_sync.error ? " — " + h.last_sync.error : ""));
  } else {
    set("last-sync", "not yet", "");
    set("last-sync-detail", "");
  }
  set("tags-count", fmt(status.tags));
  set("points", fmt(status.points));
  const b = h.backfill;
  if (b) {
    set("backfill-done", fmt(b.done));
    set("backfill-units", fmt(b.units));
    set("backfill-rows", fmt(b.rows));
    $("backfill-bar").style.width = (b.units ? Math.round(100 * b.done / b.units) : 100) + "%";
    const seconds = b.started ? (Date.now() - new Date(b.started).getTime()) / 1000 : 0;
    const worked = b.done - (b.skipped ?? 0);
    set("backfill-rate", seconds > 0 ? fmt(Math.round(b.rows / seconds)) : "–");
    set("backfill-eta", !b.running ? "done" : worked > 0 ? Math.round(seconds / worked * (b.units - b.done)) + " s" : "–");
  }
  const errors = h.recent_errors ?? [];
  $("errors").innerHTML = errors.length
    ? errors.slice().reverse().map((e) => "<li>" + esc(new Date(e.at).toLocaleTimeString()) + " " + esc(e.kind) + ": " + esc(e.message) + "</li>").join("")
    : '<li style="color:var(--ok)">none</li>';
  const lag = h.lag_seconds ?? {};
  set("lag-max", lag.max ?? "–");
  set("within", lag.within_freshness ?? "–");
  set("known", fmt(h.tags_known));
  set("freshness", h.freshness_seconds ?? "–");
  renderLags(lag.by_tag ?? {}, h.freshness_seconds);
  renderThroughput(h.throughput ?? []);
  set("updated", "updated " + new Date().toLocaleTimeString(), "");
}

let lags = {};
let freshness = null;
function renderLags(byTag, limit) {
  lags = byTag;
  freshness = limit;
  const filter = $("lag-filter").value.toLowerCase();
  $("lags").innerHTML = Object.entries(lags)
    .filter(([tag]) => tag.toLowerCase().includes(filter))
    .map(([tag, s]) => "<tr><td>" + esc(tag) + '</td><td class="num ' + (freshness !== null && s > freshness ? "bad" : "ok") + '">' + s + "</td></tr>")
    .join("");
}
$("lag-filter").addEventListener("input", () => renderLags(lags, freshness));

function plot(name, el, opts, data) {
  charts[name]?.destroy();
  el.innerHTML = "";
  charts[name] = new uPlot({ width: Math.max(280, el.clientWidth || 600), ...opts }, data, el);
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
  plot("throughput", el, { height: 160, series: [{}, { label: "rows/s", stroke: "#1f6feb", fill: "rgba(31,111,235,.15)" }], axes: [{}, { size: 60 }] }, [xs, ys]);
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
  const custom = $("range").value === "custom";
  $("from").hidden = $("to").hidden = !custom;
  draw();
});
for (const id of ["mode", "from", "to"]) $(id).addEventListener("change", () => draw());

function span() {
  if ($("range").value === "custom" && $("from").value && $("to").value) {
    return [new Date($("from").value).getTime(), new Date($("to").value).getTime()];
  }
  const now = Date.now();
  return [now - Number($("range").value === "custom" ? 86400000 : $("range").value), now];
}

let drawn = 0;
async function draw() {
  if (!selected) return;
  const ask = ++drawn;
  const stale = () => ask !== drawn;
  const [from, to] = span();
  const el = $("chart");
  const width = Math.max(280, el.clientWidth || 600);
  $("labels").innerHTML = "";
  if ($("mode").value === "1min") {
    const rows = await get(cfg.minutes + "?tag=" + encodeURIComponent(selected) + "&start_ts=" + from + "&end_ts=" + to);
    if (stale()) return;
    const data = [rows.map((r) => r.t / 1000), rows.map((r) => r.avg), rows.map((r) => r.min), rows.map((r) => r.max)];
    window.__chart = { tag: selected, mode: "1min", points: rows.length, gaps: 0 };
    $("chart-title").textContent = selected + ": 1-minute average with its min/max band (" + rows.length + " minutes)";
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
    window.__chart = { tag: selected, mode: "raw", kind: "text", points: points.length, gaps, ys };
    $("chart-title").textContent = selected + ": text values as steps (" + points.length + " points, " + gaps + " gaps)";
    plot("chart", el, {
      height: 260,
      series: [{}, { label: "value", stroke: "#8250df", spanGaps: false, paths: uPlot.paths.stepped({ align: 1 }) }],
      axes: [{}, { size: 90, values: (u, ticks) => ticks.map((t) => labels[t] ?? "") }],
    }, [xs, ys]);
    $("labels").innerHTML = "<tr><th>time</th><th>value</th></tr>" + points.map((p) => "<tr><td>" + esc(new Date(p[1]).toISOString()) + "</td><td>" + (p[0] === null ? '<span class="bad">gap</span>' : esc(p[0])) + "</td></tr>").join("");
    return;
  }
  const ys = points.map((p) => p[0]);
  window.__chart = { tag: selected, mode: "raw", kind: "number", points: points.length, gaps, ys };
  $("chart-title").textContent = selected + ": raw values (" + points.length + " points, " + gaps + " gap markers shown as breaks)";
  plot("chart", el, { height: 300, series: [{}, { label: "value", stroke: "#1f6feb", spanGaps: false, points: { show: false } }] }, [xs, ys]);
}

refresh();
loadTags();
setInterval(refresh, 5000);
`;
