import { assertEquals } from "../test/helpers/assert.ts";
// @ts-types="@modelcontextprotocol/sdk/types"
import { JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import { EAGER_BODY_BYTES, hostAllowed, MAX_JSON_DEPTH, originAllowed, readPost } from "./transport.ts";
import { Metrics } from "./metrics.ts";

const req = (body: string, headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1/mcp", {
    method: "POST",
    body,
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
  });

async function status(body: string, headers: Record<string, string> = {}, max = 100) {
  const r = await readPost(req(body, headers), max);
  if (r.ok) return 0;
  const json = await r.response.json();
  return [r.response.status, json.error.code];
}

Deno.test("readPost answers malformed posts with the spec's errors", async () => {
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  assertEquals(await status(ping), 0);
  assertEquals(await status("{"), [400, -32700]);
  assertEquals(await status("[]"), [400, -32600]);
  assertEquals(await status('{"jsonrpc":"2.0"}'), [400, -32600]);
  assertEquals(await status('"x"'), [400, -32600]);
  assertEquals(await status(ping, { accept: "text/event-stream" }), [406, -32000]);
  assertEquals(await status(ping, { "content-type": "text/plain" }), [415, -32000]);
  assertEquals(await status(ping, { "mcp-protocol-version": "2020-01-01" }), [400, -32000]);
  assertEquals(
    await status(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { p: "x".repeat(200) } })),
    [413, -32000],
  );
  // Read whole when the length is declared: the same answers, and a body longer than it declared
  // (possible only for a Request made in this process) is still held to the limit.
  const declared = (body: string) => ({ "content-length": String(new TextEncoder().encode(body).length) });
  assertEquals(await status(ping, declared(ping)), 0);
  assertEquals(await status("{", declared("{")), [400, -32700]);
  assertEquals(await status(ping.replace("ping", "x".repeat(200)), { "content-length": "10" }), [
    413,
    -32000,
  ]);
});

Deno.test("originAllowed accepts no origin, localhost and listed origins only", () => {
  assertEquals(originAllowed(null, []), true);
  assertEquals(originAllowed("http://localhost:1234", []), true);
  assertEquals(originAllowed("http://127.0.0.1", []), true);
  assertEquals(originAllowed("https://evil.example", []), false);
  assertEquals(originAllowed("https://app.example", ["https://app.example"]), true);
  assertEquals(originAllowed("not a url", []), false);
});

Deno.test("metrics render in Prometheus text format", () => {
  const m = new Metrics();
  m.request("tools/call", 200);
  m.request("tools/call", 200);
  m.upstreamLatency("ns/a", "tools/call", 0.02);
  m.upstreamHealth("ns/a", true);
  m.sessions(3);
  m.scopedSessions(1);
  m.relayed("cancel");
  m.relayed("cancel");
  const text = m.render();
  assertEquals(text.includes('mcp_gateway_requests_total{method="tools/call",status="200"} 2'), true);
  assertEquals(
    text.includes(
      'mcp_gateway_upstream_request_duration_seconds_bucket{server="ns/a",method="tools/call",le="0.025"} 1',
    ),
    true,
  );
  assertEquals(
    text.includes(
      'mcp_gateway_upstream_request_duration_seconds_bucket{server="ns/a",method="tools/call",le="0.01"} 0',
    ),
    true,
  );
  assertEquals(text.includes("mcp_gateway_sessions 3"), true);
  assertEquals(text.includes('mcp_gateway_upstream_up{server="ns/a"} 1'), true);
  assertEquals(text.includes("mcp_gateway_scoped_sessions 1"), true);
  assertEquals(text.includes('mcp_gateway_relayed_messages_total{kind="cancel"} 2'), true);
});

/** `n` levels of arrays, as JSON text. */
const nested = (n: number) => "[".repeat(n) + "]".repeat(n);

Deno.test("readPost refuses JSON nested deeper than its limit with the request's id", async () => {
  const big = 1 << 22;
  const read = async (body: string, opts = {}) => {
    const r = await readPost(req(body), big, opts);
    if (r.ok) return "ok";
    const json = await r.response.json();
    return [r.response.status, json.error.code, json.id, json.error.message];
  };
  const call = (args: string) =>
    `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"q":${args}}}}`;
  const tooDeep = await read(call(nested(100_000)));
  assertEquals(tooDeep.slice(0, 3), [400, -32602, 7]);
  assertEquals(String(tooDeep[3]).includes(`${MAX_JSON_DEPTH} levels`), true, String(tooDeep[3]));
  // The limit counts the message itself: params are level 2, arguments 3, q 4.
  assertEquals(await read(call(nested(MAX_JSON_DEPTH - 3))), "ok");
  assertEquals((await read(call(nested(MAX_JSON_DEPTH - 2)))).slice(0, 3), [400, -32602, 7]);
  assertEquals((await read(call(nested(30)), { maxDepth: 10 })).slice(0, 3), [400, -32602, 7]);
  const deepResult = `{"jsonrpc":"2.0","id":"r1","result":{"x":${nested(5000)}}}`;
  assertEquals((await read(deepResult)).slice(0, 3), [400, -32600, "r1"]);
  const deepBatch =
    `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping","params":{"a":${
      nested(5000)
    }}}]`;
  assertEquals((await read(deepBatch)).slice(0, 3), [400, -32602, 2]);
  assertEquals((await read(nested(100_000))).slice(0, 3), [400, -32600, null]);
  assertEquals((await read("[".repeat(100_000))).slice(0, 3), [400, -32700, null]);
});

Deno.test("readPost times a half-sent body out: 408 with a JSON-RPC error, and the handler returns", async () => {
  let inFlight = 0;
  const results: number[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    inFlight++;
    try {
      const read = await readPost(r, 1 << 20, { bodyTimeoutMs: 300 });
      const res = read.ok ? Response.json({ read: true }) : read.response;
      results.push(res.status);
      return res;
    } finally {
      inFlight--;
    }
  });
  const head = (length: number) =>
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Accept: application/json, text/event-stream\r\nContent-Length: ${length}\r\n\r\n`;
  /**
   * Sends `parts` (a number is a pause in ms) while reading the answer, until the server closes
   * the connection, or its JSON body is in, or 5 s pass; `ms` is when the answer came. (Deno.serve
   * keeps the socket of an unread body open until the client goes: it has no read timeout of its
   * own, denoland/deno#3515; the handler and its buffers are what the deadline frees.)
   */
  const exchange = async (parts: Array<string | number>) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const t0 = performance.now();
    const timer = setTimeout(() => conn.close(), 5000);
    let text = "";
    let ms = NaN;
    const reading = (async () => {
      const buf = new Uint8Array(4096);
      while (!text.includes("}")) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        ms = performance.now() - t0;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
    })();
    for (const p of parts) {
      if (text) break;
      if (typeof p === "number") await new Promise((r) => setTimeout(r, p));
      else await conn.write(new TextEncoder().encode(p)).catch(() => {});
    }
    await reading;
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
    return { text, ms };
  };
  // Headers and part of the body, then nothing.
  const stalled = await exchange([head(100) + '{"jsonrpc":']);
  assertEquals(stalled.text.startsWith("HTTP/1.1 408"), true, stalled.text || "no answer in 5 s");
  const body = JSON.parse(stalled.text.slice(stalled.text.indexOf("\r\n\r\n") + 4));
  assertEquals([body.id, body.error.code], [null, -32000]);
  assertEquals(body.error.message.includes("300 ms"), true, body.error.message);
  assertEquals(stalled.ms >= 250 && stalled.ms < 3000, true, `answered after ${Math.round(stalled.ms)} ms`);
  // A byte every 50 ms never lets the deadline slide.
  const trickle = await exchange([head(100), ...Array.from({ length: 20 }, () => ["x", 50]).flat()]);
  assertEquals(trickle.text.startsWith("HTTP/1.1 408"), true, trickle.text || "no answer in 5 s");
  assertEquals(trickle.ms < 1000, true, `answered after ${Math.round(trickle.ms)} ms`);
  // The same through the chunk-by-chunk read: a body of unknown length, and one too long to read whole.
  const chunkedHead = head(0).replace("Content-Length: 0", "Transfer-Encoding: chunked");
  const stalledChunked = await exchange([chunkedHead + '5\r\n{"jso\r\n']);
  assertEquals(
    stalledChunked.text.startsWith("HTTP/1.1 408"),
    true,
    stalledChunked.text || "no answer in 5 s",
  );
  const stalledLong = await exchange([head(EAGER_BODY_BYTES + 1) + '{"jsonrpc":']);
  assertEquals(stalledLong.text.startsWith("HTTP/1.1 408"), true, stalledLong.text || "no answer in 5 s");
  // A whole body in time is read as before.
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  const whole = await exchange([head(ping.length) + ping.slice(0, 5), 100, ping.slice(5)]);
  assertEquals(whole.text.startsWith("HTTP/1.1 200"), true, whole.text);
  assertEquals(results, [408, 408, 408, 408, 200]);
  assertEquals(inFlight, 0);
});

Deno.test("hostAllowed accepts loopback names on any port and the public hosts, nothing else", () => {
  const pub = ["mcp.example.com", "other.example:8443"];
  for (
    const host of [
      "localhost",
      "localhost:8080",
      "LOCALHOST:1",
      "localhost.",
      "app.localhost:3000",
      "127.0.0.1",
      "127.5.6.7:99",
      "[::1]",
      "[::1]:8080",
      "[0:0:0:0:0:0:0:1]:80",
      "mcp.example.com",
      "MCP.Example.com:443",
      "mcp.example.com:8080",
      "other.example:8443",
    ]
  ) {
    assertEquals(hostAllowed(host, pub), true, host);
  }
  for (
    const host of [
      "",
      "evil.example",
      "evil.example:8080",
      "localhost.evil.example",
      "127.0.0.1.evil.example",
      "localhost@evil.example",
      "evil.example@localhost",
      "localhost/x",
      "localhost:abc",
      "localhost:99999",
      "[::2]",
      "[::1",
      "0.0.0.0",
      "128.0.0.1",
      "mcp.example.com.evil.example",
      "other.example",
      "other.example:9443",
      "localhost, evil.example",
    ]
  ) {
    assertEquals(hostAllowed(host, pub), false, host);
  }
  assertEquals(hostAllowed("mcp.example.com", []), false);
  assertEquals(hostAllowed("anything.example", ["*"]), true);
  assertEquals(hostAllowed("mcp.example.com", ["https://mcp.example.com"]), true, "a URL names its host");
  assertEquals(hostAllowed(null, []), true, "no Host header: not a browser, so not a rebinding attack");
});

Deno.test("readPost passes exactly the messages the MCP SDK accepts, and names the id of the others", async () => {
  const messages: unknown[] = [
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", id: "a", method: "tools/call", params: { name: "x", _meta: { progressToken: 3 } } },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: 2, result: {} },
    { jsonrpc: "2.0", id: 2, error: { code: -1, message: "no", data: [1] } },
    { jsonrpc: "2.0", error: { code: -32700, message: "parse" } },
    { jsonrpc: "2.0", id: 1.5, method: "ping" },
    { jsonrpc: "2.0", id: 2 ** 53, method: "ping" },
    { jsonrpc: "2.0", id: null, method: "ping" },
    { jsonrpc: "2.0", id: 3, method: "ping", extra: true },
    { jsonrpc: "2.0", id: 3, method: "ping", result: {} },
    { jsonrpc: "2.0", id: 4, result: false },
    { jsonrpc: "2.0", id: 4, result: [] },
    { jsonrpc: "2.0", id: 5, error: { code: 1.5, message: "x" } },
    { jsonrpc: "2.0", id: 5, error: "x" },
    { jsonrpc: "2.0", id: 6, method: "ping", params: { _meta: { progressToken: 1.5 } } },
    { jsonrpc: "2.0", id: 6, method: "ping", params: { _meta: "x" } },
    {
      jsonrpc: "2.0",
      id: 7,
      method: "ping",
      params: { _meta: { "io.modelcontextprotocol/related-task": {} } },
    },
    { jsonrpc: "2.0", id: 8, method: 8 },
    { jsonrpc: "2.0", method: "x", params: [] },
    { jsonrpc: "1.0", id: 9, method: "ping" },
    { id: 9, method: "ping" },
    { jsonrpc: "2.0", id: 10 },
  ];
  for (const m of messages) {
    const sdk = JSONRPCMessageSchema.safeParse(m).success;
    const r = await readPost(req(JSON.stringify(m)), 1 << 20);
    assertEquals(r.ok, sdk, JSON.stringify(m));
    if (r.ok) continue;
    const body = await r.response.json();
    const id = (m as { id?: unknown }).id;
    const readable = typeof id === "string" || Number.isSafeInteger(id);
    assertEquals(
      [r.response.status, body.error.code, body.id],
      [400, -32600, readable ? id : null],
      JSON.stringify(m),
    );
  }
});
