/**
 * A realistic Ignition SQL Tag Historian database, written into a real PostgreSQL: two drivers
 * for one gateway renamed mid-history, monthly partitions for the old driver and daily ones for
 * the new (one listed twice, as sqlth_partitions allows), a tag whose old version is retired
 * (with a type change), a deleted tag, NULL rows, values in the wrong column, good, bad and
 * uncertain quality codes, string and integer tags, a mixed-case path. It returns what a reader
 * must find: every row, per full tag path.
 */
import postgres from "postgres";
import type { PostgresServer } from "../simulator/ignition/postgres.ts";

const MINUTE = 60_000;

export interface IgnitionFixture {
  /** Epoch ms of the first and last row. */
  from: number;
  to: number;
  /** When the gateway was renamed (driver 1 → driver 2). */
  renamed: number;
  /** Per full path: the t_stamps stored, in order. */
  rows: Map<string, number[]>;
  /** Partition tables by name, with their [start, end] ms. */
  partitions: [string, number, number][];
}

const DAY = 86_400_000;

export async function writeIgnition(
  sql: postgres.Sql,
  start: number,
  days = 3,
): Promise<IgnitionFixture> {
  await sql.unsafe(`
    CREATE TABLE sqlth_drv (id serial PRIMARY KEY, name varchar(255), provider varchar(255));
    CREATE TABLE sqlth_scinfo (id serial PRIMARY KEY, scname varchar(255), drvid integer);
    CREATE TABLE sqlth_te (id serial PRIMARY KEY, tagpath varchar(255), scid integer, datatype integer,
      querymode integer, created bigint, retired bigint);
    CREATE INDEX sqlth_teidx ON sqlth_te (tagpath);
    CREATE TABLE sqlth_partitions (pname varchar(255), drvid integer, start_time bigint, end_time bigint,
      blocksize integer, flags integer);
    CREATE TABLE sqlth_sce (scid integer, start_time bigint, end_time bigint, rate integer);
  `);
  const from = start;
  const to = start + days * DAY - MINUTE;
  const renamed = start + DAY + 6 * 3_600_000; // mid second day
  await sql`INSERT INTO sqlth_drv (id, name, provider) VALUES (1, 'plant-gw', 'default'), (2, 'plant-gw-01', 'default')`;
  await sql`INSERT INTO sqlth_scinfo (id, scname, drvid) VALUES (1, 'default', 1), (2, 'default', 2)`;
  // Versions: (id, path, scid, datatype, created, retired)
  const versions: [number, string, number, number, number, number | null][] = [
    [1, "site1/line1/press/temperature", 1, 1, start - DAY, renamed], // old driver
    [2, "site1/line1/press/temperature", 2, 1, renamed, null], // after the rename
    [3, "site1/line1/press/count", 2, 0, start - DAY, null],
    [4, "site1/line1/press/recipe", 2, 2, start - DAY, null],
    [5, "site1/line1/press/Speed", 1, 0, start - DAY, start + DAY / 2], // int version, retired
    [6, "site1/line1/press/Speed", 1, 1, start + DAY / 2, null], // float since
    [7, "site1/line1/press/old_sensor", 1, 1, start - 30 * DAY, start + DAY / 4], // deleted tag
  ];
  for (const [id, path, scid, datatype, created, retired] of versions) {
    await sql`INSERT INTO sqlth_te (id, tagpath, scid, datatype, querymode, created, retired)
      VALUES (${id}, ${path}, ${scid}, ${datatype}, 3, ${created}, ${retired})`;
  }
  // Partitions: the old driver monthly, the new one daily (from the rename's day on).
  const month = new Date(start);
  const monthStart = Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1);
  const nextMonth = Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1);
  const ym = (t: number) => new Date(t).toISOString().slice(0, 7).replace("-", "_");
  const ymd = (t: number) => new Date(t).toISOString().slice(0, 10).replaceAll("-", "");
  const partitions: [string, number, number][] = [];
  const old1 = `sqlt_data_1_${ym(monthStart)}`;
  partitions.push([old1, monthStart, nextMonth]);
  const old2 = `sqlt_data_1_${ym(nextMonth)}`;
  partitions.push([
    old2,
    nextMonth,
    Date.UTC(new Date(nextMonth).getUTCFullYear(), new Date(nextMonth).getUTCMonth() + 1, 1),
  ]);
  for (let d = Math.floor(start / DAY) * DAY; d <= to; d += DAY) {
    partitions.push([`sqlt_data_2_${ymd(d)}`, d, d + DAY]);
  }
  for (const [name, s, e] of partitions) {
    await sql.unsafe(
      `CREATE TABLE ${name} (tagid integer NOT NULL, intvalue bigint, floatvalue double precision,
      stringvalue varchar(255), datevalue timestamp without time zone, dataintegrity integer, t_stamp bigint NOT NULL,
      PRIMARY KEY (tagid, t_stamp)); CREATE INDEX ${name}t_stampndx ON ${name} (t_stamp);`,
    );
    const drv = name.startsWith("sqlt_data_1_") ? 1 : 2;
    await sql`INSERT INTO sqlth_partitions (pname, drvid, start_time, end_time, blocksize, flags)
      VALUES (${name}, ${drv}, ${s}, ${e}, 0, 0)`;
  }
  // sqlth_partitions has no key: a name may be listed twice.
  await sql`INSERT INTO sqlth_partitions SELECT * FROM sqlth_partitions WHERE pname = ${
    partitions.at(-1)![0]
  }`;

  const partitionFor = (drv: number, t: number) =>
    partitions.find(([n, s, e]) => n.startsWith(`sqlt_data_${drv}_`) && t >= s && t < e)![0];
  const rows = new Map<string, number[]>();
  const batch: Record<string, unknown[][]> = {};
  const add = (
    tagid: number,
    t: number,
    v: { i?: number; f?: number; s?: string },
    q: number,
    path: string,
    drv: number,
  ) => {
    const table = partitionFor(drv, t);
    (batch[table] ??= []).push([tagid, v.i ?? null, v.f ?? null, v.s ?? null, null, q, t]);
    const name = `[default]${path}`;
    (rows.get(name) ?? rows.set(name, []).get(name)!).push(t);
  };
  for (let t = from, i = 0; t <= to; t += MINUTE, i++) {
    const quality = i % 97 === 5
      ? -2147483136
      : i % 89 === 7
      ? 1073742080
      : i % 113 === 3
      ? 600
      : 192;
    // temperature: old driver before the rename, new driver after; a NULL row now and then.
    const tempId = t < renamed ? 1 : 2;
    const tempDrv = t < renamed ? 1 : 2;
    add(
      tempId,
      t,
      i % 50 === 10 ? {} : { f: 20 + (i % 60) / 10 },
      i % 50 === 10 ? 0 : quality,
      "site1/line1/press/temperature",
      tempDrv,
    );
    // count: an integer tag with some rows mis-columned into floatvalue.
    add(3, t, i % 40 === 0 ? { f: i } : { i }, 192, "site1/line1/press/count", 2);
    // recipe: a string every 10 minutes, with characters that need care.
    if (i % 10 === 0) {
      add(4, t, { s: `Recipe "${i / 10}",\ttab` }, 192, "site1/line1/press/recipe", 2);
    }
    // Speed: int before its type change, float after; its old version's rows stay under id 5.
    if (i % 2 === 0) {
      if (t < start + DAY / 2) add(5, t, { i: i % 100 }, 192, "site1/line1/press/Speed", 1);
      else add(6, t, { f: (i % 100) + 0.5 }, quality, "site1/line1/press/Speed", 1);
    }
    // The deleted tag's rows exist but nobody should read them.
    if (i % 30 === 0 && t < start + DAY / 4) {
      const table = partitionFor(1, t);
      (batch[table] ??= []).push([7, null, 1, null, null, 192, t]);
    }
  }
  for (const [table, values] of Object.entries(batch)) {
    for (let k = 0; k < values.length; k += 1_000) {
      const chunk = values.slice(k, k + 1_000).map(([tagid, i, f, s, d, q, t]) => ({
        tagid,
        intvalue: i,
        floatvalue: f,
        stringvalue: s,
        datevalue: d,
        dataintegrity: q,
        t_stamp: t,
      }));
      await sql`INSERT INTO ${sql(table)} ${sql(chunk as never)}`;
    }
  }
  return { from, to, renamed, rows, partitions };
}

/** A fresh database on `pg` holding the fixture; its URL. */
export async function ignitionDatabase(
  pg: PostgresServer,
  start: number,
  days?: number,
): Promise<{ url: string; fixture: IgnitionFixture }> {
  const name = `ign_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(pg.url, { onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = pg.url.replace(/\/postgres$/, `/${name}`);
  const sql = postgres(url, { onnotice: () => {} });
  const fixture = await writeIgnition(sql, start, days);
  await sql.end();
  return { url, fixture };
}
