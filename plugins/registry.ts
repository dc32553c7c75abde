/**
 * The plugins this build contains. Adding a plugin is a folder under plugins/ and one line
 * here; the engine itself never imports a plugin.
 */
import type { PluginDefinition } from "../engine/mod.ts";
import { builtinPlugins } from "../engine/builtins.ts";
import redis from "./cache-redis/mod.ts";
import clickhouse from "./sink-clickhouse/mod.ts";
import wonderware from "./source-wonderware/mod.ts";
import ignition from "./source-ignition/mod.ts";

export const plugins: readonly PluginDefinition[] = [
  ...builtinPlugins,
  wonderware,
  ignition,
  clickhouse,
  redis,
] as PluginDefinition[];
