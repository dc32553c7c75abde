/**
 * How Grafana expands the values of a provisioning file (Grafana cannot run here): each string
 * value is split at `$$` (a literal `$`), then its expanders run (`${NAME}` and `$__env{NAME}`
 * from the environment, `$__file{path}` from a file, trimmed), then Go's `os.ExpandEnv`, which
 * knows `$NAME` and `${NAME}` only (grafana/grafana `pkg/services/provisioning/values/values.go`,
 * `pkg/setting/expanders.go`). There are no defaults: `${NAME:-x}` reads a variable named
 * "NAME:-x", which no environment has.
 */

export type Env = Record<string, string | undefined>;

const SHELL_SPECIAL = new Set([..."*#$@!?-0123456789"]);
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Go's `os.Expand`: `$NAME`, `${NAME}` and the shell's one-character names. */
export function goExpand(s: string, lookup: (name: string) => string): string {
  let out = "";
  let i = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] !== "$" || j + 1 >= s.length) continue;
    out += s.slice(i, j);
    const [name, width] = shellName(s.slice(j + 1));
    if (name === "" && width > 0) {
      // bad syntax: the characters are dropped
    } else if (name === "") {
      out += "$";
    } else {
      out += lookup(name);
    }
    j += width;
    i = j + 1;
  }
  return out + s.slice(i);
}

function shellName(s: string): [string, number] {
  if (s[0] === "{") {
    if (s.length > 2 && SHELL_SPECIAL.has(s[1]!) && s[2] === "}") return [s[1]!, 3];
    const close = s.indexOf("}", 1);
    if (close === 1) return ["", 2];
    return close === -1 ? ["", 1] : [s.slice(1, close), close + 1];
  }
  if (SHELL_SPECIAL.has(s[0]!)) return [s[0]!, 1];
  let i = 0;
  while (i < s.length && NAME_CHAR.test(s[i]!)) i++;
  return [s.slice(0, i), i];
}

const EXPANDER = /\$(|__\w+)\{([^}]+)\}/g;

/** One provisioning value as Grafana expands it. */
export function provisioningValue(
  value: string,
  env: Env,
  readFile: (path: string) => string = (p) => Deno.readTextFileSync(p),
): string {
  const lookup = (name: string) => env[name] ?? "";
  return value.split("$$").map((part) => {
    for (const expander of ["env", "file"]) {
      for (const [whole, kind, arg] of [...part.matchAll(EXPANDER)]) {
        if (expander === "env" && (kind === "" || kind === "__env")) {
          part = part.replace(whole, () => lookup(arg!));
        } else if (expander === "file" && kind === "__file") {
          part = part.replace(whole, () => readFile(arg!).trim());
        }
      }
    }
    return goExpand(part, lookup);
  }).join("$");
}

/** Every string in a parsed provisioning file, expanded. */
export function expandProvisioning<T>(parsed: T, env: Env): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return provisioningValue(v, env);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(parsed) as T;
}
