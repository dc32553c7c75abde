/**
 * `deno task sim`: runs the Historian simulator and prints how to connect. A login is required
 * as on a SQL Server: `--user` with the password from SIMULATOR_PASSWORD (kept out of `ps`) or
 * `--password`, or `--allow-any-login` said out loud.
 *
 *   SIMULATOR_PASSWORD=p deno task sim --user u [--port 1433] [--plant file.yaml | --dataset dir]
 *                 [--timezone Zone] [--tls [--tls-cert f --tls-key f] [--tls-require]]
 */
import { parse } from "yaml";
import { z } from "zod";
import { compilePattern, duration } from "../engine/mod.ts";
import { parseDuration } from "../engine/spec/duration.ts";
import { startSimulator } from "./mod.ts";

const HELP = `Usage: SIMULATOR_PASSWORD=p deno task sim --user u [--port 1433] [--timezone Zone]
                     [--plant file.yaml | --dataset dir] [--tls [--tls-cert f --tls-key f] [--tls-require]]
       deno task sim --allow-any-login [options]

Serves AVEVA Historian's SQL surface (Runtime database, History, Live) over TDS on 127.0.0.1.
Clients log in as on a SQL Server: a refused login gets error 18456; a database other than
Runtime (the default) or a system one (master, tempdb, model, msdb) gets error 4060.
--user     the SQL login clients must use; its password from the environment variable
           SIMULATOR_PASSWORD (recommended), or --password p (which shows in ps)
--allow-any-login
           accept any user and password instead (tests and demos only)
--plant    YAML: seed, analog, discrete, string (tag counts), analog_rate, discrete_rate,
           string_rate (storage rates, e.g. 1s), history (e.g. 30d), system_tags, timezone,
           shape (demo, or realistic: per-sensor decimals, scan rates and deadbands, stored on
           change; the rates above then apply to the demo shape only)
--dataset  folder with tags.csv and points.csv, served exactly
--timezone the server's time zone (IANA or Windows name), default UTC
--tls      offer TLS as SQL Server does (PRELOGIN, then TLS inside TDS), with a self-signed
           certificate for localhost/127.0.0.1 written to --tls-cert-out (default
           data/simulator-cert.pem) for clients to trust, or the PEM files --tls-cert/--tls-key;
           --tls-require refuses clients that will not encrypt ("Force Encryption")

Faults, for demos: --delay 200ms (before each answer), --drop-after 5000 (cut every
connection after that many rows of a result), --refuse-logins 30s (error 18456 for a while).
Late data, for demos: --store-and-forward 10m holds back the points of the tags matching
--late-tags (default *.Press01.*) from now on for that long, then releases them at once, as
a remote collector does when its link comes back.`;

export const plantFile = z.strictObject({
  seed: z.int().default(1),
  analog: z.int().min(0).default(40),
  discrete: z.int().min(0).default(6),
  string: z.int().min(0).default(4),
  analog_rate: duration({ min: 1 }).prefault("1s"),
  discrete_rate: duration({ min: 1 }).prefault("10s"),
  string_rate: duration({ min: 1 }).prefault("5m"),
  history: duration({ min: 60_000 }).prefault("7d"),
  system_tags: z.boolean().default(true),
  timezone: z.string().optional(),
  shape: z.enum(["demo", "realistic"]).default("demo"),
});

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
  return v;
}

/**
 * The login from `--user`, `--password` or SIMULATOR_PASSWORD, and `--allow-any-login`; half a
 * login, or none without `--allow-any-login`, is an error that says what is missing.
 */
export function loginFlags(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): { user?: string; password?: string; allowAnyLogin?: true } {
  const user = flag(args, "user");
  const given = flag(args, "password");
  const password = given ?? env("SIMULATOR_PASSWORD");
  const allowAnyLogin = args.includes("--allow-any-login");
  const cannot = (why: string) => new Error(`Cannot start the simulator: ${why}`);
  if (!user && given !== undefined) throw cannot("--password is given without --user");
  if (!user && password) throw cannot("SIMULATOR_PASSWORD is set but --user is not given");
  if (user && !password) {
    throw cannot(`--user "${user}" needs a password: set SIMULATOR_PASSWORD (or --password)`);
  }
  if (user && allowAnyLogin) throw cannot("--allow-any-login contradicts --user");
  if (!user && !allowAnyLogin) {
    throw cannot(
      "a login is required: give --user with SIMULATOR_PASSWORD set (or --password), or --allow-any-login to accept any login",
    );
  }
  return user ? { user, password } : { allowAnyLogin: true };
}

/** Runs the simulator until SIGINT/SIGTERM (`deno task sim`, or the binary's `sim` verb). */
export async function runSim(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    console.log(HELP);
    return 0;
  }
  try {
    const login = loginFlags(args);
    const plantPath = flag(args, "plant");
    let plant = plantFile.parse({});
    if (plantPath) {
      const result = plantFile.safeParse(parse(await Deno.readTextFile(plantPath)) ?? {});
      if (!result.success) {
        for (const i of result.error.issues) {
          console.error(`${plantPath} ${i.path.join(".")}: ${i.message}`);
        }
        Deno.exit(1);
      }
      plant = result.data;
    }
    const certFile = flag(args, "tls-cert"), keyFile = flag(args, "tls-key");
    const tls = args.includes("--tls") || args.includes("--tls-require") || certFile
      ? {
        cert: certFile && await Deno.readTextFile(certFile),
        key: keyFile && await Deno.readTextFile(keyFile),
        require: args.includes("--tls-require"),
      }
      : undefined;
    const sim = await startSimulator({
      tls,
      port: Number(flag(args, "port") ?? 1433),
      dataset: flag(args, "dataset"),
      timezone: flag(args, "timezone") ?? plant.timezone ?? "UTC",
      ...login,
      plant: {
        seed: plant.seed,
        analog: plant.analog,
        discrete: plant.discrete,
        string: plant.string,
        analogRateMs: plant.analog_rate,
        discreteRateMs: plant.discrete_rate,
        stringRateMs: plant.string_rate,
        historyMs: plant.history,
        systemTags: plant.system_tags,
        shape: plant.shape,
      },
    });
    const delay = flag(args, "delay");
    if (delay) sim.faults.delay(parseDuration(delay) ?? Number(delay));
    const dropAfter = flag(args, "drop-after");
    if (dropAfter) sim.faults.dropResults(Number(dropAfter), Number.MAX_SAFE_INTEGER);
    const refuse = flag(args, "refuse-logins");
    if (refuse) sim.faults.refuseLogins(parseDuration(refuse) ?? Number(refuse));
    const outage = flag(args, "store-and-forward");
    if (outage) {
      const ms = parseDuration(outage) ?? Number(outage);
      const pattern = compilePattern(flag(args, "late-tags") ?? "*.Press01.*", {
        ignoreCase: true,
      });
      const from = BigInt(Date.now()) * 10_000n;
      sim.late.hold((tag) => pattern.test(tag), from, from + BigInt(ms) * 10_000n);
      setTimeout(() => {
        sim.late.release();
        console.log(`store-and-forward: released ${Math.round(ms / 1000)} s of held-back points`);
      }, ms);
    }
    console.log(
      `Historian simulator listening on ${sim.host}:${sim.port} (time zone ${sim.timezone}, ${sim.tags.length} tags)`,
    );
    if (sim.certificate && !certFile) {
      const out = flag(args, "tls-cert-out") ?? "data/simulator-cert.pem";
      await Deno.mkdir(out.replace(/[^/]*$/, "") || ".", { recursive: true });
      await Deno.writeTextFile(out, sim.certificate);
      console.log(`TLS ${tls?.require ? "required" : "offered"}; certificate written to ${out}`);
    }
    if (login.allowAnyLogin) console.log("Any user and password are accepted (--allow-any-login)");
    console.log(
      `Connect with: WONDERWARE_HOST=${sim.host} WONDERWARE_PORT=${sim.port} WONDERWARE_DATABASE=Runtime` +
        (login.user ? ` WONDERWARE_USERNAME=${login.user} WONDERWARE_PASSWORD=...` : ""),
    );
    await new Promise<void>((resolve) => {
      Deno.addSignalListener("SIGINT", resolve);
      Deno.addSignalListener("SIGTERM", resolve);
    });
    await sim.close();
    return 0;
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await runSim(Deno.args));
