/**
 * The embedded store against hostile and careless clients, as a local user, a dashboard and a
 * web page would reach it: no login, a read-only login, the writer's login used for what a
 * ClickHouse server refuses, a page on another origin, requests that fail part-way, time out
 * or are abandoned. Each probe was a finding against the store as it was (issue 28).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startTestStore } from "../tests/_clickhouse.ts";
import type { TestStore } from "../tests/_clickhouse.ts";

const SECRETS = {
  WONDERWARE_PASSWORD: "ww-secret-4821",
  CLICKHOUSE_PASSWORD: "ch-secret-7731",
  API_TOKEN: "api-secret-9902",
};

/** A store started while the engine's secrets are in this process's environment. */
async function withStore(fn: (store: TestStore) => Promise<void>, options = {}) {
  for (const [k, v] of Object.entries(SECRETS)) Deno.env.set(k, v);
  const store = await startTestStore(options);
  try {
    await fn(store);
  } finally {
    await store.stop();
    for (const k of Object.keys(SECRETS)) Deno.env.delete(k);
  }
}

async function answer(res: Response) {
  return {
    status: res.status,
    code: res.headers.get("X-ClickHouse-Exception-Code"),
    text: await res.text(),
  };
}

/** Asserts the statement is refused for `as`, with the status and code ClickHouse would give. */
async function refused(
  store: TestStore,
  sql: string,
  as: "writer" | "reader",
  code: string | string[] = "497",
) {
  const r = await answer(await store.sql(sql, as));
  assert.ok([code].flat().includes(r.code!), `${sql}: ${r.text}`);
  assert.equal(r.status, 403, sql);
  assert.ok(!r.text.includes("root:"), "no file content in the answer");
}

Deno.test("the store asks every client for a login, with generated passwords kept private", async () => {
  await withStore(async (store) => {
    const none = await answer(await fetch(`${store.base}/?query=SELECT%201`));
    assert.equal(none.code, "516");
    const asParams = await answer(
      await fetch(`${store.base}/?user=default&password=wrong&query=SELECT%201`),
    );
    assert.equal(asParams.code, "516");
    const info = await Deno.stat(store.credentialsFile);
    assert.equal(info.mode! & 0o777, 0o600);
    const file = await Deno.readTextFile(store.credentialsFile);
    assert.ok(file.includes(store.writer.password) && file.includes(store.reader.password));
    assert.ok(store.writer.password.length >= 24);
    assert.equal((await answer(await store.sql("SELECT 1", "reader"))).text, "1\n");
    assert.equal((await answer(await store.sql("SELECT 1", "writer"))).text, "1\n");
  });
});

Deno.test("no client reads or writes files, reaches URLs or runs programs", async () => {
  await withStore(async (store) => {
    const outfile = `${store.dir}/../hostile-${crypto.randomUUID()}.txt`;
    for (const as of ["writer", "reader"] as const) {
      for (
        const sql of [
          "SELECT * FROM file('/etc/passwd', 'LineAsString')",
          "SELECT file('/etc/passwd')",
          "SELECT * FROM `file`('/etc/passwd', 'LineAsString')",
          "SELECT * FROM \"file\"('/etc/passwd', 'LineAsString')",
          "SELECT * FROM \u201Cfile\u201D('/etc/passwd', 'LineAsString')",
          "SELECT * FROM file /* a comment */ ('/etc/passwd', 'LineAsString')",
          "SELECT $$'$$, * FROM file('/etc/passwd', 'LineAsString') --'",
          "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')",
          "SELECT * FROM s3('http://127.0.0.1:1/x.csv')",
          "SELECT * FROM remote('127.0.0.1:9000', system.one)",
          "SELECT * FROM executable('x.sh', 'TSV', 'a String')",
          "SELECT * FROM filesystem('/')",
          "SELECT * FROM postgresql('127.0.0.1:5432', 'db', 't', 'u', 'p')",
          "SELECT addressToLine(toUInt64(1))",
          `SELECT 1 INTO OUTFILE '${outfile}'`,
          `SELECT * FROM numbers(2) INTO OUTFILE '${outfile}' TRUNCATE`,
          "SELECT 1 SETTINGS format_schema = '/etc/passwd'",
          "SELECT 1 SETTINGS allow_introspection_functions = 1",
        ]
      ) {
        const r = await answer(await store.sql(sql, as));
        assert.ok(r.status >= 400, `${as}: ${sql} ran: ${r.text}`);
        assert.ok(!r.text.includes("root:"), sql);
      }
    }
    await refused(
      store,
      `INSERT INTO FUNCTION file('${outfile}', 'TSV', 'a String') VALUES ('x')`,
      "writer",
    );
    await refused(store, `CREATE TABLE leak (a String) ENGINE = File(TSV, '${outfile}')`, "writer");
    await refused(store, "CREATE DATABASE root ENGINE = Filesystem('/')", "writer");
    await refused(store, "CREATE TABLE u (a String) ENGINE = URL('http://127.0.0.1:1/')", "writer");
    await refused(
      store,
      "CREATE TABLE d (a UInt8) ENGINE = MergeTree ORDER BY a SETTINGS disk = disk(type = local, path = '/tmp/')",
      "writer",
    );
    await refused(
      store,
      "CREATE DICTIONARY x (a UInt8) PRIMARY KEY a SOURCE(FILE(path '/etc/passwd' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)",
      "writer",
    );
    await assert.rejects(Deno.stat(outfile), Deno.errors.NotFound);

    // An INSERT's rows from a body are data: a Values row is never evaluated as an expression.
    assert.equal((await store.sql("CREATE TABLE v (a String) ENGINE = Memory")).status, 200);
    const values = await fetch(
      `${store.url}/?query=${encodeURIComponent("INSERT INTO v FORMAT Values")}`,
      { method: "POST", body: "(file('/etc/passwd'))" },
    );
    await values.body?.cancel();
    const stored = await (await store.sql("SELECT count() FROM v WHERE a LIKE '%root:%'")).text();
    assert.equal(stored, "0\n");
  });
});

Deno.test("nobody shuts the store down, kills queries or creates functions; readers only read", async () => {
  await withStore(async (store) => {
    for (const as of ["writer", "reader"] as const) {
      await refused(store, "SYSTEM SHUTDOWN", as);
      await refused(store, "SYSTEM KILL", as);
      await refused(store, "KILL QUERY WHERE 1", as);
      // (a reader is told it may only read: 164)
      await refused(store, "CREATE FUNCTION f AS (x) -> x", as, ["497", "164"]);
      await refused(store, "GRANT ALL ON *.* TO default", as);
      await refused(store, "BACKUP DATABASE default TO File('/tmp/b')", as);
      await refused(store, "ATTACH TABLE t FROM '/etc' (a String) ENGINE = Memory", as);
      await refused(store, "ALTER USER default IDENTIFIED BY 'x'", as, ["497", "164"]);
    }
    await refused(store, "CREATE TEMPORARY TABLE tmp (a UInt8)", "writer");
    for (
      const sql of [
        "CREATE TABLE r (a UInt8) ENGINE = Memory",
        "INSERT INTO system.one VALUES (1)",
        "DROP DATABASE default",
        "ALTER TABLE x DELETE WHERE 1",
        "TRUNCATE TABLE x",
        "OPTIMIZE TABLE x FINAL",
      ]
    ) {
      await refused(store, sql, "reader", "164");
    }
    // A read-only GET stays read-only, whatever comes before the statement.
    for (
      const sql of ["CREATE TABLE g (a UInt8) ENGINE = Memory", "/* x */ DROP DATABASE default"]
    ) {
      const r = await answer(await fetch(`${store.url}/?query=${encodeURIComponent(sql)}`));
      assert.equal(r.code, "164", sql);
    }
    assert.equal(store.starts(), 1, "the store never went down");
    assert.equal((await answer(await store.sql("SELECT 1", "reader"))).text, "1\n");
  });
});

Deno.test("the store runs apart: no engine secret in its environment, a process group of its own", async () => {
  await withStore(async (store) => {
    const pid = store.pid()!;
    const environ = await Deno.readTextFile(`/proc/${pid}/environ`);
    for (const secret of [...Object.values(SECRETS), store.writer.password]) {
      assert.ok(!environ.includes(secret), "a secret in the store's environment");
    }
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    assert.ok(!cmdline.includes(store.writer.password), "a password on the command line");
    const group = (p: number | "self") =>
      Deno.readTextFile(`/proc/${p}/stat`).then((s) =>
        s.slice(s.lastIndexOf(")") + 2).split(" ")[2]
      );
    assert.notEqual(await group(pid), await group("self"));
    // What chDB's SYSTEM SHUTDOWN does (a signal to its whole process group) reaches the store
    // alone; the supervisor restarts it and this process goes on.
    Deno.kill(-Number(await group(pid)), "SIGTERM");
    for (let i = 0; i < 200 && store.starts() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.starts(), 2);
    for (let i = 0; i < 200; i++) {
      const ok = await store.sql("SELECT 1").then((r) => r.text(), () => "");
      if (ok === "1\n") return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail("the store did not come back");
  });
});

Deno.test("one request, one answer: no setting or output outlives a failed request", async () => {
  await withStore(async (store) => {
    const readonly = await answer(
      await fetch(`${store.url}/?readonly=1`, {
        method: "POST",
        body: "CREATE TABLE ro (a UInt8) ENGINE = Memory",
      }),
    );
    assert.equal(readonly.code, "164");
    assert.equal((await store.sql("CREATE TABLE ok (a UInt8) ENGINE = Memory")).status, 200);
    const insert = await answer(
      await fetch(
        `${store.url}/?max_threads=1&query=${encodeURIComponent("INSERT INTO ok FORMAT TSV")}`,
        {
          method: "POST",
          body: "1\n",
        },
      ),
    );
    assert.equal(insert.status, 200, insert.text);

    const partial = await answer(
      await store.sql(
        "SELECT number, throwIf(number = 40000) FROM numbers(100000) SETTINGS max_block_size = 1000 FORMAT JSONEachRow",
      ),
    );
    assert.equal(partial.code, "395");
    assert.equal(await (await store.sql("SELECT 1 WHERE 0")).text(), "");
    assert.equal(
      await (await store.sql("SELECT count() FROM ok FORMAT TabSeparated")).text(),
      "1\n",
    );

    // Settings of a CREATE (set around it on the engine's connection) are put back, even when it fails.
    const create = await answer(
      await fetch(`${store.url}/?max_threads=3&join_use_nulls=1`, {
        method: "POST",
        body: "CREATE TABLE ok (a UInt8) ENGINE = Memory",
      }),
    );
    assert.equal(create.code, "57");
    const changed = await (await store.sql(
      "SELECT name FROM system.settings WHERE name IN ('max_threads', 'join_use_nulls') AND changed",
    )).text();
    assert.equal(changed, "");
  });
});

Deno.test("deadlines hold in the store: queued, running and abandoned queries", async () => {
  await withStore(async (store) => {
    const slow = "SELECT sleepEachRow(0.2) FROM numbers(40) SETTINGS max_block_size = 1";
    let started = performance.now();
    const timedOut = await answer(
      await fetch(`${store.url}/?max_execution_time=1`, { method: "POST", body: slow }),
    );
    assert.equal(timedOut.code, "159", timedOut.text);
    assert.equal(timedOut.status, 504);
    assert.ok(performance.now() - started < 3000, "stopped at its deadline");

    // A request waiting behind a long one counts its wait toward its deadline.
    const long = store.sql("SELECT sleepEachRow(0.2) FROM numbers(20) SETTINGS max_block_size = 1");
    await new Promise((r) => setTimeout(r, 100));
    started = performance.now();
    const queued = await answer(
      await fetch(`${store.url}/?max_execution_time=1`, { method: "POST", body: "SELECT 1" }),
    );
    assert.equal(queued.code, "159");
    assert.ok(performance.now() - started < 2500, `waited ${performance.now() - started} ms`);
    await (await long).body?.cancel();

    // A client that goes away: its query stops at the next chunk, the next request runs.
    const gone = new AbortController();
    const abandoned = store.sql(slow.replace("40", "100"), "reader", { signal: gone.signal })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    gone.abort();
    await abandoned;
    started = performance.now();
    assert.equal(await (await store.sql("SELECT 2", "reader")).text(), "2\n");
    assert.ok(performance.now() - started < 2000, `waited ${performance.now() - started} ms`);

    // Memory: a client may lower the cap, not lift it.
    const big = await answer(
      await fetch(`${store.url}/?max_memory_usage=100000000`, {
        method: "POST",
        body: "SELECT groupArray(number) FROM numbers(100000000)",
      }),
    );
    assert.equal(big.code, "241");
    const lifted = await answer(
      await fetch(`${store.url}/?max_memory_usage=0`, { method: "POST", body: "SELECT 1" }),
    );
    assert.equal(lifted.code, "452");
  });
});

Deno.test("sessions keep their SETs and USE; temporary tables are refused with a reason", async () => {
  await withStore(async (store) => {
    const inSession = (sql: string, id: string, extra = "") =>
      fetch(`${store.url}/?session_id=${id}${extra}`, { method: "POST", body: sql }).then(answer);
    assert.equal((await inSession("SET max_threads = 1", "s1")).status, 200);
    assert.equal((await inSession("SELECT getSetting('max_threads')", "s1")).text, "1\n");
    assert.notEqual((await inSession("SELECT getSetting('max_threads')", "s2")).text, "1\n");
    assert.notEqual(
      (await answer(await store.sql("SELECT getSetting('max_threads')"))).text,
      "1\n",
    );
    assert.equal((await inSession("USE system", "s1")).status, 200);
    assert.equal((await inSession("SELECT currentDatabase()", "s1")).text, "system\n");
    assert.equal((await inSession("SELECT 1", "nope", "&session_check=1")).code, "372");
    const temporary = await inSession("CREATE TEMPORARY TABLE t (a UInt8)", "s1");
    assert.equal(temporary.code, "497");
    assert.match(temporary.text, /TEMPORARY/);
  });
});

Deno.test({
  name: "a page on another origin cannot write to the store (Chromium)",
  ignore: !(await Deno.stat("/usr/bin/chromium").then(() => true, () => false)),
  async fn() {
    await withStore(async (store) => {
      const target = store.base;
      const page = `<!doctype html><img src="${target}/?query=${
        encodeURIComponent("CREATE TABLE from_img (a UInt8) ENGINE = Memory")
      }"><script>
        fetch(${
        JSON.stringify(target + "/")
      }, { method: "POST", mode: "no-cors", body: "CREATE TABLE from_fetch (a UInt8) ENGINE = Memory" });
        fetch(${
        JSON.stringify(
          target + "/?user=default&password=" + encodeURIComponent(store.writer.password),
        )
      }, { method: "POST", mode: "no-cors", body: "CREATE TABLE from_params (a UInt8) ENGINE = Memory" });
        </script>`;
      const site = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen() {} },
        () => new Response(page, { headers: { "Content-Type": "text/html" } }),
      );
      const browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        headless: true,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--no-first-run",
        ],
      });
      try {
        const tab = await browser.newPage();
        await tab.goto(`http://localhost:${site.addr.port}/`);
        await tab.waitForTimeout(1500);
      } finally {
        await browser.close();
        await site.shutdown();
      }
      const tables =
        await (await store.sql("SELECT name FROM system.tables WHERE name LIKE 'from_%'")).text();
      assert.equal(tables, "", "a cross-origin request ran");
    });
  },
});
