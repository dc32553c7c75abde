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
