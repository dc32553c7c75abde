/**
 * The embedded ClickHouse store for tests: one process per test file, on a free port, with its
 * data in a temporary folder that is removed afterwards. Each test uses its own database.
 *
 * The store always asks for a login: `url` carries the writer's credentials (for
 * @clickhouse/client and CLICKHOUSE_URL), `base` is the bare address, and `sql()` runs one
 * statement over fetch as the writer or the reader.
 */
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import type { EmbeddedStore } from "../clickhouse-embedded/mod.ts";

export interface TestStore extends Omit<EmbeddedStore, "url"> {
  /** The store's URL with the writer's user and password in it. */
  url: string;
  /** The store's URL without credentials. */
  base: string;
  writer: { user: string; password: string };
  reader: { user: string; password: string };
  dir: string;
  /** One statement as `as` (the writer by default); the response as it came. */
  sql(sql: string, as?: "writer" | "reader", init?: RequestInit): Promise<Response>;
}

export async function startTestStore(
  options: { password?: string; readerPassword?: string; maxExecutionSeconds?: number } = {},
): Promise<TestStore> {
  const dir = await Deno.makeTempDir({ prefix: "historian-sync-ch-" });
  const store = await startEmbedded({
    port: 0,
    path: dir,
    log: createLogger({ level: "error", format: "json" }),
    clock: systemClock,
    password: options.password,
    readerPassword: options.readerPassword,
    maxExecutionSeconds: options.maxExecutionSeconds,
  });
  const { writer, reader } = store.credentials;
  const withLogin = (u: { user: string; password: string }) => {
    const url = new URL(store.url);
    url.username = encodeURIComponent(u.user);
    url.password = encodeURIComponent(u.password);
    return url.href.replace(/\/$/, "");
  };
  return {
    get url() {
      return withLogin(writer);
    },
    get base() {
      return store.url;
    },
    writer,
    reader,
    credentials: store.credentials,
    credentialsFile: store.credentialsFile,
    dir,
    starts: store.starts,
    pid: store.pid,
    sql(sql, as = "writer", init = {}) {
      const u = as === "reader" ? reader : writer;
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Basic ${btoa(`${u.user}:${u.password}`)}`);
      return fetch(`${store.url}/`, { method: "POST", body: sql, ...init, headers });
    },
    async stop() {
      await store.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A fresh database name for one test. */
export function testDatabase(): string {
  return `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}
