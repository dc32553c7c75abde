/** Plugins that ship inside the engine and need no folder of their own. */
import { memoryCache } from "./cache_memory.ts";
import type { PluginDefinition } from "./plugin.ts";

export const builtinPlugins: readonly PluginDefinition[] = [memoryCache as PluginDefinition];
