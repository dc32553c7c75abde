/**
 * The Historian simulator: AVEVA Historian's SQL surface (the Runtime database, History,
 * Live) served over real TDS on a loopback port, with a deterministic demo plant or an exact
 * dataset, the server's time zone, and fault and late-data injection for tests and demos.
 * Like a SQL Server it asks for a login (a user and password, unless told to accept any) and
 * refuses databases it does not have.
 */
import { parse } from "./sql/parse.ts";
import { runStatements } from "./sql/run.ts";
import type { Catalog, Env } from "./sql/run.ts";
import { DropConnection, serveTds, TdsError } from "./tds/server.ts";
import type { LoginInfo, TdsHandler, TdsServer } from "./tds/server.ts";
import { selfSignedCertificate } from "./tds/cert.ts";
import type { TlsSettings } from "./tds/tls.ts";
import { SqlTime } from "./tds/types.ts";
import type { SqlValue } from "./tds/types.ts";
import { loadDataset } from "./historian/dataset.ts";
import { DEFAULT_PLANT, generatePlant } from "./historian/plant.ts";
import type { GeneratedTag, PlantOptions } from "./historian/plant.ts";
import { runtimeCatalog } from "./historian/runtime.ts";
import { TagStore } from "./historian/series.ts";
import type { Hold, Point, TagMeta, View } from "./historian/series.ts";
import { zoneOf } from "./historian/zone.ts";
import type { Zone } from "./historian/zone.ts";

export type { PlantOptions, Point, TagMeta };

export interface SimulatorOptions {
  hostname?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  plant?: Partial<PlantOptions>;
  /** Serve this dataset folder (tags.csv, points.csv) instead of the generated plant. */
  dataset?: string;
  /** The Historian server's time zone (IANA or Windows name); default UTC. */
  timezone?: string;
  /** Logins must use this user (compared case-insensitively, as SQL Server does) and password. */
  user?: string;
  password?: string;
  /** Accept any user and password instead; one of this or `user` and `password` is required. */
  allowAnyLogin?: boolean;
  /** The server clock in UTC ticks (100 ns since 1970); default the real clock. */
  now?: () => bigint;
  /**
   * Encryption as SQL Server offers it: `true` makes a self-signed certificate for localhost,
   * 127.0.0.1 and ::1; or give PEM `cert` and `key`. `require` refuses unencrypted clients.
   */
  tls?: boolean | { cert?: string; key?: string; require?: boolean };
}

export interface Faults {
  /** Refuse logins (error 18456) for `ms` milliseconds. */
  refuseLogins(ms: number): void;
  /** Cut the connection after `rows` rows, in the next `times` results that get that far. */
  dropResults(rows: number, times?: number): void;
  /** Wait this long before answering each request. */
  delay(ms: number): void;
  /** Stop listening and cut every connection for `ms` milliseconds, then come back on the same port. */
  goAway(ms: number): Promise<void>;
  /** Back to normal. */
  clear(): void;
}

export interface LateData {
  /** Store points with old timestamps after the fact (store-and-forward). */
  insert(tag: string, points: Omit<Point, "quality">[]): void;
  /** A new LATEST version of a stored point (QualityDetail 202). */
  revise(tag: string, t: bigint, value: { value?: number | null; text?: string | null }): void;
  /** Points of matching tags in [from, to] stay invisible until `release()` (a network outage). */
  hold(tags: (name: string) => boolean, from: bigint, to: bigint): void;
  release(): void;
}

export interface Simulator {
  host: string;
  port: number;
  tags: TagMeta[];
  timezone: string;
  /** The PEM certificate the server presents, when it offers TLS (a client's CA file). */
  certificate?: string;
  faults: Faults;
  late: LateData;
  /** Requests answered so far (logins excluded). */
  requests(): number;
  /** Login attempts so far, refused ones included. */
  logins(): number;
  /** Connections that negotiated TLS so far. */
  encryptedConnections(): number;
  close(): Promise<void>;
}

export const VERSION =
  "Microsoft SQL Server 2019 (RTM) - 15.0.2000.5 (X64) — historian-sync AVEVA Historian simulator";

const realNow = () => BigInt(Date.now()) * 10_000n;

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const login = requiredLogin(options);
  const now = options.now ?? realNow;
  const zone = zoneOf(options.timezone ?? "UTC");
  const plant = { ...DEFAULT_PLANT, ...options.plant };
  const hour = 36_000_000_000n;
  const origin = ((now() - BigInt(plant.historyMs) * 10_000n) / hour) * hour;
  const generated: GeneratedTag[] = options.dataset
    ? await loadDataset(options.dataset)
    : generatePlant(plant, origin);
  const stores = generated.map((g) => new TagStore(g.meta, g.series));
  const byName = new Map(stores.map((s) => [s.meta.name.toLowerCase(), s]));
  const holds: Hold[] = [];
  const view = (latest: boolean): View => {
    const at = now();
    return {
      now: at,
      latest,
      hidden: holds.length === 0
        ? () => false
        : (tag, t) => holds.some((h) => t >= h.from && t <= h.to && h.tags(tag)),
    };
  };
  const catalog = runtimeCatalog({ tags: stores, byName, serverZone: zone, view });

  const f: FaultState = {
    refuseUntil: 0,
    dropAfter: 0,
    dropTimes: 0,
    delayMs: 0,
    requests: 0,
    logins: 0,
  };
  const handler = tdsHandler(catalog, { zone, now, login }, f);

  const hostname = options.hostname ?? "127.0.0.1";
  const tls = tlsSettings(options.tls);
  const stats = { encrypted: 0 };
  let server: TdsServer = serveTds({ hostname, port: options.port ?? 0, handler, tls, stats });
  const port = server.port;

  const store = (tag: string) => {
    const s = byName.get(tag.toLowerCase());
    if (!s) throw new Error(`Unknown tag "${tag}"`);
    return s;
  };

  return {
    host: hostname,
    port,
    tags: stores.map((s) => s.meta),
    timezone: zone.name,
    certificate: tls?.cert,
    requests: () => f.requests,
    logins: () => f.logins,
    encryptedConnections: () => stats.encrypted,
    faults: {
      refuseLogins(ms) {
        f.refuseUntil = Date.now() + ms;
      },
      dropResults(rows, times = 1) {
        f.dropAfter = rows;
        f.dropTimes = times;
      },
      delay(ms) {
        f.delayMs = ms;
      },
      async goAway(ms) {
        await server.close();
        await new Promise((r) => setTimeout(r, ms));
        server = serveTds({ hostname, port, handler, tls, stats });
      },
      clear() {
        f.refuseUntil = 0;
        f.dropTimes = 0;
        f.delayMs = 0;
      },
    },
    late: lateControls(store, holds),
    close: () => server.close(),
  };
}

function tlsSettings(tls: SimulatorOptions["tls"]): TlsSettings | undefined {
  if (!tls) return undefined;
  const given = tls === true ? {} : tls;
  if (Boolean(given.cert) !== Boolean(given.key)) {
    throw new Error("tls: give both cert and key (PEM), or neither for a generated certificate");
  }
  const pair = given.cert && given.key
    ? { cert: given.cert, key: given.key }
    : selfSignedCertificate({ commonName: "SIMHIST" });
  return { ...pair, require: given.require ?? false };
}

/**
 * The one login the simulator accepts, or undefined with `allowAnyLogin`; anything else
 * (nothing given, half a login, both) is refused here, so no option silently opens the door.
 */
function requiredLogin(options: SimulatorOptions): { user: string; password: string } | undefined {
  const { user, password, allowAnyLogin } = options;
  if (user === undefined && password === undefined) {
    if (allowAnyLogin) return undefined;
    throw new Error(
      "Cannot start the simulator: a login is required; give user and password, or allowAnyLogin: true to accept any login",
    );
  }
  if (!user) throw new Error("Cannot start the simulator: a password is given without a user");
  if (!password) {
    throw new Error(`Cannot start the simulator: user "${user}" is given without a password`);
  }
  if (allowAnyLogin) {
    throw new Error(
      "Cannot start the simulator: allowAnyLogin contradicts the given user and password",
    );
  }
  return { user, password };
}

/** Fault switches and counters the handler consults. */
interface FaultState {
  refuseUntil: number;
  dropAfter: number;
  dropTimes: number;
  delayMs: number;
  requests: number;
  logins: number;
}

/**
 * The TDS handler: logins checked as SQL Server does (the password, then the database asked
 * for, "" meaning the login's default, Runtime) and refused on demand; batches parsed and run.
 */
function tdsHandler(
  catalog: Catalog,
  auth: { zone: Zone; now: () => bigint; login?: { user: string; password: string } },
  f: FaultState,
): TdsHandler {
  return {
    login(info: LoginInfo) {
      f.logins++;
      const refused = Date.now() < f.refuseUntil ||
        (auth.login !== undefined &&
          (info.user.toLowerCase() !== auth.login.user.toLowerCase() ||
            info.password !== auth.login.password));
      if (refused) throw new TdsError(18456, `Login failed for user '${info.user}'.`, 14);
      const database = catalog.database(info.database || "Runtime");
      if (!database) {
        throw new TdsError(
          4060,
          `Cannot open database "${info.database}" requested by the login. The login failed.`,
          11,
        );
      }
      return { database };
    },
    async *execute(request, _session, signal) {
      f.requests++;
      if (f.delayMs > 0) await new Promise((r) => setTimeout(r, f.delayMs));
      const statements = parse(request.sql);
      const params = new Map<string, SqlValue>(
        request.params.map((p) => [p.name.toLowerCase(), p.value]),
      );
      const env: Env = {
        params,
        nowUtc: () => new SqlTime(auth.now()),
        nowLocal: () => new SqlTime(auth.zone.toLocal(auth.now())),
        version: VERSION,
      };
      let rows = 0;
      for await (const event of runStatements(statements, catalog, env, signal)) {
        if ("row" in event && f.dropTimes > 0 && ++rows > f.dropAfter) {
          f.dropTimes--;
          throw new DropConnection();
        }
        yield event;
      }
    },
  };
}

/** Store-and-forward and revisions, injected into the running simulator. */
function lateControls(
  store: (tag: string) => TagStore,
  holds: Hold[],
): Simulator["late"] {
  return {
    insert(tag, points) {
      store(tag).inject(
        points.map((p) => ({ ...p, quality: p.value === null && p.text === null ? 1 : 0 })),
      );
    },
    revise(tag, t, value) {
      const s = store(tag);
      const original = s.lastAtOrBefore(t, { now: t, latest: false, hidden: () => false });
      if (!original || original.t !== t) {
        throw new Error(`No stored point of "${tag}" at that time`);
      }
      s.revisions.set(t, {
        ...original,
        value: value.value !== undefined ? value.value : original.value,
        text: value.text !== undefined ? value.text : original.text,
        quality: 0,
        qd: 202,
      });
    },
    hold(tags, from, to) {
      holds.push({ tags, from, to });
    },
    release() {
      holds.length = 0;
    },
  };
}
