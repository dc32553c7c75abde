/**
 * The routes of the status page: `/` (the page), `/docs` (the OpenAPI document as a page),
 * `/ui/uplot.js` and `/ui/uplot.css` (uPlot, read from its npm package) and the icon. They
 * carry no data, so they answer without the token; the data routes they read ask for it.
 */
import type { Hono } from "hono";
import { createRequire } from "node:module";
import type { ApiSpec } from "../spec.ts";
import { docsHtml, FAVICON, pageHtml } from "./html.ts";

const assets = new Map<string, string>();

/** A file of the uplot npm package, loaded once (the import makes sure the package is there). */
async function uplotFile(file: string): Promise<string> {
  const cached = assets.get(file);
  if (cached !== undefined) return cached;
  await import("uplot");
  const path = createRequire(import.meta.url).resolve(`uplot/dist/${file}`);
  const text = await Deno.readTextFile(path);
  assets.set(file, text);
  return text;
}

export function mountPage(app: Hono, spec: ApiSpec, title: string) {
  const page = spec.page;
  if (!page) return;
  const html = pageHtml(title, page);
  app.get("/", (c) => c.html(html, 200, { "Cache-Control": "no-store" }));
  app.get("/docs", (c) => c.html(docsHtml()));
  app.get("/ui/uplot.js", async (c) =>
    c.body(await uplotFile("uPlot.iife.min.js"), 200, {
      "Content-Type": "text/javascript; charset=utf-8",
      "Cache-Control": "max-age=3600",
    }));
  app.get("/ui/uplot.css", async (c) =>
    c.body(await uplotFile("uPlot.min.css"), 200, {
      "Content-Type": "text/css; charset=utf-8",
      "Cache-Control": "max-age=3600",
    }));
  for (const path of ["/favicon.svg", "/favicon.ico"]) {
    app.get(path, (c) => c.body(FAVICON, 200, { "Content-Type": "image/svg+xml" }));
  }
}
