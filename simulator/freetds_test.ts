/**
 * An independent client: FreeTDS's `tsql` (Debian package freetds-bin, installed by the test
 * setup) connects to the simulator, runs a History query and reads the right rows.
 */
import assert from "node:assert/strict";
import { parseTicks } from "../engine/types.ts";
import { startSimulator } from "./mod.ts";

Deno.test("FreeTDS tsql connects, queries History and reads the right rows", async () => {
  const sim = await startSimulator({
    dataset: "tests/fixtures/historian/delta_example",
    now: () => parseTicks("2024-06-01T00:00:00Z"),
    user: "reader",
    password: "s3cret",
  });
  try {
    const script = [
      "SELECT DateTime, Value, Quality, QualityDetail FROM INSQL.Runtime.dbo.History",
      "WHERE TagName = 'ReactorLevel' AND DateTime >= '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:40'",
      "AND wwRetrievalMode = 'Delta'",
      "go",
      "exit",
      "",
    ].join("\n");
    const child = new Deno.Command("tsql", {
      args: ["-H", "127.0.0.1", "-p", String(sim.port), "-U", "reader", "-P", "s3cret", "-o", "q"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { TDSVER: "7.4" },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const rows = text.trim().split("\n").filter((l) => /^\w{3} +\d/.test(l)).map((l) =>
      l.split("\t")
    );
    assert.deepEqual(rows.map((r) => [r[1], r[2], r[3]]), [
      ["1.3", "133", "192"],
      ["2", "0", "192"],
      ["1.2", "0", "192"],
      ["NULL", "1", "249"],
      ["0.59999999999999998", "0", "192"],
      ["NULL", "1", "24"],
      ["1.5", "0", "192"],
    ]);
  } finally {
    await sim.close();
  }
});
