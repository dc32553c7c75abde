/**
 * The embedded ClickHouse store for tests: one process per test file, on a free port, with its
 * data in a temporary folder that is removed afterwards. Each test uses its own database.
 */
import { createLogger } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import type { EmbeddedStore } from "../clickhouse-embedded/mod.ts";

export interface TestStore extends EmbeddedStore {
  dir: string;
}

export async function startTestStore(options: { password?: string } = {}): Promise<TestStore> {
  const dir = await Deno.makeTempDir({ prefix: "historian-sync-ch-" });
  const store = await startEmbedded({
    port: 0,
    path: dir,
    log: createLogger({ level: "error", format: "json" }),
    clock: systemClock,
    password: options.password,
  });
  return {
    get url() {
      return store.url;
    },
    dir,
    starts: store.starts,
    pid: store.pid,
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
