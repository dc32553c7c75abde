/**
 * Real services for tests: a free loopback port and a throwaway redis-server that is stopped
 * (and its process reaped) when the test is done. `scripts/test_setup.sh` installs redis-server
 * when it is missing, so these helpers fail loudly instead of skipping.
 */

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A redis-server on a free port, or on `port` (to bring one back where it was). */
export async function startRedis(
  options: { password?: string; port?: number } = {},
): Promise<RedisServer> {
  const port = options.port ?? freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (options.password) args.push("--requirepass", options.password);
  const child = new Deno.Command("redis-server", { args, stdout: "piped", stderr: "piped" })
    .spawn();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + 10_000;
  let seen = "";
  while (!seen.includes("Ready to accept connections")) {
    const { value, done } = await Promise.race([
      output.read(),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`redis-server did not start:\n${seen}`)),
          deadline - Date.now(),
        )
      ),
    ]);
    if (done) throw new Error(`redis-server exited:\n${seen}`);
    seen += value;
  }
  output.releaseLock();
  child.stdout.cancel().catch(() => {});
  child.stderr.cancel().catch(() => {});
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/** The login the tests' Historian simulators ask for, as a SQL Server's login would be. */
export const SIM_LOGIN = { user: "historian", password: "Hist-test-pw1" };

/** SIM_LOGIN in the shipped specs' variables. */
export const SIM_LOGIN_ENV = {
  WONDERWARE_USERNAME: SIM_LOGIN.user,
  WONDERWARE_PASSWORD: SIM_LOGIN.password,
};
