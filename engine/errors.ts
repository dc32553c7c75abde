/**
 * The few error classes worth catching. Config problems are data (`ConfigIssue`) until they
 * reach the edge, where `ConfigError` formats them one per line as `file:line:col path: message`.
 */

/** One problem found in a pipeline spec. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  /** YAML path such as `source.wonderware.port` or `chunking.window`; "" for the document. */
  path: string;
  message: string;
}

/** Formats an issue the way every config error is printed. */
export function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where} ${issue.message}`;
}

/** A pipeline spec that cannot be used; carries every problem found, not only the first. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
  }
}

/**
 * Why a plugin call failed, as far as the plugin can tell: the engine logs and counts it, the
 * API answers by it (api/failure.ts). `too_big`: the result passed a declared cap (rows, bytes);
 * `memory`: the work needed more memory than it may use; `protocol`: the other side answered,
 * but not as the service it should be (an HTTP server that is not ClickHouse, a write that was
 * acknowledged without being stored).
 */
export type ErrorReason =
  | "timeout"
  | "too_big"
  | "memory"
  | "protocol"
  | "auth"
  | "permission"
  | "backpressure"
  | "connection"
  | "invalid"
  | "not_configured"
  | "other";

/**
 * A plugin failed. Plugins only classify: `retriable` tells the engine whether backing off and
 * trying again can help (a dropped connection) or not (a rejected password); `unavailable`
 * marks a dependency that is not configured or not reachable, which the engine may replace by
 * a declared fallback; `reason` names the kind of failure. Retrying is the engine's job.
 */
export class PluginError extends Error {
  readonly plugin: string;
  readonly retriable: boolean;
  readonly unavailable: boolean;
  readonly reason: ErrorReason;

  constructor(
    plugin: string,
    message: string,
    options: {
      cause?: unknown;
      retriable?: boolean;
      unavailable?: boolean;
      reason?: ErrorReason;
    } = {},
  ) {
    super(`${plugin}: ${message}`, { cause: options.cause });
    this.name = "PluginError";
    this.plugin = plugin;
    this.retriable = options.retriable ?? false;
    this.unavailable = options.unavailable ?? false;
    this.reason = options.reason ?? (options.unavailable ? "connection" : "other");
  }
}
