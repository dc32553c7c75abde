/**
 * An HTTP proxy in front of a real server that can fail on purpose: after forwarding a request
 * and letting the server act on it, it answers 502 instead of the server's response. That is
 * the failure that makes retries dangerous ("stored, but the client thinks it failed").
 */
import { freePort } from "./_services.ts";

export interface FaultyProxy {
  url: string;
  /** The next `n` requests matching `match` reach the server, but their responses are lost. */
  loseResponses(n: number, match?: (url: URL) => boolean): void;
  /** Requests forwarded so far whose response was lost. */
  lost(): number;
  /** For `ms` milliseconds every request fails with 503, as if the server were down. */
  outage(ms: number): void;
  /** The next `n` requests matching `match` get ClickHouse's TOO_MANY_PARTS error, unforwarded. */
  pushBack(n: number, match?: (url: URL) => boolean): void;
  /** Requests refused during outages. */
  refused(): number;
  stop(): Promise<void>;
}

export function startFaultyProxy(upstream: string): FaultyProxy {
  const port = freePort();
  let toLose = 0;
  let lost = 0;
  let match: (url: URL) => boolean = () => true;
  let downUntil = 0;
  let pushBacks = 0;
  let pushMatch: (url: URL) => boolean = () => true;
  let refused = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (pushBacks > 0 && pushMatch(url)) {
      pushBacks--;
      refused++;
      await req.body?.cancel();
      return new Response(
        "Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts. (TOO_MANY_PARTS)\n",
        { status: 500, headers: { "X-ClickHouse-Exception-Code": "252" } },
      );
    }
    if (Date.now() < downUntil) {
      refused++;
      await req.body?.cancel();
      return new Response("connection refused by proxy (outage)", { status: 503 });
    }
    const target = new URL(url.pathname + url.search, upstream);
    target.username = target.password = ""; // the client's own Authorization header is forwarded
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const headers = new Headers(req.headers);
    headers.delete("host");
    const response = await fetch(target, { method: req.method, headers, body });
    const payload = new Uint8Array(await response.arrayBuffer());
    if (toLose > 0 && match(url)) {
      toLose--;
      lost++;
      return new Response("upstream connection reset by proxy", { status: 502 });
    }
    const out = new Headers(response.headers);
    out.delete("content-encoding");
    out.delete("content-length");
    return new Response(payload, { status: response.status, headers: out });
  });
  // The upstream's login, if its URL has one, is the proxy's too: clients send it through.
  const login = /^https?:\/\/([^@/]+)@/.exec(upstream)?.[1];
  return {
    url: `http://${login ? `${login}@` : ""}127.0.0.1:${port}`,
    loseResponses(n, m = () => true) {
      toLose = n;
      match = m;
    },
    lost: () => lost,
    outage(ms) {
      downUntil = Date.now() + ms;
    },
    refused: () => refused,
    pushBack(n, m = () => true) {
      pushBacks = n;
      pushMatch = m;
    },
    stop: () => server.shutdown(),
  };
}
