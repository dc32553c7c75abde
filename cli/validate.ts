/** `validate [spec...]`: every problem of every spec, as file:line:col path: message. */
import { ConfigError } from "../engine/errors.ts";
import { load } from "./_load.ts";

export async function validateCommand(files: string[]): Promise<number> {
  let failed = false;
  for (const file of files) {
    try {
      await load(file);
      console.log(`${file}: valid`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(e.message);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}
