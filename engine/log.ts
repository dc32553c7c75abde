/**
 * Logging for the engine and its plugins. One line per event: human text on a terminal, JSON
 * lines otherwise (for journald, files and log shippers). The level comes from LOG_LEVEL.
 *
 * Secrets never reach the output: values of fields named like a secret, registered secret
 * strings (passwords read from the spec) and credentials inside URLs are all masked here, in
 * the one place every line passes through.
 */

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** A logger whose lines carry `fields` too, e.g. `{ plugin: "cache-redis" }`. */
  child(fields: Fields): Logger;
}

const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|api_?key|authorization|credential/i;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]*):([^\s@/]*)@/gi;
const MASK = "***";

/** Masks credentials in URLs and every registered secret inside `text`. */
export function redact(text: string, secrets: Iterable<string> = []): string {
  let out = text.replace(URL_CREDENTIALS, (_, scheme, user) => `${scheme}${user}:${MASK}@`);
  for (const secret of secrets) {
    if (secret.length >= 3) out = out.split(secret).join(MASK);
  }
  return out;
}

export interface LoggerOptions {
  level?: Level;
  /** "text" for humans, "json" for machines; default: text on a terminal, else JSON. */
  format?: "text" | "json";
  /** Strings to mask wherever they appear (passwords, tokens). */
  secrets?: Set<string>;
  write?: (line: string) => void;
  now?: () => Date;
}

/** Reads LOG_LEVEL and LOG_FORMAT; unknown values fall back to the defaults. */
export function loggerOptionsFromEnv(env: (name: string) => string | undefined): LoggerOptions {
  const level = env("LOG_LEVEL")?.toLowerCase();
  const format = env("LOG_FORMAT")?.toLowerCase();
  return {
    level: level && level in RANK ? level as Level : undefined,
    format: format === "json" || format === "text" ? format : undefined,
  };
}

export function createLogger(options: LoggerOptions = {}, base: Fields = {}): Logger {
  const min = RANK[options.level ?? "info"];
  const format = options.format ?? (Deno.stderr.isTerminal() ? "text" : "json");
  const secrets = options.secrets ?? new Set<string>();
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? (() => new Date());

  function emit(level: Level, message: string, fields: Fields = {}) {
    if (RANK[level] < min) return;
    const all = maskFields({ ...base, ...fields });
    const time = now().toISOString();
    const line = format === "json"
      ? JSON.stringify({ time, level, msg: message, ...all }, jsonReplacer)
      : `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${message}${textFields(all)}`;
    write(redact(line, secrets));
  }

  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...options, secrets }, { ...base, ...fields }),
  };
}

function maskFields(fields: Fields): Fields {
  const out: Fields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = SECRET_KEY.test(key) && value !== undefined && value !== "" ? MASK : value;
  }
  return out;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return errorText(value);
  if (typeof value === "bigint") return value.toString();
  return value;
}

/**
 * Fields as `k=v` after the message; a value of several lines (a migration plan, a list of
 * problems) is set out after the line as an indented block under its key, as a person reads it.
 */
function textFields(fields: Fields): string {
  const blocks: string[] = [];
  const parts = Object.entries(fields).filter(([, v]) => v !== undefined).flatMap(([k, v]) => {
    const text = v instanceof Error
      ? errorText(v)
      : typeof v === "string"
      ? v
      : JSON.stringify(v, jsonReplacer);
    if (text.includes("\n")) {
      blocks.push(`\n  ${k}:\n${text.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")}`);
      return [];
    }
    return [`${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`];
  });
  return (parts.length ? "  " + parts.join(" ") : "") + blocks.join("");
}

/** An error's message followed by its causes, `a: b: c`, without stack traces. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 5; depth++) {
    if (e instanceof Error) {
      if (!parts.some((p) => p.includes(e instanceof Error ? e.message : ""))) {
        parts.push(e.message);
      }
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(": ");
}
