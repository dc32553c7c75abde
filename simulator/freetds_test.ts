/**
 * An independent client: FreeTDS's `tsql` (Debian package freetds-bin, installed by the test
 * setup, GnuTLS inside) connects to the simulator, runs a History query and reads the right
 * rows; in the clear, and through TLS with the certificate checked against a CA file.
 */
import assert from "node:assert/strict";
import { parseTicks } from "../engine/types.ts";
import { startSimulator } from "./mod.ts";
import { selfSignedCertificate } from "./tds/cert.ts";

/** Runs tsql with `freetds.conf` settings for server "sim"; its exit code and output. */
async function tsql(port: number, settings: Record<string, string>, script: string) {
  const dir = await Deno.makeTempDir();
  try {
    const conf = Object.entries({ host: "127.0.0.1", port: String(port), ...settings })
      .map(([k, v]) => `  ${k} = ${v}`).join("\n");
    await Deno.writeTextFile(`${dir}/freetds.conf`, `[sim]\n${conf}\n`);
    const child = new Deno.Command("tsql", {
      args: ["-S", "sim", "-U", "reader", "-P", "s3cret", "-o", "q"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { FREETDSCONF: `${dir}/freetds.conf` },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script + "\ngo\nexit\n"));
    await writer.close();
    const out = await child.output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FreeTDS through TLS: encryption = require with a CA file; a wrong CA and an unencrypted client are refused", async () => {
  const sim = await startSimulator({
    dataset: "tests/fixtures/historian/delta_example",
    now: () => parseTicks("2024-06-01T00:00:00Z"),
    user: "reader",
    password: "s3cret",
    tls: { require: true },
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, sim.certificate!);
    await Deno.writeTextFile(`${dir}/other.pem`, selfSignedCertificate().cert);
    const query =
      "SELECT COUNT(*) AS n FROM INSQL.Runtime.dbo.History WHERE TagName = 'ReactorLevel' " +
      "AND DateTime >= '2024-01-01 00:20' AND DateTime <= '2024-01-01 00:40' AND wwRetrievalMode = 'Delta'";
    const base = { "tds version": "7.4", "check certificate hostname": "yes" };
    for (const encryption of ["require", "request"]) {
      const ok = await tsql(sim.port, { ...base, encryption, "ca file": `${dir}/ca.pem` }, query);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^7\s*$/m, ok.stdout);
    }
    assert.equal(sim.encryptedConnections(), 2);
    const wrongCa = await tsql(sim.port, {
      ...base,
      encryption: "require",
      "ca file": `${dir}/other.pem`,
    }, query);
    assert.notEqual(wrongCa.code, 0);
    const clear = await tsql(sim.port, { ...base, encryption: "off" }, query);
    assert.notEqual(clear.code, 0);
    assert.equal(sim.requests(), 2, "only the two encrypted sessions ran a query");
  } finally {
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
});

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
