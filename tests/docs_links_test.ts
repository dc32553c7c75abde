/**
 * The README and the pages under docs/ link to each other and to files of the repository; a page
 * moved or a heading renamed breaks those links silently. These tests resolve every relative link
 * (and its #anchor, by GitHub's heading ids) and fail naming each that leads nowhere.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = normalize(fileURLToPath(new URL("..", import.meta.url)));

/** README.md and the hand-written pages (docs/*.md); docs/reference is generated. */
function pages(): string[] {
  const docs = [...Deno.readDirSync(join(ROOT, "docs"))]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => join("docs", e.name))
    .sort();
  return ["README.md", ...docs];
}

/** The text outside fenced code blocks, line by line (1-based numbers kept). */
function proseLines(text: string): [number, string][] {
  const out: [number, string][] = [];
  let fence: string | undefined;
  text.split("\n").forEach((line, i) => {
    const open = /^\s*(`{3,}|~{3,})/.exec(line);
    if (open) {
      if (fence === undefined) fence = open[1]![0]!;
      else if (open[1]![0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push([i + 1, line]);
  });
  return out;
}

/** GitHub's id for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors a page offers: its headings' ids, a repeated id numbered as GitHub does. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, line] of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Each link target of a page outside code, with its line. */
function links(text: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  for (const [n, line] of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ line: n, target: m[1]! });
    }
  }
  return out;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Every relative link of `page` that leads to no file, or to no heading of the page it names. */
function brokenLinks(page: string): string[] {
  const text = Deno.readTextFileSync(join(ROOT, page));
  const broken: string[] = [];
  for (const { line, target } of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
    const [path = "", anchor] = target.split("#", 2);
    const file = path === "" ? join(ROOT, page) : normalize(join(ROOT, dirname(page), path));
    const where = `${page}:${line} ${target}`;
    if (!file.startsWith(ROOT)) {
      broken.push(`${where}: leads outside the repository`);
    } else if (!exists(file)) {
      broken.push(`${where}: no file ${relative(ROOT, file)}`);
    } else if (anchor !== undefined && file.endsWith(".md")) {
      if (!anchors(Deno.readTextFileSync(file)).has(decodeURIComponent(anchor))) {
        broken.push(`${where}: no heading #${anchor} in ${relative(ROOT, file)}`);
      }
    }
  }
  return broken;
}

Deno.test("slug() gives GitHub's heading ids", () => {
  assert.equal(slug("Many sites, one ClickHouse"), "many-sites-one-clickhouse");
  assert.equal(slug("Proving completeness: verify"), "proving-completeness-verify");
  assert.equal(slug("`sink.clickhouse.cluster`"), "sinkclickhousecluster");
  assert.equal(slug("`tables.<name>.from` (from: readings)"), "tablesnamefrom-from-readings");
  assert.equal(slug("Wonderware (AVEVA Historian)"), "wonderware-aveva-historian");
});

Deno.test("anchors() numbers a repeated heading as GitHub does", () => {
  assert.deepEqual(
    [...anchors("# A\n## Options\n```\n## not a heading\n```\n## Options\n")],
    ["a", "options", "options-1"],
  );
});

Deno.test("README.md and docs/*.md have no broken relative links", () => {
  const broken = pages().flatMap(brokenLinks);
  assert.deepEqual(broken, [], `broken links:\n  ${broken.join("\n  ")}`);
});
