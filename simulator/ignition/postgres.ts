/**
 * A throwaway PostgreSQL server, for the Ignition demo and the tests: Debian's `postgresql`
 * binaries (`apt-get install postgresql`; the test setup installs them when missing), a
 * temporary data directory owned by `postgres` (the server refuses to run as root), a free
 * loopback port, trust authentication; stopped and removed afterwards.
 */

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Stops the server at once (as a crash would) for `ms`, then starts it again on its port. */
  outage(ms: number): Promise<void>;
  stop(): Promise<void>;
}

async function binDir(): Promise<string> {
  const versions = await Array.fromAsync(Deno.readDir("/usr/lib/postgresql")).catch(() => []);
  for (const entry of versions) {
    const dir = `/usr/lib/postgresql/${entry.name}/bin`;
    if (await Deno.stat(`${dir}/initdb`).then(() => true, () => false)) return dir;
  }
  throw new Error(
    "no PostgreSQL server binaries under /usr/lib/postgresql: install Debian's postgresql package (apt-get install postgresql), or run scripts/test_setup.sh",
  );
}

async function run(cmd: string, args: string[], asPostgres: boolean) {
  const root = Deno.uid() === 0;
  const [bin, argv] = root && asPostgres
    ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", cmd, ...args]]
    : [cmd, args];
  const out = await new Deno.Command(bin, { args: argv, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = await binDir();
  const dir = await Deno.makeTempDir({ prefix: "historian-sync-pg-" });
  const data = `${dir}/data`;
  const socket = `${dir}/socket`;
  await Deno.mkdir(socket);
  if (Deno.uid() === 0) await run("chown", ["-R", "postgres:postgres", dir], false);
  await run(`${bin}/initdb`, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], true);
  const port = freePort();
  const start = () =>
    run(`${bin}/pg_ctl`, [
      "-D",
      data,
      "-w",
      "-l",
      `${dir}/log`,
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${socket} -c fsync=off -c timezone=Europe/Berlin`,
      "start",
    ], true);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async outage(ms) {
      await run(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"], true);
      await new Promise((r) => setTimeout(r, ms));
      await start();
    },
    async stop() {
      await run(`${bin}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "stop"], true).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
