import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { buildAuthorizationJson } from "./authorization_json.ts";
import { compileCel, evaluatePredicate } from "./cel.ts";
import { selectString } from "./selector.ts";

function build(url: string, init: RequestInit & { body?: string } = {}, now?: Date) {
  const request = new Request(url, init);
  return buildAuthorizationJson({
    request,
    headers: request.headers,
    body: init.body,
    source: { address: "10.0.0.7", port: 51234 },
    destination: { address: "127.0.0.1", port: 8001 },
  }, { now });
}

Deno.test("authorization json: Envoy's well-known request attributes", () => {
  const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call"}';
  const json = build("http://mcp.example.com:8001/mcp?session=1&x=%20y", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-MCP-Method": "tools/call",
      "User-Agent": "sdk",
      Referer: "r",
    },
    body,
  }, new Date(1_700_000_000_250));
  const r = json.request;
  assertEquals(r.method, "POST");
  assertEquals(r.scheme, "http");
  assertEquals(r.host, "mcp.example.com:8001");
  assertEquals(r.path, "/mcp?session=1&x=%20y");
  assertEquals(r.url_path, "/mcp");
  assertEquals(r.query, "session=1&x=%20y");
  assertEquals(r.protocol, "HTTP/1.1");
  assertEquals(r.time, { seconds: 1_700_000_000, nanos: 250_000_000 });
  assertEquals(r.body, body);
  assertEquals(r.size, new TextEncoder().encode(body).length);
  assertEquals(r.user_agent, "sdk");
  assertEquals(r.referer, "r");
  const headers = r.headers as Record<string, string>;
  // Lower-case names, the router's headers, Envoy's pseudo-headers and a generated request id.
  assertEquals(headers["x-mcp-method"], "tools/call");
  assertEquals(headers["content-type"], "application/json");
  assertEquals(headers[":authority"], "mcp.example.com:8001");
  assertEquals(headers[":method"], "POST");
  assertEquals(headers[":path"], "/mcp?session=1&x=%20y");
  assertEquals(headers[":scheme"], "http");
  assertEquals(headers.host, undefined);
  assert(/^[0-9a-f-]{36}$/.test(headers["x-request-id"]), headers["x-request-id"]);
  assertEquals(r.id, headers["x-request-id"]);
  assertEquals(json.source, { address: "10.0.0.7", port: 51234 });
  assertEquals(json.destination, { address: "127.0.0.1", port: 8001 });
  assertEquals(json.auth, { metadata: {}, authorization: {} });
});

Deno.test("authorization json: empty attributes are absent, as Go's omitempty leaves them", () => {
  const json = build("http://h/mcp", { headers: { "x-request-id": "rid-1" } });
  assertEquals(json.request.query, undefined);
  assertEquals(json.request.body, undefined);
  assertEquals(json.request.size, undefined);
  assertEquals(json.request.user_agent, undefined);
  assertEquals(json.request.id, "rid-1");
  assertEquals("query" in json.request, false);
  assertThrowsNoSuchKey("request.query == ''", json);
  assertEquals(
    evaluatePredicate(compileCel("!has(request.query) && request.url_path == '/mcp'"), json),
    true,
  );
});

function assertThrowsNoSuchKey(source: string, json: ReturnType<typeof build>) {
  try {
    evaluatePredicate(compileCel(source), json);
  } catch (e) {
    assert((e as Error).message.includes("no such key"), (e as Error).message);
    return;
  }
  throw new Error(`${source} did not fail`);
}

Deno.test("authorization json: repeated headers arrive merged; the legacy context tree mirrors the request", () => {
  const headers = new Headers();
  headers.append("X-Forwarded-For", "10.0.0.1");
  headers.append("x-forwarded-for", "10.0.0.2");
  headers.set("Authorization", "Bearer abc");
  const json = build("https://h.example/a/b?q=1", { method: "GET", headers });
  assertEquals((json.request.headers as Record<string, string>)["x-forwarded-for"], "10.0.0.1, 10.0.0.2");
  assertEquals(selectString(json, "context.request.http.headers.authorization"), "Bearer abc");
  assertEquals(selectString(json, "context.request.http.method"), "GET");
  assertEquals(selectString(json, "context.request.http.path"), "/a/b?q=1");
  assertEquals(selectString(json, "context.request.http.host"), "h.example");
  assertEquals(selectString(json, "context.request.http.scheme"), "https");
  assertEquals(selectString(json, 'context.request.http.headers.authorization.@extract:{"pos":1}'), "abc");
  assertEquals(selectString(json, "context.source.address.Address.SocketAddress.address"), "10.0.0.7");
  assertEquals(
    selectString(json, "context.source.address.Address.SocketAddress.PortSpecifier.PortValue"),
    "51234",
  );
  assertEquals(selectString(json, "context.destination.address.Address.SocketAddress.address"), "127.0.0.1");
});

Deno.test("authorization json: the size is in bytes and a content-length wins", () => {
  assertEquals(build("http://h/mcp", { method: "POST", body: '{"q":"ø"}' }).request.size, 10);
  assertEquals(build("http://h/mcp", { method: "POST", body: "{}" }).request.size, 2);
  const json = build("http://h/mcp", { method: "POST", headers: { "content-length": "7" } });
  assertEquals(json.request.size, 7);
});
