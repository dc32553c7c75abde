/**
 * The embedded store's HTTP interface as curl users and Grafana see it: plain fetch() against
 * the real process, comparing with what a ClickHouse server answers.
 */
import assert from "node:assert/strict";
import { startTestStore } from "../tests/_clickhouse.ts";

const dec = new TextDecoder();

async function call(url: string, init: RequestInit & { path?: string } = {}) {
  const res = await fetch(url + (init.path ?? "/"), init);
  return {
    status: res.status,
    headers: res.headers,
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

const text = (r: { body: Uint8Array }) => dec.decode(r.body);

Deno.test({
  name: "embedded store speaks ClickHouse's HTTP interface",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const store = await startTestStore();
    const url = store.url;
    const post = (sql: string, path = "/", headers: HeadersInit = {}) =>
      call(url, { method: "POST", body: sql, path, headers });
    try {
      await t.step("GET /ping and GET / answer Ok.", async () => {
        assert.equal(text(await call(url, { path: "/ping" })), "Ok.\n");
        assert.equal(text(await call(url)), "Ok.\n");
      });

      await t.step(
        "queries come in the query parameter or the body, TabSeparated by default",
        async () => {
          const r = await call(url, { path: "/?query=" + encodeURIComponent("SELECT 1, 'a\tb'") });
          assert.equal(text(r), "1\ta\\tb\n");
          assert.equal(r.headers.get("X-ClickHouse-Format"), "TabSeparated");
          assert.equal(text(await post("SELECT 2")), "2\n");
          assert.equal(
            text(
              await post("FROM numbers(3)", "/?query=" + encodeURIComponent("SELECT sum(number)")),
            ),
            "3\n",
          );
        },
      );

      await t.step(
        "FORMAT clauses and default_format select the output, passed through byte for byte",
        async () => {
          assert.deepEqual(JSON.parse(text(await post("SELECT 1 AS a FORMAT JSON"))).data, [{
            a: 1,
          }]);
          assert.deepEqual(
            JSON.parse(text(await post("SELECT 1 AS a, 'x' AS b FORMAT JSONCompact"))).data,
            [[1, "x"]],
          );
          assert.equal(
            text(await post("SELECT 1 AS a", "/?default_format=JSONEachRow")),
            '{"a":1}\n',
          );
          assert.equal(text(await post("SELECT 1, 'x,y'", "/?default_format=CSV")), '1,"x,y"\n');
          assert.equal(
            text(await post("SELECT number FROM numbers(2) FORMAT TabSeparated")),
            "0\n1\n",
          );
          const binary = await post("SELECT toUInt16(258) AS n, 'ab' AS s FORMAT RowBinary");
          assert.deepEqual([...binary.body], [2, 1, 2, 97, 98]);
          assert.equal(binary.headers.get("Content-Type"), "application/octet-stream");
          const native = await post("SELECT toUInt8(7) AS n FORMAT Native");
          assert.equal(native.body.at(-1), 7);
          assert.ok(text(native).includes("UInt8"));
        },
      );

      await t.step("param_<name> values are typed parameters, never SQL text", async () => {
        const q = encodeURIComponent(
          "SELECT {s:String} AS s, {n:UInt32} + 1 AS n, {a:Array(String)} AS a",
        );
        const r = await post(
          "",
          `/?query=${q}&default_format=JSONEachRow&param_s=${encodeURIComponent("x\\'; DROP")}` +
            `&param_n=41&param_a=${encodeURIComponent("['p','q\\'r']")}`,
        );
        assert.deepEqual(JSON.parse(text(r)), { s: "x'; DROP", n: 42, a: ["p", "q'r"] });
      });

      await t.step(
        "the parameters ClickHouse's handler reserves are accepted, not taken for settings",
        async () => {
          const reserved = "session_id=abc&session_timeout=60&session_check=0&close_session=1" +
            "&compress=0&decompress=0&buffer_size=4096&wait_end_of_query=1&quota_key=q&role=r" +
            "&client_protocol_version=54460&stacktrace=1";
          assert.equal(text(await post("SELECT 42", `/?${reserved}`)), "42\n");
          const compressed = await post("SELECT 1", "/?compress=1");
          assert.equal(compressed.status, 500);
          assert.match(
            text(compressed),
            /^Code: 48\. DB::Exception: compress=1 asks for ClickHouse's own block compression/,
          );
          const external = await post("SELECT 1", "/?t_structure=a+Int32&t_format=TSV");
          assert.match(text(external), /external data \(t_structure\) is not supported/);
        },
      );

      await t.step(
        "Grafana's handshake in HTTP mode: Native with its protocol version",
        async () => {
          const r = await post(
            "SELECT displayName(), version(), revision(), timezone()",
            "/?client_protocol_version=54460&default_format=Native",
          );
          assert.equal(r.status, 200, text(r));
          assert.equal(r.headers.get("X-ClickHouse-Format"), "Native");
          // Native: column count 4 and row count 1 as VarUInts, then the first column's name.
          assert.deepEqual([...r.body.subarray(0, 2)], [4, 1]);
          assert.ok(text(r).includes("displayName()") && text(r).includes("timezone()"));
          const dashboard = await post(
            "SELECT toStartOfMinute(now()) AS t, count() AS n FROM numbers(10) GROUP BY t ORDER BY t",
            "/?client_protocol_version=54460&default_format=Native&max_execution_time=30",
          );
          assert.equal(dashboard.status, 200, text(dashboard));
        },
      );

      await t.step(
        "X-ClickHouse-Format picks the format; the summary counts result rows",
        async () => {
          const r = await post("SELECT number FROM numbers(7)", "/", {
            "X-ClickHouse-Format": "JSONEachRow",
          });
          assert.equal(r.headers.get("X-ClickHouse-Format"), "JSONEachRow");
          assert.equal(text(r).trim().split("\n").length, 7);
          assert.equal(JSON.parse(r.headers.get("X-ClickHouse-Summary")!).result_rows, "7");
          const csv = await post("SELECT number FROM numbers(3) FORMAT CSVWithNames");
          assert.equal(JSON.parse(csv.headers.get("X-ClickHouse-Summary")!).result_rows, "3");
          assert.equal(text(await call(url, { path: "/replicas_status" })), "Ok.\n");
        },
      );

      await t.step(
        "URL settings go before inline INSERT data, and are not table settings on CREATE",
        async () => {
          assert.equal(
            (await post(
              "CREATE TABLE url_s (a UInt8) ENGINE = MergeTree ORDER BY a",
              "/?max_block_size=1234",
            )).status,
            200,
          );
          const ddl = text(
            await post(
              "SELECT create_table_query FROM system.tables WHERE name = 'url_s' FORMAT TSVRaw",
            ),
          );
          assert.doesNotMatch(ddl, /max_block_size/, ddl);
          assert.equal(
            (await post("INSERT INTO url_s VALUES (1), (2)", "/?max_insert_threads=1")).status,
            200,
          );
          assert.equal(
            (await post('INSERT INTO url_s FORMAT JSONEachRow {"a": 3}', "/?max_insert_threads=1"))
              .status,
            200,
          );
          assert.equal(text(await post("SELECT sum(a) FROM url_s")), "6\n");
          const q = "SELECT getSetting('max_block_size') AS m FORMAT TabSeparated";
          assert.notEqual(text(await post(q)), "1234\n", "the CREATE's settings were put back");
        },
      );

      await t.step(
        "settings in the URL apply to that query only; SET changes nothing without a session",
        async () => {
          const q = "SELECT getSetting('max_threads') AS m FORMAT TabSeparated";
          assert.equal(text(await post(q, "/?max_threads=3")), "3\n");
          const normal = text(await post(q));
          assert.notEqual(normal, "3\n");
          await post("SET max_threads = 5");
          assert.equal(text(await post(q)), normal);
        },
      );

      await t.step(
        "INSERT data comes in the body, plain or gzip; database selects the tables",
        async () => {
          assert.equal((await post("CREATE DATABASE IF NOT EXISTS web")).status, 200);
          await post("CREATE TABLE web.t (a UInt32, b String) ENGINE = MergeTree ORDER BY a");
          const insert = (q: string) => "/?database=web&query=" + encodeURIComponent(q);
          assert.equal(
            (await post(
              '{"a":1,"b":"x"}\n{"a":2,"b":"y"}\n',
              insert("INSERT INTO t FORMAT JSONEachRow"),
            )).status,
            200,
          );
          assert.equal((await post("3,z\n", insert("INSERT INTO t FORMAT CSV"))).status, 200);
          const gz = new Uint8Array(
            await new Response(
              new Blob(['{"a":4,"b":"w"}\n']).stream().pipeThrough(new CompressionStream("gzip")),
            ).arrayBuffer(),
          );
          const r = await call(url, {
            method: "POST",
            path: insert("INSERT INTO t FORMAT JSONEachRow"),
            body: gz,
            headers: { "Content-Encoding": "gzip" },
          });
          assert.equal(r.status, 200);
          assert.equal(
            text(await post("SELECT a, b FROM t ORDER BY a", "/?database=web")),
            "1\tx\n2\ty\n3\tz\n4\tw\n",
          );
        },
      );

      await t.step(
        "responses are gzip-compressed when asked with enable_http_compression=1",
        async () => {
          const res = await fetch(`${url}/?enable_http_compression=1`, {
            method: "POST",
            body: "SELECT number FROM numbers(1000) FORMAT TabSeparated",
            headers: { "Accept-Encoding": "gzip" },
          });
          // fetch() inflates transparently; the header tells it was compressed on the wire.
          assert.equal(res.headers.get("Content-Encoding"), "gzip");
          assert.equal((await res.text()).split("\n").length, 1001);
        },
      );

      await t.step(
        "errors carry an HTTP status, the Code: N. DB::Exception text and the header",
        async () => {
          const syntax = await post("SELEC 1");
          assert.equal(syntax.status, 400);
          assert.equal(syntax.headers.get("X-ClickHouse-Exception-Code"), "62");
          assert.match(text(syntax), /^Code: 62\. DB::Exception: Syntax error/);
          const missing = await post("SELECT * FROM no_such_table");
          assert.equal(missing.status, 404);
          assert.equal(missing.headers.get("X-ClickHouse-Exception-Code"), "60");
          const multi = await post("SELECT 1; DROP DATABASE web");
          assert.equal(multi.status, 400);
          assert.equal(
            text(multi),
            "Code: 62. DB::Exception: Multi-statements are not allowed. (SYNTAX_ERROR)\n",
          );
          assert.equal(text(await post("EXISTS TABLE web.t")), "1\n", "nothing ran");
          const readonly = await call(url, {
            path: "/?query=" + encodeURIComponent("DROP DATABASE web"),
          });
          assert.equal(readonly.status, 403);
          assert.equal(readonly.headers.get("X-ClickHouse-Exception-Code"), "164");
        },
      );
    } finally {
      await store.stop();
    }
  },
});

Deno.test({
  name: "embedded store with a given password requires it, by basic auth or ClickHouse headers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore({ password: "s3cr3t!" });
    try {
      const q = { method: "POST", body: "SELECT 1" };
      const denied = await call(store.base, q);
      assert.equal(denied.status, 403);
      assert.equal(denied.headers.get("X-ClickHouse-Exception-Code"), "516");
      assert.ok(!text(denied).includes("s3cr3t"));
      const wrong = await call(store.base, {
        ...q,
        headers: { Authorization: `Basic ${btoa("default:nope")}` },
      });
      assert.equal(wrong.status, 403);
      assert.equal(
        text(
          await call(store.base, {
            ...q,
            headers: { Authorization: `Basic ${btoa("default:s3cr3t!")}` },
          }),
        ),
        "1\n",
      );
      assert.equal(
        text(
          await call(store.base, {
            ...q,
            headers: { "X-ClickHouse-User": "default", "X-ClickHouse-Key": "s3cr3t!" },
          }),
        ),
        "1\n",
      );
      assert.equal(
        text(await call(store.base, { path: "/ping" })),
        "Ok.\n",
        "ping needs no credentials",
      );
    } finally {
      await store.stop();
    }
  },
});

Deno.test({
  name: "the supervisor restarts an embedded store that dies, and the data survives",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    try {
      const post = (sql: string) =>
        fetch(store.url, { method: "POST", body: sql }).then((r) => r.text());
      await post("CREATE TABLE kept (a UInt8) ENGINE = MergeTree ORDER BY a");
      await post("INSERT INTO kept VALUES (1), (2)");
      const first = store.pid()!;
      Deno.kill(first, "SIGKILL");
      const deadline = Date.now() + 60_000;
      let answer = "";
      while (Date.now() < deadline) {
        answer = await post("SELECT count() FROM kept").catch(() => "");
        if (answer === "2\n") break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(answer, "2\n");
      assert.equal(store.starts(), 2);
      assert.notEqual(store.pid(), first);
    } finally {
      await store.stop();
    }
  },
});

Deno.test({
  name: "the embedded store runs below normal CPU priority (nice 10), its engine's threads too",
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const store = await startTestStore();
    try {
      // A query, so the engine's query threads exist.
      await fetch(store.url, { method: "POST", body: "SELECT count() FROM numbers(1000000)" })
        .then((r) => r.text());
      const pid = store.pid()!;
      const nice = (tid: string) => {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/stat`);
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]); // field 19: nice
      };
      const tids = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => t.name);
      const lowered = tids.filter((t) => nice(t) === 10);
      assert.equal(nice(String(pid)), 10, "the main thread");
      assert.ok(
        lowered.length >= tids.length - 2,
        `${lowered.length} of ${tids.length} threads at nice 10`,
      );
    } finally {
      await store.stop();
    }
  },
});

Deno.test("an insert's X-ClickHouse-Summary counts the rows written, a view's and a retry's too, as a server does", async () => {
  const store = await startTestStore();
  try {
    const written = async (res: Response) => {
      await res.body?.cancel();
      assert.equal(res.status, 200);
      return Number(JSON.parse(res.headers.get("X-ClickHouse-Summary")!).written_rows);
    };
    await (await store.sql(
      "CREATE TABLE w (a UInt32) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100",
    )).text();
    await (await store.sql("CREATE TABLE wv (a UInt32) ENGINE = MergeTree ORDER BY a")).text();
    await (await store.sql("CREATE MATERIALIZED VIEW w_mv TO wv AS SELECT a FROM w")).text();
    const insert = () =>
      fetch(
        `${store.url}/?insert_deduplication_token=t1&query=${
          encodeURIComponent("INSERT INTO w FORMAT TSV")
        }`,
        { method: "POST", body: "1\n2\n3\n" },
      );
    assert.equal(await written(await insert()), 6, "3 rows into the table, 3 into its view");
    assert.equal(
      await written(await insert()),
      6,
      "a deduplicated retry counts as ClickHouse counts it",
    );
    assert.equal(await written(await store.sql("INSERT INTO wv SELECT number FROM numbers(5)")), 5);
    assert.equal(await (await store.sql("SELECT count() FROM w")).text(), "3\n");
  } finally {
    await store.stop();
  }
});

Deno.test("a port already in use is named, with what to change", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir({ prefix: "historian-sync-ch-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./main.ts", import.meta.url).pathname,
        "--port",
        String((taken.addr as Deno.NetAddr).port),
        "--path",
        dir,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    assert.match(
      new TextDecoder().decode(out.stderr),
      /Cannot serve the embedded store at 127\.0\.0\.1:\d+: the address is already in use .*CLICKHOUSE_EMBEDDED_PORT/,
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});
