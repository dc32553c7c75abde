/**
 * The simulator's door, as a SQL Server's: a login is required unless any is allowed out loud,
 * a refused login is error 18456, a database the server does not have is error 4060 at login
 * (911 for USE), all over real TDS through npm:mssql and FreeTDS's tsql; and the CLI and the
 * dataset loader refuse half a login and an over-long tag name with a message that says so.
 */
import assert from "node:assert/strict";
import sql from "mssql";
import { parseTicks } from "../engine/types.ts";
import { loginFlags } from "./main.ts";
import { startSimulator } from "./mod.ts";
import type { SimulatorOptions } from "./mod.ts";

const EXAMPLE = {
  dataset: "tests/fixtures/historian/delta_example",
  now: () => parseTicks("2024-06-01T00:00:00Z"),
};
const LOGIN = { user: "reader", password: "Right-pw1" };

type TediousEvents = { on(event: string, f: (m: { number: number }) => void): void };

/** Connects with mssql; the server's error numbers, and the error connect() ended with. */
async function connect(
  port: number,
  login: { user: string; password: string; database?: string },
  query = "SELECT 1 AS one",
): Promise<{ numbers: number[]; error?: { code?: string; message: string }; rows?: unknown[] }> {
  const numbers: number[] = [];
  const pool = new sql.ConnectionPool({
    server: "127.0.0.1",
    port,
    ...login,
    options: { encrypt: false },
    // mssql hands over tedious's connection, whose errorMessage events carry every error.
    beforeConnect: (conn: TediousEvents) =>
      conn.on("errorMessage", (m: { number: number }) => numbers.push(m.number)),
  } as sql.config);
  try {
    await pool.connect();
  } catch (e) {
    return { numbers, error: e as { code?: string; message: string } };
  }
  try {
    return { numbers, rows: (await pool.request().query(query)).recordset };
  } finally {
    await pool.close();
  }
}

async function withSim(options: SimulatorOptions, fn: (port: number) => Promise<void>) {
  const sim = await startSimulator({ ...EXAMPLE, ...options });
  try {
    await fn(sim.port);
  } finally {
    await sim.close();
  }
}

Deno.test("a login with no user, a wrong user or a wrong password is refused with 18456", async () => {
  const sim = await startSimulator({ ...EXAMPLE, ...LOGIN });
  try {
    for (
      const login of [
        { user: "", password: "" },
        { user: "writer", password: LOGIN.password },
        { user: LOGIN.user, password: "right-PW1" },
      ]
    ) {
      const { numbers, error } = await connect(sim.port, login);
      assert.equal(error?.code, "ELOGIN");
      assert.equal(error?.message, `Login failed for user '${login.user}'.`);
      assert.deepEqual(numbers, [18456]);
    }
    assert.equal(sim.logins(), 3);
    assert.equal(sim.requests(), 0);
  } finally {
    await sim.close();
  }
});

Deno.test("the required login gets in, its user compared case-insensitively as SQL Server does", async () => {
  await withSim(LOGIN, async (port) => {
    for (const user of ["reader", "READER"]) {
      const { error, rows } = await connect(port, { user, password: LOGIN.password });
      assert.equal(error, undefined);
      assert.deepEqual(rows, [{ one: 1 }]);
    }
  });
});

Deno.test("allowAnyLogin lets in any user and password", async () => {
  await withSim({ allowAnyLogin: true }, async (port) => {
    for (const login of [{ user: "anyone", password: "anything" }, { user: "", password: "" }]) {
      assert.deepEqual((await connect(port, login)).rows, [{ one: 1 }]);
    }
  });
});

Deno.test("startSimulator() refuses to start without a login, with half a login, or with two", async () => {
  const cases: [SimulatorOptions, string][] = [
    [
      {},
      "Cannot start the simulator: a login is required; give user and password, or allowAnyLogin: true to accept any login",
    ],
    [{ password: "p" }, "Cannot start the simulator: a password is given without a user"],
    [{ user: "", password: "p" }, "Cannot start the simulator: a password is given without a user"],
    [{ user: "u" }, 'Cannot start the simulator: user "u" is given without a password'],
    [
      { user: "u", password: "" },
      'Cannot start the simulator: user "u" is given without a password',
    ],
    [
      { ...LOGIN, allowAnyLogin: true },
      "Cannot start the simulator: allowAnyLogin contradicts the given user and password",
    ],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(() => startSimulator({ ...EXAMPLE, ...options }), { message });
  }
});

Deno.test("an unknown database in the login is error 4060, then 18456, as SQL Server answers", async () => {
  await withSim(LOGIN, async (port) => {
    const { numbers, error } = await connect(port, { ...LOGIN, database: "Runtme" });
    assert.deepEqual(numbers, [4060, 18456]);
    assert.equal(error?.message, "Login failed for user 'reader'.");
  });
});

Deno.test("Runtime in any case, no database and the system databases drivers ask for are served", async () => {
  await withSim(LOGIN, async (port) => {
    for (const database of [undefined, "Runtime", "RUNTIME", "master", "tempdb"]) {
      const { error, rows } = await connect(
        port,
        { ...LOGIN, database },
        "SELECT COUNT(*) AS n FROM Runtime.dbo.Tag WHERE TagName = 'ReactorLevel'",
      );
      assert.equal(error, undefined, `${database}: ${error?.message}`);
      assert.deepEqual(rows, [{ n: 1 }], String(database));
    }
  });
});

Deno.test("USE switches to a database the server has and refuses another with 911", async () => {
  await withSim(LOGIN, async (port) => {
    const pool = await new sql.ConnectionPool({
      server: "127.0.0.1",
      port,
      ...LOGIN,
      database: "master",
      options: { encrypt: false },
      pool: { max: 1 },
    }).connect();
    try {
      const changed = await pool.request().query("use runtime; SELECT 1 AS one");
      assert.deepEqual(changed.recordset, [{ one: 1 }]);
      const e = await pool.request().query("USE [Historian]").then(
        () => undefined,
        (err: { number?: number; message: string }) => err,
      );
      assert.equal(e?.number, 911);
      assert.equal(
        e?.message,
        "Database 'Historian' does not exist. Make sure that the name is entered correctly.",
      );
    } finally {
      await pool.close();
    }
  });
});

/** Runs a query through FreeTDS's tsql, asking for `database` at login when given. */
async function tsql(port: number, database: string | undefined, query: string) {
  const child = new Deno.Command("tsql", {
    args: [
      ..."-H 127.0.0.1 -o q -U reader".split(" "),
      ...["-p", String(port), "-P", LOGIN.password],
      ...(database ? ["-D", database] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { TDSVER: "7.4" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${query}\ngo\nexit\n`));
  await writer.close();
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, output: text(out.stdout) + text(out.stderr) };
}

const hasTsql = await new Deno.Command("tsql", { args: ["-C"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "FreeTDS tsql: no database is Runtime; an unknown one is error 4060, and 911 in USE",
  ignore: !hasTsql,
  fn: async () => {
    await withSim(LOGIN, async (port) => {
      const query = "SELECT COUNT(*) AS n FROM Tag WHERE TagName = 'ReactorLevel'";
      const ok = await tsql(port, undefined, query);
      assert.equal(ok.code, 0, ok.output);
      assert.match(ok.output, /^1\s*$/m);
      const refused = await tsql(port, "Nowhere", query);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.output,
        /Msg 4060 \(severity 11, state 1\)[^\n]*\n\s*"?Cannot open database "Nowhere" requested by the login\. The login failed\./,
      );
      assert.match(refused.output, /Login failed for user 'reader'\./);
      const used = await tsql(port, undefined, `USE master\ngo\nUSE Nowhere\ngo\n${query}`);
      assert.match(
        used.output,
        /Msg 911 \(severity 16, state 1\)[^\n]*\n\s*"Database 'Nowhere' does not exist\. Make sure that the name is entered correctly\."/,
      );
      assert.match(used.output, /^1\s*$/m, "the batch after the refused USE ran");
    });
  },
});
if (!hasTsql) console.log("FreeTDS's tsql is not installed: its 4060 check is skipped");

Deno.test("loginFlags() takes the password from SIMULATOR_PASSWORD or --password, with --user", () => {
  const env = (password?: string) => (name: string) =>
    name === "SIMULATOR_PASSWORD" ? password : undefined;
  assert.deepEqual(loginFlags(["--user", "u"], env("p")), { user: "u", password: "p" });
  assert.deepEqual(loginFlags(["--user", "u", "--password", "q"], env("p")), {
    user: "u",
    password: "q",
  });
  assert.deepEqual(loginFlags(["--allow-any-login"], env()), { allowAnyLogin: true });
});

Deno.test("loginFlags() refuses half a login, no login, and a login with --allow-any-login", () => {
  const env = (password?: string) => (name: string) =>
    name === "SIMULATOR_PASSWORD" ? password : undefined;
  const cases: [string[], string | undefined, string][] = [
    [["--password", "p"], undefined, "--password is given without --user"],
    [["--password", "p", "--allow-any-login"], undefined, "--password is given without --user"],
    [[], "p", "SIMULATOR_PASSWORD is set but --user is not given"],
    [
      ["--user", "u"],
      undefined,
      '--user "u" needs a password: set SIMULATOR_PASSWORD (or --password)',
    ],
    [["--user", "u", "--allow-any-login"], "p", "--allow-any-login contradicts --user"],
    [
      [],
      undefined,
      "a login is required: give --user with SIMULATOR_PASSWORD set (or --password), or --allow-any-login to accept any login",
    ],
  ];
  for (const [args, password, why] of cases) {
    assert.throws(() => loginFlags(args, env(password)), {
      message: `Cannot start the simulator: ${why}`,
    });
  }
});

/** `deno run simulator/main.ts` with these arguments and environment; its child process. */
function sim(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "simulator/main.ts", "--port", "0", "--dataset", EXAMPLE.dataset, ...args],
    env: { SIMULATOR_PASSWORD: "", ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("sim with --password but no --user exits 1 and says why", async () => {
  const out = await sim(["--password", "p"]).output();
  assert.equal(out.code, 1);
  assert.equal(
    new TextDecoder().decode(out.stderr),
    "Cannot start the simulator: --password is given without --user\n",
  );
});

Deno.test("sim --help recommends SIMULATOR_PASSWORD over --password, which shows in ps", async () => {
  const out = await sim(["--help"]).output();
  assert.equal(out.code, 0);
  assert.match(
    new TextDecoder().decode(out.stdout),
    /--user {5}the SQL login clients must use; its password from the environment variable\n {11}SIMULATOR_PASSWORD \(recommended\), or --password p \(which shows in ps\)\n--allow-any-login\n/,
  );
});

/** Starts `sim`, waits for its port, runs `fn`, then stops it with SIGTERM. */
async function withSimCli(
  args: string[],
  env: Record<string, string>,
  fn: (port: number, said: string) => Promise<void>,
) {
  const child = sim(args, env).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  try {
    while (!/Connect with:[^\n]*\n/.test(said)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`sim exited: ${said}`);
      said += value;
    }
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(said)![1]);
    await fn(port, said);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  }
}

Deno.test("sim --user with SIMULATOR_PASSWORD asks for that login and shows no password", async () => {
  await withSimCli(
    ["--user", "reader"],
    { SIMULATOR_PASSWORD: LOGIN.password },
    async (port, said) => {
      assert.ok(!said.includes(LOGIN.password), said);
      assert.match(said, /WONDERWARE_USERNAME=reader WONDERWARE_PASSWORD=\.\.\./);
      assert.deepEqual((await connect(port, LOGIN)).rows, [{ one: 1 }]);
      assert.deepEqual((await connect(port, { ...LOGIN, password: "wrong" })).numbers, [18456]);
    },
  );
});

Deno.test("sim --allow-any-login lets any login in and says so", async () => {
  await withSimCli(["--allow-any-login"], {}, async (port, said) => {
    assert.match(said, /Any user and password are accepted \(--allow-any-login\)/);
    assert.deepEqual((await connect(port, { user: "x", password: "y" })).rows, [{ one: 1 }]);
  });
});

Deno.test("a dataset with a tag name over 256 characters is refused naming tags.csv and its line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const name = "A".repeat(257);
    await Deno.writeTextFile(
      `${dir}/tags.csv`,
      `TagName,TagType,Description,EngUnit,MinEU,MaxEU\n${
        "B".repeat(256)
      },1,,,0,1\n${name},1,,,0,1\n`,
    );
    await Deno.writeTextFile(
      `${dir}/points.csv`,
      "TagName,DateTime,Value,vValue,QualityDetail,OPCQuality\n",
    );
    await assert.rejects(() => startSimulator({ dataset: dir, allowAnyLogin: true }), {
      message: `${dir}/tags.csv:3: tag "${
        "A".repeat(40)
      }…" is 257 characters long; the Historian's TagName is nvarchar(256)`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
