/** `schema [file]`: the JSON Schema of pipeline specs, for editors (spec.schema.json). */
import { z } from "zod";
import { schema } from "./_load.ts";

export async function schemaCommand(file?: string): Promise<number> {
  const json = JSON.stringify(
    z.toJSONSchema(schema(), { io: "input", unrepresentable: "any" }),
    null,
    2,
  ) + "\n";
  if (file) {
    await Deno.writeTextFile(file, json);
    console.log(`wrote ${file}`);
  } else {
    await Deno.stdout.write(new TextEncoder().encode(json));
  }
  return 0;
}
