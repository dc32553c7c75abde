/**
 * The embedded ClickHouse store, a small product of its own: chDB (a modern ClickHouse engine)
 * behind ClickHouse's HTTP interface, in a supervised process. This is its public entry; the
 * ClickHouse sink reaches it only through here, and only when no ClickHouse URL is set.
 */
export { startEmbedded } from "./supervisor.ts";
export type { EmbeddedStore } from "./supervisor.ts";
