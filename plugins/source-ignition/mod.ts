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
import type { PluginContext, Source, TimeWindow } from "../../engine/mod.ts";
import { discoverTags } from "./discover.ts";
import { FIELDS } from "./fields.ts";
import { options } from "./options.ts";
import type { Options } from "./options.ts";
import { countHistory, readHistory } from "./read.ts";

const PLUGIN = "source-ignition";

/** Connection problems are worth retrying; SQL errors (a missing table, a grant) are not. */
export function classify(what: string, e: unknown, address: string): PluginError {
  if (e instanceof PluginError) return e;
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  const auth = err.code === "28P01" || err.code === "28000";
  const permission = err.code === "42501";
  const transient = !auth && !permission && (
    /^(08|57P|53)/.test(err.code ?? "") ||
    /ECONNREFUSED|ECONNRESET|EPIPE|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED)|socket has been ended|socket hang up|timeout/i
      .test(
        `${err.code} ${message}`,
      )
  );
  return new PluginError(
    PLUGIN,
    auth
      ? `login to ${address} was refused (${message}): check the user and password in IGNITION_DATABASE_URL`
      : permission
      ? `${what} at ${address} was denied (${message}): the user needs SELECT on the sqlth_* and partition tables`
      : `${what} at ${address} failed: ${message}`,
    {
      cause: e,
      retriable: transient,
      unavailable: transient,
      reason: auth ? "auth" : permission ? "permission" : transient ? "connection" : "invalid",
    },
  );
}

export async function createIgnitionSource(opts: Options, context: PluginContext): Promise<Source> {
  let parsed: URL;
  try {
    parsed = new URL(opts.url);
  } catch {
    throw new PluginError(PLUGIN, "source.ignition.url is not a valid URL");
  }
  if (parsed.password) context.secrets.add(decodeURIComponent(parsed.password));
  const address = `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
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
      throw classify(what, e, address);
    }
  };
  try {
    await sql`SELECT 1`;
  } catch (e) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw classify("connecting", e, address);
  }
  context.log.info("connected to the Ignition history database", { address });
  return {
    discover: () => guarded("discovering tags", () => discoverTags(sql, opts)),
    async *read(tags, window: TimeWindow, readOptions) {
      try {
        yield* readHistory(sql, opts, tags, window, readOptions?.batchSize);
      } catch (e) {
        throw classify(`reading the history of ${tags.length} tags`, e, address);
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
