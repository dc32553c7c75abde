/**
 * `demo [spec]`: the product on simulated data, said loudly. Starts the Historian simulator
 * (a demo plant, or `--dataset dir`) on loopback and runs the spec (default the shipped one)
 * against it, writing to the embedded store unless CLICKHOUSE_URL or CLICKHOUSE_HOST is set.
 * The simulator asks for a login made up for the run, which the spec gets as
 * WONDERWARE_USERNAME/PASSWORD: the demo takes the path a plant does, never "any login".
 * The production path never does this by itself: the shipped spec requires WONDERWARE_HOST.
 *
 * The simulator is imported only here, dynamically, so the plant binary leaves it out unless
 * it is compiled with --with-simulator.
 */
import { createLogger, loggerOptionsFromEnv } from "../engine/log.ts";
import { hex } from "../engine/plan.ts";
import { runCommand } from "./run.ts";

/** What the demo uses of simulator/mod.ts (declared here: a type import would pull it in). */
interface SimulatorEntry {
  startSimulator(options: {
    dataset?: string;
    timezone?: string;
    plant?: { analogRateMs?: number };
    user: string;
    password: string;
  }): Promise<{ host: string; port: number; tags: unknown[]; close(): Promise<void> }>;
}

/** A login for a demo's simulator, new on every run (the password never printed). */
export function demoLogin(): { user: string; password: string } {
  return { user: "demo", password: hex(crypto.getRandomValues(new Uint8Array(16))) };
}

/** Where the simulator's public entry is; not a literal, so `deno compile` does not follow it. */
const SIMULATOR = ["..", "simulator", "mod.ts"].join("/");

export interface DemoOptions {
  dataset?: string;
  timezone?: string;
}

export async function demoCommand(file: string, options: DemoOptions): Promise<number> {
  let sim: Awaited<ReturnType<SimulatorEntry["startSimulator"]>>;
  const login = demoLogin();
  try {
    const { startSimulator } = await import(SIMULATOR) as SimulatorEntry;
    sim = await startSimulator({
      dataset: options.dataset,
      timezone: options.timezone,
      plant: { analogRateMs: 10_000 },
      ...login,
    });
  } catch (e) {
    console.error(
      `The demo needs the Historian simulator, which this build does not hold: ${
        (e as Error).message
      }`,
    );
    return 1;
  }
  const own = (name: string) => Deno.env.get(name);
  const store = own("CLICKHOUSE_URL") || own("CLICKHOUSE_HOST");
  const overlay: Record<string, string> = {
    WONDERWARE_HOST: sim.host,
    WONDERWARE_PORT: String(sim.port),
    WONDERWARE_DATABASE: "Runtime",
    WONDERWARE_USERNAME: login.user,
    WONDERWARE_PASSWORD: login.password,
    ...(store ? {} : { CLICKHOUSE_EMBEDDED: "true" }),
  };
  createLogger(loggerOptionsFromEnv(own)).warn(
    "DEMO: reading SIMULATED plant data from the BUILT-IN HISTORIAN SIMULATOR, not a real Historian",
    {
      address: `${sim.host}:${sim.port}`,
      tags: sim.tags.length,
      store: store
        ? "the ClickHouse named by CLICKHOUSE_URL/CLICKHOUSE_HOST"
        : "the embedded store",
    },
  );
  try {
    return await runCommand(file, (name) => name in overlay ? overlay[name] : own(name));
  } finally {
    await sim.close();
  }
}
