/**
 * The status page (`GET /`) and the API docs (`GET /docs`): plain HTML, a stylesheet and a script,
 * served by the API itself with uPlot from npm; no build step, no CDN. The page reads the same
 * REST routes dashboards use, with the token kept for the tab when the API has one.
 */
import { SCRIPT } from "./script.ts";
import { STYLE } from "./style.ts";

export function pageHtml(title: string, routes: Record<string, string>): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · historian-sync</title>
<link rel="icon" href="/favicon.svg">
<link rel="stylesheet" href="/ui/uplot.css">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>historian-sync · <span id="pipeline">${escape(title)}</span></h1>
  <span id="updated" class="muted"></span><span class="muted">all times UTC</span>
  <nav><a href="/docs">API docs</a><a href="/openapi.json">openapi.json</a><a href="/metrics">metrics</a></nav>
</header>
<main>
  <section>
    <h2>Health</h2>
    <div class="cards">
      <div class="card"><span>Source</span><b id="source">…</b><span id="source-detail" class="detail"></span></div>
      <div class="card"><span>Store</span><b id="store">…</b><span id="store-detail" class="detail"></span></div>
      <div class="card"><span>Cache</span><b id="cache">…</b></div>
      <div class="card"><span>Last sync</span><b id="last-sync">…</b><span id="last-sync-detail"></span></div>
      <div class="card"><span>Tags</span><b id="tags-count">…</b></div>
      <div class="card"><span>Stored readings</span><b id="points">…</b></div>
    </div>
  </section>
  <section>
    <h2>Backfill</h2>
    <div class="bar"><div id="backfill-bar" style="width:0"></div></div>
    <div><b id="backfill-done">0</b> of <b id="backfill-units">0</b> units: <span id="backfill-read">0</span> readings read,
      <span id="backfill-rows">0</span> stored, <span id="backfill-already">0</span> already stored;
      <span id="backfill-rate">–</span> rows/s read, ETA <span id="backfill-eta">–</span></div>
    <div id="backfill-when" class="muted"></div>
    <h2 style="margin-top:.75rem">Recent errors</h2>
    <ul id="errors" class="errors"><li class="ok" style="color:var(--ok)">none</li></ul>
  </section>
  <section>
    <h2>Freshness</h2>
    <div class="row"><span><b id="within">–</b> of <b id="known">–</b> tags within <span id="freshness">–</span> s</span>
      <span>worst: <b id="lag-max">–</b> s</span></div>
    <div class="row"><input id="lag-filter" placeholder="filter tags" aria-label="filter tags"></div>
    <div class="scroll"><table class="lags"><thead><tr><th>tag</th><th class="num">lag (s)</th></tr></thead><tbody id="lags"></tbody></table></div>
  </section>
  <section>
    <h2>Throughput, last hour (rows/s stored)</h2>
    <div id="throughput"></div>
  </section>
  <section class="wide">
    <h2>Tag explorer</h2>
    <div class="row">
      <input id="tag-search" placeholder="search tags" aria-label="search tags">
      <select id="range" aria-label="time range"><option value="3600000">last hour</option><option value="86400000" selected>last day</option><option value="604800000">last week</option><option value="custom">custom</option></select>
      <label id="from-label" hidden>from (UTC) <input id="from" type="datetime-local" aria-label="from (UTC)"></label>
      <label id="to-label" hidden>to (UTC) <input id="to" type="datetime-local" aria-label="to (UTC)"></label>
      <select id="mode" aria-label="resolution"><option value="raw">raw</option><option value="1min">1 minute (time-weighted, min/max band)</option></select>
    </div>
    <div id="tags"></div>
    <p id="chart-title" class="muted"></p>
    <div id="chart"></div>
    <div class="scroll"><table id="labels"></table></div>
  </section>
</main>
<div id="login"><form id="login-form"><b>This API needs its token</b>
  <input id="token" type="password" placeholder="API token" aria-label="API token" autocomplete="off">
  <button type="submit">Use it</button><span id="login-error" class="bad"></span></form></div>
<script id="page-config" type="application/json">${
    JSON.stringify(routes).replace(/</g, "\\u003c")
  }</script>
<script src="/ui/uplot.js"></script>
<script>${SCRIPT}</script>
</body>
</html>`;
}

export function docsHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API · historian-sync</title><link rel="icon" href="/favicon.svg"><style>${STYLE}
code { background: #eef1f4; padding: 0 .25rem; border-radius: 3px; }
.scroll-x { overflow-x: auto; } table.params td { white-space: normal; vertical-align: top; }</style></head>
<body><header><h1>historian-sync API</h1><nav><a href="/">status</a><a href="/openapi.json">openapi.json</a></nav></header>
<main id="docs"><section class="wide">Loading /openapi.json…</section></main>
<script>
const token = sessionStorage.getItem("historian-sync-token");
fetch("/openapi.json", { headers: token ? { Authorization: "Bearer " + token } : {} })
  .then((r) => r.ok ? r.json() : Promise.reject(new Error(r.status === 401 ? "open the status page and give the token first" : "HTTP " + r.status)))
  .then((doc) => {
    const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    const type = (s) => s ? (s.type ?? (s.oneOf ? s.oneOf.map(type).join(" or ") : s.$ref ? s.$ref.split("/").pop() : "")) : "";
    const code = (v) => '<code>' + esc(typeof v === "string" ? v : JSON.stringify(v)) + '</code>';
    // What a parameter accepts and what it is when left out, from its schema.
    const accepts = (s) => {
      if (!s) return "";
      const out = [];
      if (s.enum) out.push("one of " + s.enum.map(code).join(", "));
      if (s.minimum !== undefined || s.maximum !== undefined) out.push((s.minimum ?? "…") + " to " + (s.maximum ?? "…"));
      if (s.minItems !== undefined || s.maxItems !== undefined) out.push((s.minItems ?? 0) + " to " + (s.maxItems ?? "any number of") + " items, comma-separated");
      if (s.maxLength !== undefined) out.push("at most " + s.maxLength + " characters");
      if (s.default !== undefined) out.push("default " + code(s.default));
      return out.join("; ");
    };
    document.getElementById("docs").innerHTML = '<section class="wide"><p>' + esc(doc.info.description) + '</p></section>' +
      Object.entries(doc.paths).map(([path, item]) => {
        const op = item.get;
        const params = (op.parameters ?? []).map((p) => '<tr><td><code>' + esc(p.name) + '</code>' + (p.required ? ' (required)' : '') +
          '</td><td>' + esc(type(p.schema)) + '</td><td>' + accepts(p.schema) + '</td><td>' + esc(p.description) + '</td></tr>').join("");
        const schema = op.responses["200"].content["application/json"].schema;
        const row = schema.items ?? schema;
        const cols = Object.entries(row.properties ?? {}).map(([n, c]) => '<code>' + esc(n) + '</code> ' + esc(Array.isArray(c.type) ? c.type.join("|") : type(c))).join(", ");
        return '<section class="wide"><h2>GET <code>' + esc(path) + '</code></h2><p>' + esc(op.description) + '</p>' +
          (params ? '<div class="scroll-x"><table class="params"><tr><th>parameter</th><th>type</th><th>values and default</th><th>meaning</th></tr>' + params + '</table></div>' : '<p>No parameters.</p>') +
          '<p>Answer: ' + esc(op.responses["200"].description) + (cols ? ' — ' + cols : '') + '</p></section>';
      }).join("");
  })
  .catch((e) => { document.getElementById("docs").innerHTML = '<section class="wide bad">Cannot load the API: ' + e.message + '</section>'; });
</script></body></html>`;
}

/** A small icon, so browsers asking for one get it rather than a 404. */
export const FAVICON =
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f6feb"/><path d="M2 11l3-4 3 3 3-6 3 5" stroke="#fff" stroke-width="1.6" fill="none"/></svg>`;

function escape(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!,
  );
}
