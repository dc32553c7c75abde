/**
 * The engine's public surface for plugins: interfaces, types, errors and schema helpers.
 * A plugin imports from here and nowhere else in the engine.
 */
export * from "./types.ts";
export * from "./plugin.ts";
export * from "./migration.ts";
export { ConfigError, PluginError } from "./errors.ts";
export type { ErrorReason } from "./errors.ts";
export type { Fields, Logger } from "./log.ts";
export { duration } from "./spec/duration.ts";
export {
  aggregationInput,
  isReadingsTable,
  orderedAggregations,
  siteColumnOf,
  storedColumnOf,
} from "./spec/storage.ts";
export type {
  Aggregation,
  AggregationInput,
  Assets,
  DerivedTable,
  ReadingsTable,
  StorageModel,
  SummariesSpec,
  Table,
} from "./spec/storage.ts";
export type { ValueSpec } from "./spec/values.ts";
export { retry } from "./retry.ts";
export { compilePattern } from "./assets.ts";
export type { RetryOptions } from "./retry.ts";
