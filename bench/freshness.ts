/**
 * bench:freshness — how soon a point stored in the Historian can be read in ClickHouse.
 * The engine runs (`main.ts run`, its own process) against the simulator (its own process, real
 * clock) and the embedded store; the bench polls ClickHouse for the newest stored time and, for
 * every second of Historian time, notes when it became visible. Once with the cron schedule
 * (every minute), once with a 5-second interval. The safety lag is set to 1 s for this bench.
 *
 *   deno task bench:freshness [--cron-minutes 3] [--interval-seconds 60]
 *
 * Last line: JSON with cron_p50_s, cron_p95_s, interval_p50_s, interval_p95_s.
 */
import { BENCH_LOGIN, flag, percentile, spawnSimulator, tenths } from "./_util.ts";

const CRON_MINUTES = flag("cron-minutes", 3);
const INTERVAL_SECONDS = flag("interval-seconds", 60);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function measure(mode: "cron" | "interval", seconds: number): Promise<number[]> {
  const dir = await Deno.makeTempDir({ prefix: `bench-fresh-${mode}-` });
  await Deno.writeTextFile(
    `${dir}/plant.yaml`,
    "analog: 5\ndiscrete: 0\nstring: 0\nanalog_rate: 1s\nhistory: 1h\nsystem_tags: false\n",
  );
  let spec = (await Deno.readTextFile("pipelines/wonderware.yaml"))
    .replace("safety_lag: 30s", "safety_lag: 1s")
    .replace("late_data_window: 2h", "late_data_window: 10s");
  if (mode === "interval") {
    spec = spec.replace('schedule: "* * * * *"', 'schedule: "* * * * *"\n  interval: 5s');
  }
  await Deno.writeTextFile(
    `${dir}/spec.yaml`,
    spec.replace("../spec.schema.json", "spec.schema.json"),
  );
  const sim = await spawnSimulator(["--plant", `${dir}/plant.yaml`]);
  const chPort = freePort();
  const engine = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "run", `${dir}/spec.yaml`],
    env: {
      WONDERWARE_HOST: "127.0.0.1",
      WONDERWARE_PORT: String(sim.port),
      WONDERWARE_USERNAME: BENCH_LOGIN.user,
      WONDERWARE_PASSWORD: BENCH_LOGIN.password,
      CLICKHOUSE_EMBEDDED: "true",
      CLICKHOUSE_EMBEDDED_PATH: `${dir}/clickhouse`,
      CLICKHOUSE_EMBEDDED_PORT: String(chPort),
      BACKFILL_FROM: "now-2m",
      API_PORT: "0",
      LOG_LEVEL: "warn",
    },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const newest = async (): Promise<number | undefined> => {
    try {
      const res = await fetch(
        `http://127.0.0.1:${chPort}/?query=${
          encodeURIComponent("SELECT toUnixTimestamp64Milli(max(DateTime)) FROM WonderwareHistory")
        }`,
      );
      const text = (await res.text()).trim();
      return res.ok && /^\d+$/.test(text) && text !== "0" ? Number(text) : undefined;
    } catch {
      return undefined;
    }
  };
  // Wait for the backfill to land, then observe.
  while ((await newest()) === undefined) await new Promise((r) => setTimeout(r, 500));
  const start = Date.now();
  const seen: [number, number][] = []; // [wall ms, newest stored ms]
  while (Date.now() - start < seconds * 1000) {
    const n = await newest();
    if (n !== undefined) seen.push([Date.now(), n]);
    await new Promise((r) => setTimeout(r, 250));
  }
  engine.kill("SIGTERM");
  await engine.status;
  await sim.stop();
  await Deno.remove(dir, { recursive: true });
  // For each second of Historian time after the start, when did it become visible?
  const latencies: number[] = [];
  for (let t = Math.ceil(start / 1000) * 1000; t < seen.at(-1)![1]; t += 1000) {
    const when = seen.find(([, n]) => n >= t)?.[0];
    if (when !== undefined) latencies.push((when - t) / 1000);
  }
  return latencies;
}

const cron = await measure("cron", CRON_MINUTES * 60);
const interval = await measure("interval", INTERVAL_SECONDS);
const r = tenths;
console.log(`cron (every minute): ${cron.length} seconds of data observed`);
console.log(`interval (5 s): ${interval.length} seconds of data observed`);
console.log(JSON.stringify({
  cron_p50_s: r(percentile(cron, 50)),
  cron_p95_s: r(percentile(cron, 95)),
  interval_p50_s: r(percentile(interval, 50)),
  interval_p95_s: r(percentile(interval, 95)),
  safety_lag_s: 1,
}));
