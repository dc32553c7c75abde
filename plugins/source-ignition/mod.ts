/**
 * Inductive Automation Ignition's SQL Tag Historian as a source, on PostgreSQL (npm:postgres:
 * a maintained, dependency-free client with server-side cursors for streamed reads, tagged
 * templates that keep every value a bound parameter, and identifier escaping for partition
 * names). Facts about the schema: shared/reference/ignition.md.
 *
 * Split by role: discover.ts (tags and their versions), read.ts (partitions, reads, counts),
 * quality.ts (dataintegrity), fields.ts (what tables may store); this file connects and puts
 * them together as the engine's Source. Retries and the breaker are the engine's.
 */
import { definePlugin, PluginError } from "../../engine/mod.ts";
import { classify as classifyError, noLoginInTime, PLUGIN } from "./_errors.ts";
import type { PluginContext, Source, TimeWindow } from "../../engine/mod.ts";
import { discoverTags } from "./discover.ts";
import { FIELDS } from "./fields.ts";
import { options } from "./options.ts";
import type { Options } from "./options.ts";
import { countHistory, readHistory } from "./read.ts";

export { classify } from "./_errors.ts";

export async function createIgnitionSource(opts: Options, context: PluginContext): Promise<Source> {
  let parsed: URL;
  try {
    parsed = new URL(opts.url);
  } catch {
    throw new PluginError(
      PLUGIN,
      `${context.setting?.("url") ?? "source.ignition.url"} is not a valid URL`,
    );
  }
  if (parsed.password) context.secrets.add(decodeURIComponent(parsed.password));
  const address = `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  const url = context.setting?.("url") ?? "source.ignition.url";
  const user = decodeURIComponent(parsed.username);
  const classify = (what: string, e: unknown) =>
    classifyError(what, e, address, { setting: context.setting, user });
  // Loaded only when an Ignition source is configured.
  const { default: postgres } = await import("postgres");
  const sql = postgres(opts.url, {
    max: opts.pool_size,
    connect_timeout: Math.ceil(opts.connect_timeout / 1000),
    idle_timeout: 60,
    onnotice: () => {},
    connection: { statement_timeout: opts.statement_timeout, application_name: "historian-sync" },
  });
  const guarded = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw classify(what, e);
    }
  };
  // Past the driver's own connect timeout (whole seconds), which says more when it fires.
  const bound = Math.ceil(opts.connect_timeout / 1000) * 1000 + 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      sql`SELECT 1`,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(noLoginInTime(address, bound, url)), bound);
      }),
    ]).finally(() => clearTimeout(timer));
  } catch (e) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw classify("connecting", e);
  }
  context.log.info("connected to the Ignition history database", { address });
  return {
    discover: () => guarded("discovering tags", () => discoverTags(sql, opts)),
    async *read(tags, window: TimeWindow, readOptions) {
      try {
        yield* readHistory(sql, opts, tags, window, readOptions?.batchSize);
      } catch (e) {
        throw classify(`reading the history of ${tags.length} tags`, e);
      }
    },
    count: (tags, window) =>
      guarded("counting history", () => countHistory(sql, opts, tags, window)),
    serverTime: () =>
      guarded("reading the database's clock", async () => {
        const [row] = await sql<{ ms: string }[]>`
          SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS ms`;
        return BigInt(row!.ms) * 10_000n;
      }),
    close: () => sql.end({ timeout: 5 }),
  };
}

export default definePlugin({
  kind: "source",
  name: "ignition",
  description: "Ignition's SQL Tag Historian on PostgreSQL (npm:postgres)",
  options,
  create: createIgnitionSource,
  fields: FIELDS,
  provides: ["count"],
});
