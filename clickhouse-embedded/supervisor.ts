/**
 * Runs the embedded store as a child process and keeps it running: restarted with backoff
 * when it dies, whatever the way (a crash, a signal, an exit with status 0), stopped with
 * SIGTERM on close. The child exits by itself when its stdin closes, so a parent killed with
 * SIGKILL leaves no orphan holding the data directory.
 *
 * The child is kept apart from the engine: a process group of its own (`setsid`: a signal the
 * engine inside sends to its group reaches nobody else), only the environment it needs to run
 * (no WONDERWARE_PASSWORD, CLICKHOUSE_PASSWORD or API_TOKEN), and its passwords on its stdin.
 */
import type { Clock, Logger } from "../engine/mod.ts";
import { credentialsFile, loadCredentials } from "./credentials.ts";
import type { Credentials } from "./credentials.ts";

export type { Credentials };

/** What the store's process inherits from the engine's environment: what Deno needs to run. */
const INHERITED =
  /^(PATH|HOME|USER|LOGNAME|TMPDIR|TEMP|TMP|TZ|LANG|LC_[A-Z]+|NO_COLOR|XDG_CACHE_HOME|DENO_[A-Z_]+|NPM_CONFIG_[A-Z_]+|npm_config_[a-z_]+|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy)$/;

/** The environment of the store's process. */
export function storeEnv(env: Record<string, string> = Deno.env.toObject()) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => INHERITED.test(k)));
}

export interface EmbeddedStore {
  /** Where to reach it, without credentials. */
  url: string;
  /** The writer (for the sink) and the read-only reader (for the API and dashboards). */
  credentials: Credentials;
  /** Where generated passwords are kept. */
  credentialsFile: string;
  /** How many times the child was started (1 + restarts). */
  starts(): number;
  /** The running child's process id. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

const ENTRY = new URL("./main.ts", import.meta.url).pathname;

export async function startEmbedded(
  options: {
    /** Listen address; loopback by default. */
    host?: string;
    port: number;
    path: string;
    log: Logger;
    clock: Clock;
    /** The writer's user and password; a password is generated when none is given. */
    user?: string;
    password?: string;
    /** The reader's password; generated when none is given. */
    readerPassword?: string;
    /** Caps no client can lift: MiB of memory and seconds per query. */
    maxQueryMemoryMiB?: number;
    maxExecutionSeconds?: number;
    startTimeoutMs?: number;
  },
): Promise<EmbeddedStore> {
  const { log, clock } = options;
  try {
    await Deno.stat(ENTRY);
  } catch {
    throw new Error(
      "this build does not contain the embedded ClickHouse store (chDB, Linux only): set CLICKHOUSE_URL or sink.clickhouse.url",
    );
  }
  let port = options.port;
  // Where this process reaches the store: loopback when it listens on every interface.
  const host = options.host ?? "127.0.0.1";
  const reach = ["0.0.0.0", "::", "127.0.0.1", "localhost"].includes(host) ? "127.0.0.1" : host;
  let child: Deno.ChildProcess | undefined;
  let stopping = false;
  let starts = 0;
  const credentials = await loadCredentials(options.path, {
    user: options.user,
    password: options.password,
    readerPassword: options.readerPassword,
  });
  const setsid = await Deno.stat("/usr/bin/setsid").then(() => "/usr/bin/setsid", () => undefined);

  async function spawn(): Promise<void> {
    starts++;
    const args = [
      "run",
      "-A",
      ENTRY,
      "--host",
      host,
      "--port",
      String(port),
      "--path",
      options.path,
      "--user",
      credentials.writer.user,
      "--exit-with-stdin",
      "--secrets-from-stdin",
      ...(options.maxQueryMemoryMiB
        ? ["--max-query-memory", String(options.maxQueryMemoryMiB)]
        : []),
      ...(options.maxExecutionSeconds
        ? ["--max-execution-time", String(options.maxExecutionSeconds)]
        : []),
    ];
    const proc = new Deno.Command(setsid ?? Deno.execPath(), {
      args: setsid ? [Deno.execPath(), ...args] : args,
      clearEnv: true,
      env: storeEnv(),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child = proc;
    const secrets = JSON.stringify({
      password: credentials.writer.password,
      readerPassword: credentials.reader.password,
    });
    const stdin = proc.stdin.getWriter();
    await stdin.write(new TextEncoder().encode(secrets + "\n")).catch(() => {});
    stdin.releaseLock(); // kept open: the child exits when it closes
    const lines = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const ready = (async () => {
      while (true) {
        const { value, done } = await lines.read();
        if (done) {
          throw new Error(
            `the embedded store exited before it was ready: ${seen.trim() || "no output"}`,
          );
        }
        seen += value;
        const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(seen);
        if (m) return Number(m[1]);
      }
    })();
    const errors = drain(proc.stderr);
    const timeout = options.startTimeoutMs ?? 120_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      port = await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`the embedded store did not start within ${timeout} ms`)),
            timeout,
          );
        }),
      ]);
    } catch (e) {
      try {
        proc.kill("SIGKILL");
      } catch { /* gone */ }
      await proc.status;
      throw new Error(`${(e as Error).message}\n${(await errors()).trim()}`.trim());
    } finally {
      clearTimeout(timer);
    }
    lines.releaseLock();
    proc.stdout.cancel().catch(() => {});
    log.info("embedded ClickHouse store running", {
      url: `http://${reach}:${port}`,
      path: options.path,
      pid: proc.pid,
    });
    proc.status.then((status) => {
      if (stopping || child !== proc) return;
      log.warn("embedded ClickHouse store exited; restarting", {
        code: status.code,
        signal: status.signal,
      });
      restart(1);
    });
  }

  async function restart(attempt: number) {
    if (stopping) return;
    const delay = Math.min(30_000, 500 * 2 ** (attempt - 1));
    await clock.sleep(delay).catch(() => {});
    if (stopping) return;
    try {
      await spawn();
    } catch (e) {
      log.error("embedded ClickHouse store failed to restart", {
        error: (e as Error).message,
        attempt,
      });
      restart(attempt + 1);
    }
  }

  await spawn();
  return {
    get url() {
      return `http://${reach}:${port}`;
    },
    credentials,
    credentialsFile: credentialsFile(options.path),
    starts: () => starts,
    pid: () => child?.pid,
    async stop() {
      stopping = true;
      if (!child) return;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/** Collects a stream in the background; the returned function gives what arrived so far. */
function drain(stream: ReadableStream<Uint8Array>): () => Promise<string> {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  ).catch(() => {});
  return async () => {
    await Promise.race([done, new Promise((r) => setTimeout(r, 100))]);
    return text.slice(-2000);
  };
}
