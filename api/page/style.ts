/** The status page's stylesheet: one column on a phone, a grid on a desk. */
export const STYLE = `
:root { --fg: #1d2733; --muted: #5f6b7a; --line: #d9dee5; --ok: #1a7f37; --bad: #c62828; --warn: #b26a00; --accent: #1f6feb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #f6f8fa; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; padding: .75rem 1rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; }
header nav { margin-left: auto; display: flex; gap: .75rem; }
a { color: var(--accent); }
main { display: grid; gap: 1rem; padding: 1rem; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: .5rem; }
.card { border: 1px solid var(--line); border-radius: 4px; padding: .4rem .6rem; }
.card b { display: block; font-size: 1.1rem; }
.card span { color: var(--muted); font-size: .8rem; }
.card .detail { display: block; overflow-wrap: anywhere; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.bar { height: 10px; background: #e8ecf0; border-radius: 5px; overflow: hidden; margin: .4rem 0; }
.bar div { height: 100%; background: var(--accent); }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: .2rem .4rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; }
/* The tag column takes what the lag column leaves and wraps long names: nothing is cut off. */
table.lags { table-layout: fixed; }
table.lags th.num, table.lags td.num { width: 5.5rem; }
table.lags td:first-child { white-space: normal; overflow-wrap: anywhere; }
.scroll { max-height: 320px; overflow: auto; }
input, select, button { font: inherit; padding: .25rem .4rem; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: .5rem; }
#tags { max-height: 160px; overflow: auto; border: 1px solid var(--line); }
#tags button { display: block; width: 100%; text-align: left; border: 0; background: none; padding: .2rem .4rem; cursor: pointer; }
#tags button:hover, #tags button.on { background: #eef4ff; }
#chart { min-height: 300px; }
#labels td { white-space: normal; }
#login { position: fixed; inset: 0; display: none; align-items: center; justify-content: center; background: rgba(0,0,0,.35); }
#login form { background: #fff; padding: 1rem; border-radius: 6px; display: grid; gap: .5rem; width: min(360px, 90vw); }
.errors li { color: var(--bad); }
`;
