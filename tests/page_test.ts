/**
 * The status page in a real browser: Debian's Chromium driven by playwright-core, against
 * `main.ts demo` (the simulator and the embedded store) as a user starts it. Screenshots of each
 * view go to a temporary folder, named in the output.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { freePort } from "./_services.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

interface Demo {
  url: string;
  /** The demo's process (the embedded store runs as its child). */
  pid: number;
  stop(): Promise<void>;
}

/** `main.ts demo` on free ports, once its API answers and the backfill has finished. */
async function demo(env: Record<string, string> = {}): Promise<Demo> {
  const dir = await Deno.makeTempDir({ prefix: "historian-sync-page-" });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "demo"],
    env: {
      LOG_FORMAT: "json",
      API_PORT: String(port),
      CLICKHOUSE_EMBEDDED_PORT: "0",
      CLICKHOUSE_EMBEDDED_PATH: dir,
      // 12 hours: the demo plant's outages (a 5-minute window per tag now and then) are chance,
      // and 3 hours of 40 tags can hold none (the chart test needs one); 12 hours hold ~14.
      BACKFILL_FROM: "now-12h",
      ...env,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes('"msg":"backfill finished"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the demo exited:\n${seen}`);
    seen += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* keep the pipe drained */ }
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function withBrowser(fn: (browser: Browser) => Promise<void>) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

const number = async (page: Page, id: string) =>
  Number((await page.textContent(`#${id}`))!.replace(/[^0-9.-]/g, ""));

/** The page has its first figures (a script for the browser, not for Deno). */
const LOADED = 'document.getElementById("tags-count").textContent !== "…"';

const shots = await Deno.makeTempDir({ prefix: "historian-sync-screens-" });

Deno.test({
  name:
    "the status page: no console errors, the status route's figures, a chart with a break at a gap",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const app = await demo();
    try {
      await withBrowser(async (browser) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
        const errors: string[] = [];
        page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(app.url + "/");
        await page.waitForFunction(LOADED);
        const status = await (await fetch(app.url + "/consumption/wonderware_status")).json();
        assert.equal(await number(page, "tags-count"), status.tags);
        assert.equal(await number(page, "points"), status.points);
        assert.equal(await number(page, "backfill-done"), status.health.backfill.done);
        assert.equal(await number(page, "backfill-units"), status.health.backfill.units);
        assert.ok(Math.abs(await number(page, "lag-max") - status.health.lag_seconds.max) <= 6);
        assert.equal(await number(page, "known"), status.health.tags_known);
        await page.screenshot({ path: `${shots}/status.png`, fullPage: true });

        // A tag with a gap marker: found through the same series route the page reads.
        const now = Date.now();
        const tags: { tag: string }[] = await (await fetch(
          `${app.url}/consumption/wonderware_tags?limit=1000`,
        )).json();
        let gapped: string | undefined;
        for (const { tag } of tags) {
          const [series] = await (await fetch(
            `${app.url}/consumption/wonderware_timeseries?tags=${
              encodeURIComponent(tag)
            }&start_ts=${now - 86_400_000}&end_ts=${now}&max_data_points=1200`,
          )).json();
          if (
            series?.datapoints.some((p: [unknown, number]) => p[0] === null) &&
            typeof series.datapoints.find((p: [unknown]) => p[0] !== null)?.[0] === "number"
          ) {
            gapped = tag;
            break;
          }
        }
        assert.ok(gapped, "the demo plant has a numeric tag with a gap marker");
        await page.fill("#tag-search", gapped);
        await page.click(`#tags button[data-tag="${gapped}"]`);
        await page.waitForFunction(`window.__chart?.tag === ${JSON.stringify(gapped)}`);
        const chart = await page.evaluate("window.__chart") as {
          gaps: number;
          ys: unknown[];
          kind: string;
        };
        assert.equal(chart.kind, "number");
        assert.ok(chart.gaps > 0 && chart.ys.includes(null), "the gap marker is a null point");
        const spans = await page.evaluate<number>(
          'document.querySelectorAll("#chart canvas").length',
        );
        assert.ok(spans >= 1, "a chart is drawn");
        await page.screenshot({ path: `${shots}/chart.png`, fullPage: true });

        await page.selectOption("#mode", "1min");
        await page.waitForFunction('window.__chart?.mode === "1min"');
        assert.ok(await page.evaluate("window.__chart.points > 0"));
        await page.screenshot({ path: `${shots}/minutes.png`, fullPage: true });

        await page.goto(app.url + "/docs");
        await page.waitForSelector("#docs h2 code");
        assert.ok(
          (await page.textContent("#docs"))!.includes("/consumption/wonderware_timeseries"),
        );
        await page.screenshot({ path: `${shots}/docs.png`, fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.goto(app.url + "/");
        await page.waitForFunction(LOADED);
        const overflow = await page.evaluate(
          "document.documentElement.scrollWidth > window.innerWidth + 1",
        );
        assert.equal(overflow, false, "fits a phone-sized screen");
        await page.screenshot({ path: `${shots}/phone.png`, fullPage: true });
        assert.deepEqual(errors, [], "no console errors");
      });
    } finally {
      await app.stop();
    }
    console.log(`screenshots: ${shots}`);
  },
});

Deno.test({
  name:
    "with API_TOKEN the page asks for the token once, refuses a wrong one, and uses the right one",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const app = await demo({ API_TOKEN: "pl4nt-T0ken" });
    try {
      await withBrowser(async (browser) => {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.goto(app.url + "/");
        await page.waitForSelector("#login", { state: "visible" });
        await page.screenshot({ path: `${shots}/token.png` });
        await page.fill("#token", "wrong");
        await page.click("#login button");
        await page.waitForFunction(
          'document.getElementById("login-error").textContent.includes("refused")',
        );
        await page.fill("#token", "pl4nt-T0ken");
        await page.click("#login button");
        await page.waitForFunction(LOADED);
        assert.ok(await number(page, "tags-count") > 0);
        assert.equal(await page.isVisible("#login"), false);
        // Kept for the tab: a reload does not ask again.
        await page.reload();
        await page.waitForFunction(LOADED);
        assert.equal(await page.isVisible("#login"), false);
      });
    } finally {
      await app.stop();
    }
  },
});

/**
 * Where each tick label of a uPlot chart is drawn, in CSS pixels of its canvas: uPlot draws
 * labels on the canvas, so their boxes come from its layout (positions and texts) and the
 * canvas's own text metrics. A script for the browser.
 */
const LABEL_BOXES = `((name) => {
  const u = charts[name];
  const ctx = document.createElement("canvas").getContext("2d");
  return u.axes.map((a) => {
    ctx.font = a.font[0];
    const px = devicePixelRatio;
    const lineHeight = a.font[1] * a.lineGap / px;
    return (a._values ?? []).map((v, k) => {
      const at = u.valToPos(a._splits[k], a.scale);
      const lines = String(v ?? "").split("\\n");
      const w = Math.max(...lines.map((t) => ctx.measureText(t).width)) / px;
      const h = lines.length * lineHeight;
      // x axis (bottom): centred on the tick; y axis (left): right-aligned, centred vertically.
      return a.side === 2
        ? { text: String(v), left: u.bbox.left / px + at - w / 2, right: u.bbox.left / px + at + w / 2, top: 0, bottom: h }
        : { text: String(v), left: a._pos / px - w, right: a._pos / px, top: u.bbox.top / px + at - h / 2, bottom: u.bbox.top / px + at + h / 2 };
    });
  });
})`;

interface Box {
  text: string;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const GAP = 4;

/** Asserts that no two tick labels of the chart overlap and none is cut at the canvas's left. */
async function assertLabelsApart(page: Page, chart: string, where: string) {
  const axes = await page.evaluate(`${LABEL_BOXES}(${JSON.stringify(chart)})`) as Box[][];
  assert.ok(axes[0]!.length >= 2, `${where}: ${chart} has time labels`);
  for (const labels of axes) {
    for (let i = 0; i < labels.length; i++) {
      assert.ok(labels[i]!.left >= -0.5, `${where}: "${labels[i]!.text}" is cut at the left`);
      for (let j = i + 1; j < labels.length; j++) {
        const [a, b] = [labels[i]!, labels[j]!];
        // Apart by a few pixels at least: labels that touch read as one ("12:30am12:45am").
        const apart = a.right + GAP <= b.left || b.right + GAP <= a.left ||
          a.bottom <= b.top || b.bottom <= a.top;
        assert.ok(apart, `${where}: ${chart} labels "${a.text}" and "${b.text}" overlap`);
      }
    }
  }
}

/** Asserts that every freshness cell shows whole, inside its scrolling box, at this width. */
async function assertLagsWhole(page: Page, where: string) {
  const found = await page.evaluate(`(() => {
    const box = document.querySelector("#lags").closest(".scroll");
    const edge = box.getBoundingClientRect();
    const cells = [...document.querySelectorAll("#lags td, .lags th")];
    return {
      cells: cells.length,
      cut: cells.filter((c) => c.scrollWidth > c.clientWidth || c.getBoundingClientRect().right > edge.right + 0.5)
        .map((c) => c.textContent),
      sideways: box.scrollWidth > box.clientWidth,
    };
  })()`) as { cells: number; cut: string[]; sideways: boolean };
  assert.ok(found.cells > 2, `${where}: the freshness table has rows`);
  assert.deepEqual(found.cut, [], `${where}: cells cut off`);
  assert.equal(found.sideways, false, `${where}: the freshness table scrolls sideways`);
}

/** The processes the demo started (the embedded store among them). */
async function children(pid: number): Promise<{ pid: number; args: string }[]> {
  const out = await new Deno.Command("ps", { args: ["-o", "pid=,args=", "--ppid", String(pid)] })
    .output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter(Boolean).map((l) => {
    const [, id, args] = /^\s*(\d+)\s+(.*)$/.exec(l)!;
    return { pid: Number(id), args: args! };
  });
}

Deno.test({
  name:
    "the status page at 1400 and 390 px: no cut-off lag column, no overlapping axis labels, UTC throughout; the explorer's URL restores its view; /docs shows defaults and values; a hung store is shown as unreachable",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const app = await demo();
    try {
      await withBrowser(async (browser) => {
        const tags: { tag: string }[] = await (await fetch(
          `${app.url}/consumption/wonderware_tags?limit=1000`,
        )).json();
        const numeric = tags.map((r) => r.tag).find((t) => t.endsWith(".Temperature"))!;

        for (const [width, height] of [[1400, 1000], [390, 844]] as const) {
          await t.step(`${width} px: whole cells, labels apart, UTC`, async () => {
            const page = await browser.newPage({ viewport: { width, height } });
            await page.goto(`${app.url}/?tag=${encodeURIComponent(numeric)}`);
            await page.waitForFunction(LOADED);
            await page.waitForFunction(`window.__chart?.tag === ${JSON.stringify(numeric)}`);
            await assertLagsWhole(page, `${width} px`);
            await assertLabelsApart(page, "throughput", `${width} px`);
            await assertLabelsApart(page, "chart", `${width} px`);
            const text = (await page.textContent("body"))!;
            assert.match(await page.textContent("#updated") ?? "", /^updated \d\d:\d\d:\d\d UTC$/);
            assert.ok(text.includes("all times UTC"));
            assert.doesNotMatch(text, /\d(am|pm)\b|\b(AM|PM)\b/, "no 12-hour local times");
            const overflow = await page.evaluate(
              "document.documentElement.scrollWidth > window.innerWidth + 1",
            );
            assert.equal(overflow, false, "no sideways scrolling");
            await page.screenshot({ path: `${shots}/layout-${width}.png`, fullPage: true });
            await page.close();
          });
        }

        await t.step(
          "the explorer's tag, range and resolution are in the URL and restored",
          async () => {
            const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
            await page.goto(app.url + "/");
            await page.waitForFunction(LOADED);
            await page.fill("#tag-search", numeric);
            await page.click(`#tags button[data-tag="${numeric}"]`);
            await page.selectOption("#range", "custom");
            await page.fill("#from", "2020-01-01T00:00");
            await page.fill("#to", "2020-01-02T06:30");
            await page.dispatchEvent("#to", "change");
            await page.selectOption("#mode", "1min");
            await page.waitForFunction('window.__chart?.mode === "1min"');
            const url = new URL(page.url());
            assert.equal(url.searchParams.get("tag"), numeric);
            assert.equal(url.searchParams.get("range"), "custom");
            assert.equal(url.searchParams.get("from"), "2020-01-01T00:00");
            assert.equal(url.searchParams.get("to"), "2020-01-02T06:30");
            assert.equal(url.searchParams.get("mode"), "1min");

            const linked = await browser.newPage({ viewport: { width: 1200, height: 900 } });
            await linked.goto(url.href);
            await linked.waitForFunction('window.__chart?.mode === "1min"');
            const chart = await linked.evaluate("window.__chart") as Record<string, unknown>;
            assert.equal(chart.tag, numeric);
            assert.equal(chart.from, Date.parse("2020-01-01T00:00:00Z"), "the from time, as UTC");
            assert.equal(chart.to, Date.parse("2020-01-02T06:30:00Z"));
            assert.equal(await linked.inputValue("#range"), "custom");
            assert.equal(await linked.inputValue("#mode"), "1min");
            assert.equal(await linked.isVisible("#from"), true);
            assert.match((await linked.textContent("#chart-title"))!, /2020-01-01 00:00:00 UTC/);
            await linked.close();
            await page.close();
          },
        );

        await t.step("/docs shows each parameter's values and default", async () => {
          const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
          await page.goto(app.url + "/docs");
          await page.waitForSelector("#docs h2 code");
          const docs = (await page.textContent("#docs"))!;
          assert.ok(docs.includes("one of auto, raw, 1min; default auto"), "enum and default");
          assert.ok(docs.includes("2 to 100000; default 1000"), "bounds and default");
          assert.ok(docs.includes("1 to 100 items"), "a list's size");
          await page.close();
        });

        await t.step(
          "the store hung: the page says unreachable, with why, within a refresh and the route's timeout",
          async () => {
            const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
            await page.goto(app.url + "/");
            await page.waitForFunction(
              'document.getElementById("store").textContent === "reachable"',
            );
            const store = (await children(app.pid)).filter((c) =>
              c.args.includes("clickhouse-embedded")
            );
            assert.equal(store.length, 1, "the embedded store is the demo's child");
            Deno.kill(store[0]!.pid, "SIGSTOP");
            try {
              // The status route's timeout (10 s) plus a refresh (5 s), and some slack.
              await page.waitForFunction(
                'document.getElementById("store").textContent === "unreachable"',
                undefined,
                { timeout: 30_000 },
              );
              assert.match(
                (await page.textContent("#store-detail"))!,
                /took longer than this route's timeout of 10000 ms/,
              );
              assert.equal(await page.textContent("#tags-count"), "unavailable");
              assert.match((await page.textContent("#errors"))!, /store: the query took longer/);
              assert.notEqual(await page.textContent("#source"), "…", "the health is still shown");
              assert.ok(Number(await number(page, "known")) > 0, "freshness still shown");
              await page.screenshot({ path: `${shots}/store-hung.png`, fullPage: true });
            } finally {
              Deno.kill(store[0]!.pid, "SIGCONT");
            }
            await page.waitForFunction(
              'document.getElementById("store").textContent === "reachable"',
              undefined,
              { timeout: 40_000 },
            );
            await page.close();
          },
        );
      });
    } finally {
      await app.stop();
    }
    console.log(`screenshots: ${shots}`);
  },
});
