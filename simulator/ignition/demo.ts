/**
 * A demo Ignition SQL Tag Historian database, written into a PostgreSQL: the sqlth_* tables as
 * Ignition creates them, one driver, monthly partitions (Ignition's default) listed in
 * sqlth_partitions, float, integer and string tags of a small plant, the last `history` of
 * rows, and then a new row per tag every `rate` while it runs (a gateway storing live values).
 * Values are computed by PostgreSQL (generate_series), so a day of history takes a moment.
 */
import postgres from "postgres";

export interface IgnitionDemoOptions {
  /** PostgreSQL URL of an empty database. */
  url: string;
  /** Area (the first path element) of every tag, e.g. "Chicago". */
  area?: string;
  /** History written at start, ms (default a day). */
  historyMs?: number;
  /** Storage rate, ms (default 10 s). */
  rateMs?: number;
}

export interface IgnitionDemo {
  tags: string[];
  /** Stops writing live rows and closes the connection. */
  close(): Promise<void>;
}

const SENSORS: [machine: string, sensor: string, datatype: number][] = [
  ["Mixer01", "Temperature", 1],
  ["Mixer01", "Speed", 1],
  ["Mixer01", "Batches", 0],
  ["Mixer02", "Temperature", 1],
  ["Mixer02", "Speed", 1],
  ["Oven01", "Temperature", 1],
  ["Oven01", "Humidity", 1],
  ["Oven01", "Recipe", 2],
];

/** Rows for tag ids in `ids` at every `rate` ms in [from, to], as INSERT … SELECT. */
function rows(table: string, from: number, to: number, rate: number) {
  // floatvalue: a sine per tag with a little noise; intvalue: a counter; stringvalue: a recipe
  // every half hour. Quality: mostly good (192), now and then uncertain or bad.
  return `INSERT INTO ${table} (tagid, intvalue, floatvalue, stringvalue, dataintegrity, t_stamp)
    SELECT te.id,
      CASE WHEN te.datatype = 0 THEN (t / 60000) % 10000 END,
      CASE WHEN te.datatype = 1 THEN round((50 + 20 * sin(t / 600000.0 + te.id) + random())::numeric, 3)::float8 END,
      CASE WHEN te.datatype = 2 THEN 'Recipe ' || ((t / 1800000) % 5 + 1) END,
      CASE WHEN (t / ${rate}) % 997 = 3 THEN 0 WHEN (t / ${rate}) % 499 = 7 THEN 1073742080 ELSE 192 END,
      t
    FROM sqlth_te AS te, generate_series(${from}::bigint, ${to}::bigint, ${rate}) AS t
    WHERE te.retired IS NULL AND (te.datatype <> 2 OR t % 1800000 < ${rate})
    ON CONFLICT DO NOTHING`;
}

function monthOf(t: number): [name: string, start: number, end: number] {
  const d = new Date(t);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const name = `sqlt_data_1_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
  return [name, start, end];
}

export async function writeIgnitionDemo(options: IgnitionDemoOptions): Promise<IgnitionDemo> {
  const area = options.area ?? "Chicago";
  const rate = options.rateMs ?? 10_000;
  const sql = postgres(options.url, { onnotice: () => {}, max: 1 });
  await sql.unsafe(`
    CREATE TABLE IF NOT EXISTS sqlth_drv (id serial PRIMARY KEY, name varchar(255), provider varchar(255));
    CREATE TABLE IF NOT EXISTS sqlth_scinfo (id serial PRIMARY KEY, scname varchar(255), drvid integer);
    CREATE TABLE IF NOT EXISTS sqlth_te (id serial PRIMARY KEY, tagpath varchar(255), scid integer,
      datatype integer, querymode integer, created bigint, retired bigint);
    CREATE TABLE IF NOT EXISTS sqlth_partitions (pname varchar(255), drvid integer, start_time bigint,
      end_time bigint, blocksize integer, flags integer);`);
  const now = Date.now();
  const end = Math.floor(now / rate) * rate;
  const start = end - (options.historyMs ?? 86_400_000);
  await sql`INSERT INTO sqlth_drv (id, name, provider) VALUES (1, 'demo-gateway', 'default')
    ON CONFLICT DO NOTHING`;
  await sql`INSERT INTO sqlth_scinfo (id, scname, drvid) VALUES (1, 'default', 1) ON CONFLICT DO NOTHING`;
  const paths = SENSORS.map(([machine, sensor]) => `${area}/Line1/${machine}/${sensor}`);
  for (const [i, [, , datatype]] of SENSORS.entries()) {
    await sql`INSERT INTO sqlth_te (id, tagpath, scid, datatype, querymode, created, retired)
      VALUES (${i + 1}, ${paths[i]!}, 1, ${datatype}, 3, ${start - 86_400_000}, NULL)
      ON CONFLICT DO NOTHING`;
  }
  const partitions = new Set<string>();
  const partition = async (t: number) => {
    const [name, from, to] = monthOf(t);
    if (!partitions.has(name)) {
      await sql.unsafe(`CREATE TABLE IF NOT EXISTS ${name} (tagid integer NOT NULL, intvalue bigint,
        floatvalue double precision, stringvalue varchar(255), datevalue timestamp,
        dataintegrity integer, t_stamp bigint NOT NULL, PRIMARY KEY (tagid, t_stamp));
        CREATE INDEX IF NOT EXISTS ${name}t_stampndx ON ${name} (t_stamp);`);
      const [listed] = await sql`SELECT 1 FROM sqlth_partitions WHERE pname = ${name}`;
      if (!listed) {
        await sql`INSERT INTO sqlth_partitions VALUES (${name}, 1, ${from}, ${to}, 0, 0)`;
      }
      partitions.add(name);
    }
    return [name, from, to] as const;
  };
  // History, month by month.
  for (let t = start; t <= end;) {
    const [name, , to] = await partition(t);
    const last = Math.min(end, to - 1);
    await sql.unsafe(rows(name, t, last - (last % rate), rate));
    t = to;
  }
  // Live rows: one per tag every `rate`, stamped on the rate grid.
  let next = end + rate;
  let writing = Promise.resolve();
  const timer = setInterval(() => {
    writing = writing.then(async () => {
      const due = Math.floor(Date.now() / rate) * rate;
      for (; next <= due; next += rate) {
        const [name] = await partition(next);
        await sql.unsafe(rows(name, next, next, rate));
      }
    }).catch(() => {/* the server went away; the next tick tries again */});
  }, Math.min(rate, 5_000));
  return {
    tags: paths.map((p) => `[default]${p}`),
    async close() {
      clearInterval(timer);
      await writing;
      await sql.end();
    },
  };
}
