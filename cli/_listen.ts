/**
 * Serving the REST API: Deno.serve, with a message that names the address and the settings to
 * change when it cannot listen (`Address already in use (os error 98)` alone names neither).
 */

export interface ListenOptions {
  hostname: string;
  port: number;
  /** How the user sets a spec value (LoadedSpec.setting); default: its YAML path. */
  setting?(path: string): string;
}

/** Deno.serve on hostname:port; throws an Error that says what to change when it cannot. */
export function listen(
  options: ListenOptions,
  handler: Deno.ServeHandler,
  onListen?: (address: Deno.NetAddr) => void,
): Deno.HttpServer {
  const { hostname, port } = options;
  try {
    return Deno.serve({ hostname, port, onListen }, handler);
  } catch (e) {
    throw new Error(listenProblem(e, options) ?? (e as Error).message, { cause: e });
  }
}

function listenProblem(e: unknown, options: ListenOptions): string | undefined {
  const name = (key: string) => options.setting?.(`api.${key}`) ?? `api.${key}`;
  const set = (key: string, value: string) => {
    const setting = name(key);
    return setting.includes(".") ? `${setting}: ${value}` : `${setting}=${value}`;
  };
  const where = `Cannot serve the REST API at ${options.hostname}:${options.port}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return `${where}: the address is already in use (another historian-sync, a demo or another program listens there): stop it, or set ${
      name("port")
    } to a free port (e.g. ${set("port", String(options.port + 1))}; demo reads it too)`;
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return `${where}: this machine has no such address: set ${
      name("hostname")
    } to one of its own addresses (127.0.0.1 for this machine only, 0.0.0.0 for every interface)`;
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return `${where}: not allowed to listen on that port (below 1024 needs administrator rights on Linux): set ${
      name("port")
    } to a port above 1023 (e.g. ${set("port", "4000")})`;
  }
  return undefined;
}
