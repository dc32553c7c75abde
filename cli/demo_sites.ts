/**
 * `demo --sites`: the multi-site example on SIMULATED data, in one command. Site "hamburg" is
 * the Historian simulator (time zone Europe/Berlin); site "chicago" is an Ignition SQL Tag
 * Historian database that a throwaway PostgreSQL holds (Debian's postgresql package) and a
 * writer fills with a day of history and live rows. Both pipelines (pipelines/sites/) run in
 * this process into one ClickHouse: the embedded store unless CLICKHOUSE_URL/HOST is set.
 * Like demo.ts, it imports the simulators only here, dynamically.
 */
import { createLogger, loggerOptionsFromEnv } from "../engine/log.ts";
import { systemClock } from "../engine/plugin.ts";
import { startEmbedded } from "../clickhouse-embedded/mod.ts";
import { demoLogin } from "./demo.ts";
import { runSitesCommand } from "./sites.ts";

export const SITE_SPECS = ["pipelines/sites/hamburg.yaml", "pipelines/sites/chicago.yaml"];

interface Entries {
  startSimulator(o: {
    timezone?: string;
    plant?: { analogRateMs?: number };
    user: string;
    password: string;
  }): Promise<
    { host: string; port: number; tags: unknown[]; close(): Promise<void> }
  >;
  startPostgres(): Promise<{ url: string; stop(): Promise<void> }>;
  writeIgnitionDemo(o: { url: string; area?: string }): Promise<
    { tags: string[]; close(): Promise<void> }
  >;
}

const path = (...p: string[]) => ["..", "simulator", ...p].join("/");

async function entries(): Promise<Entries> {
  const [sim, pg, ign] = await Promise.all([
    import(path("mod.ts")),
    import(path("ignition", "postgres.ts")),
    import(path("ignition", "demo.ts")),
  ]);
  return { ...sim, ...pg, ...ign } as Entries;
}

export async function demoSitesCommand(files = SITE_SPECS): Promise<number> {
  const own = (name: string) => Deno.env.get(name);
  const log = createLogger(loggerOptionsFromEnv(own));
  let e: Entries;
  try {
    e = await entries();
  } catch (err) {
    console.error(
      `The demo needs the simulators, which this build does not hold: ${(err as Error).message}`,
    );
    return 1;
  }
  const stops: (() => Promise<void>)[] = [];
  try {
    const login = demoLogin();
    const sim = await e.startSimulator({
      timezone: "Europe/Berlin",
      plant: { analogRateMs: 10_000 },
      ...login,
    });
    stops.push(() => sim.close());
    const pg = await e.startPostgres();
    stops.push(() => pg.stop());
    const ignition = await e.writeIgnitionDemo({ url: pg.url, area: "Chicago" });
    stops.push(() => ignition.close());
    let store = own("CLICKHOUSE_URL") || (own("CLICKHOUSE_HOST") && "");
    let storeLogin: Record<string, string> = {};
    if (!store) {
      const embedded = await startEmbedded({
        port: Number(own("CLICKHOUSE_EMBEDDED_PORT") ?? 8123),
        path: own("CLICKHOUSE_EMBEDDED_PATH") ?? "data/sites-clickhouse",
        log,
        clock: systemClock,
      });
      stops.push(() => embedded.stop());
      store = embedded.url;
      storeLogin = {
        CLICKHOUSE_USER: embedded.credentials.writer.user,
        CLICKHOUSE_PASSWORD: embedded.credentials.writer.password,
      };
    }
    log.warn("DEMO: two SIMULATED sites, not real historians", {
      hamburg: `Historian simulator at ${sim.host}:${sim.port} (${sim.tags.length} tags)`,
      chicago: `Ignition demo database in a throwaway PostgreSQL (${ignition.tags.length} tags)`,
      store: own("CLICKHOUSE_URL") || own("CLICKHOUSE_HOST") ? "your ClickHouse" : store,
    });
    const overlay: Record<string, string> = {
      WONDERWARE_HOST: sim.host,
      WONDERWARE_PORT: String(sim.port),
      WONDERWARE_DATABASE: "Runtime",
      WONDERWARE_USERNAME: login.user,
      WONDERWARE_PASSWORD: login.password,
      IGNITION_DATABASE_URL: pg.url,
      ...(store ? { CLICKHOUSE_URL: store } : {}),
      ...storeLogin,
    };
    return await runSitesCommand(files, (n) => n in overlay ? overlay[n] : own(n));
  } catch (err) {
    log.error("the sites demo could not start", { error: (err as Error).message });
    return 1;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}
