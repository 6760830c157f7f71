import { assertEquals } from "../test/helpers/assert.ts";
import { originAllowed, readPost } from "./transport.ts";
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
