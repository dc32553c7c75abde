/** Helpers shared by the benchmarks: peak memory of this and other processes, medians. */

/** Peak resident set size of a process in MB, from /proc (VmHWM). */
export function peakRssMb(pid: number | "self" = "self"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used so far, in seconds, from /proc (0 if gone). */
export function cpuSeconds(pid: number | "self" = "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
/** The kernel's USER_HZ, the unit of /proc's CPU times: 100 on every Linux build that matters. */
const CLOCK_TICKS = 100;

/**
 * Follows the CPU time of the processes whose command line contains `marker`, by role (the
 * first of `roles` whose pattern the command line matches), sampling /proc every 250 ms: a
 * process's last sample before it exits is its total, within 250 ms of its last work.
 */
export function cpuByRole(marker: string, roles: Record<string, RegExp>) {
  const last = new Map<number, { role: string; seconds: number }>();
  const sample = () => {
    for (const entry of Deno.readDirSync("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid)) continue;
      let cmdline: string;
      try {
        cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
      } catch {
        continue;
      }
      if (!cmdline.includes(marker)) continue;
      const role = Object.keys(roles).find((r) => roles[r]!.test(cmdline));
      const seconds = cpuSeconds(pid);
      if (role && seconds > 0) last.set(pid, { role, seconds });
    }
  };
  const timer = setInterval(sample, 250);
  return {
    /** Stops sampling; CPU seconds per role, summed over its processes. */
    stop(): Record<string, number> {
      clearInterval(timer);
      sample();
      const totals: Record<string, number> = Object.fromEntries(
        Object.keys(roles).map((r) => [r, 0]),
      );
      for (const { role, seconds } of last.values()) totals[role]! += seconds;
      for (const r in totals) totals[r] = tenths(totals[r]!);
      return totals;
    },
  };
}

/** A figure rounded to tenths, as the benchmarks print seconds. */
export function tenths(n: number): number {
  return Math.round(n * 10) / 10;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}

/** The login the benchmarks' simulator asks for and their clients use. */
export const BENCH_LOGIN = { user: "bench", password: "bench" };

/**
 * Starts `deno task sim` in a process of its own, asking for BENCH_LOGIN (its password in
 * SIMULATOR_PASSWORD, as the simulator's help recommends); resolves once it listens.
 */
export async function spawnSimulator(
  args: string[],
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../simulator/main.ts", import.meta.url).pathname,
      "--port",
      String(port),
      "--user",
      BENCH_LOGIN.user,
      ...args,
    ],
    env: { SIMULATOR_PASSWORD: BENCH_LOGIN.password },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the simulator exited: ${seen}`);
    seen += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}
