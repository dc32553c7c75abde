/** Entry point: hands the command line to cli/. */
import { main } from "./cli/mod.ts";

export { DEFAULT_SPEC, main } from "./cli/mod.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
