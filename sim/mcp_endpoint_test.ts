/**
 * The `/mcp` endpoint on its own stages: what it refuses before a session exists, the policy's
 * place on the path, initialize and batches, and the session's GET stream and DELETE.
 */
import { assert, assertEquals, assertStringIncludes } from "../test/helpers/assert.ts";
import { startFixture } from "../test/fixtures/mod.ts";
import { initializeBody, MCP_HEADERS, post, rawSession, sseMessages, waitFor } from "../test/sim_helpers.ts";
import { mcpRequest, stages } from "../test/sim_stages.ts";
import type { PolicyDecision, PolicyInput, RequestPolicy } from "./policy.ts";
import { RpcCode } from "./transport.ts";

const toolCall = (id: number, name: string, args: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});
const errorOf = (json: Record<string, unknown> | undefined) =>
  json?.error as { code: number; message: string };

Deno.test("refused before any session: 403 for a foreign origin, 405 for PUT; an unknown virtual server only warned of", async () => {
  await using s = await stages({ servers: [], extension: { allowedOrigins: ["https://ok.example"] } });
  const foreign = await s.handle(mcpRequest(initializeBody(), { origin: "https://evil.example" }));
  assertEquals(foreign.status, 403);
  assertStringIncludes((await foreign.json()).error.message, "origin https://evil.example is not allowed");
  const put = await s.handle(new Request("http://127.0.0.1/mcp", { method: "PUT", body: "{}" }));
  assertEquals(put.status, 405);
  assertEquals(put.headers.get("allow"), "GET, POST, DELETE");
  assertEquals(await s.store.count(), 0);
  // As the broker: a virtual server that does not exist filters nothing; the log says so.
  const vs = await s.handle(mcpRequest(initializeBody(), { "x-mcp-virtualserver": "ns/nope" }));
  assertEquals(vs.status, 200);
  await vs.body?.cancel();
  assert(s.logs.some((l) => l.level === "warn" && l.msg.includes("ns/nope")), JSON.stringify(s.logs));
  // A listed origin is let through.
  const ok = await s.handle(mcpRequest(initializeBody(), { origin: "https://ok.example" }));
  assertEquals(ok.status, 200);
  await ok.body?.cancel();
  // Each counted by its HTTP method or JSON-RPC method, and status.
  const metrics = s.metrics.render();
  assertStringIncludes(metrics, 'mcp_gateway_requests_total{method="other",status="405"} 1');
  assertStringIncludes(metrics, 'mcp_gateway_requests_total{method="POST",status="403"} 1');
  assertStringIncludes(metrics, 'mcp_gateway_requests_total{method="initialize",status="200"} 2');
});

Deno.test("policy: sees each request's attributes and session; a denial is answered with its status, headers and the request's id", async () => {
  await using weather = await startFixture("weather");
  const seen: PolicyInput[] = [];
  const policy: RequestPolicy = {
    evaluate(input): PolicyDecision {
      seen.push(input);
      if (input.attributes.toolName === "search") {
        return { allow: false, status: 429, message: "Slow down.", headers: { "retry-after": "7" } };
      }
      if (input.request.headers.get("authorization") === "Bearer mallory") {
        return {
          allow: false,
          status: 401,
          message: "Who are you?",
          headers: { "www-authenticate": "Bearer" },
        };
      }
      return { allow: true };
    },
  };
  await using s = await stages({ servers: [{ name: "test/weather", url: weather.url, prefix: "w_" }] }, {
    policy,
  });

  const mallory = await post(s.url, initializeBody("2025-11-25", "init-1"), {
    authorization: "Bearer mallory",
  });
  assertEquals(mallory.status, 401);
  assertEquals(mallory.headers.get("www-authenticate"), "Bearer");
  assertEquals(mallory.json, {
    jsonrpc: "2.0",
    id: "init-1",
    error: { code: RpcCode.ServerError, message: "Who are you?" },
  });
  assertEquals(seen[0].attributes, { method: "initialize" });
  assertEquals(seen[0].sessionId, undefined);
  assertEquals(await s.store.count(), 0, "a denied initialize leaves no session");

  const session = await rawSession(s.url);
  seen.length = 0;
  const call = await post(s.url, toolCall(42, "w_search", { query: "a" }), session.headers);
  assertEquals(call.status, 429);
  assertEquals(call.headers.get("retry-after"), "7");
  assertEquals(call.json, {
    jsonrpc: "2.0",
    id: 42,
    error: { code: RpcCode.ServerError, message: "Slow down." },
  });
  assertEquals(seen.length, 1);
  assertEquals(seen[0].sessionId, session.id);
  assertEquals(seen[0].attributes, {
    method: "tools/call",
    requestedName: "w_search",
    serverName: "test/weather",
    toolName: "search",
    annotationHints: "readOnly=true,destructive=unspecified,idempotent=unspecified,openWorld=unspecified",
  });
  assertEquals(weather.stats().rpcMethods["tools/call"], undefined, "the backend never saw it");
  const allowed = await post(s.url, toolCall(43, "w_get_forecast", { city: "Berlin" }), session.headers);
  assertEquals(allowed.status, 200);
  assert(allowed.json?.result, JSON.stringify(allowed.json));
  assertStringIncludes(s.metrics.render(), 'mcp_gateway_requests_total{method="tools/call",status="429"} 1');
});

Deno.test("initialize: refused with a session id, past the session cap, and forgotten when the SDK refuses it", async () => {
  await using s = await stages({ servers: [] }, { maxSessions: 1 });
  const withId = await post(s.url, initializeBody("2025-11-25", 5), { "mcp-session-id": "whatever" });
  assertEquals(withId.status, 400);
  assertEquals(withId.json, {
    jsonrpc: "2.0",
    id: 5,
    error: {
      code: RpcCode.InvalidRequest,
      message: "Invalid Request: initialize must not carry a session id.",
    },
  });
  assertEquals(await s.store.count(), 0);

  // Params an initialize cannot have: -32602 naming the first problem, and no record.
  const bad = await post(s.url, { jsonrpc: "2.0", id: 6, method: "initialize", params: {} });
  assertEquals([bad.status, errorOf(bad.json).code], [400, RpcCode.InvalidParams]);
  assertStringIncludes(errorOf(bad.json).message, "Invalid params for initialize");
  assertEquals(await s.store.count(), 0);
  assertEquals(s.sessions.size, 0);

  await rawSession(s.url);
  const full = await post(s.url, initializeBody("2025-11-25", 7));
  assertEquals(full.status, 503);
  assertEquals(full.headers.get("retry-after"), "1");
  assertEquals(full.json?.id, 7);
  assertStringIncludes(errorOf(full.json).message, "holds 1 sessions");
  assertEquals(await s.store.count(), 1);
});

Deno.test("batches: refused for a 2025-06-18 session; on 2025-03-26 one denied message denies the batch", async () => {
  const policy: RequestPolicy = {
    evaluate: (input) =>
      input.attributes.method === "prompts/list"
        ? { allow: false, status: 403, message: "No prompts for you." }
        : { allow: true },
  };
  await using s = await stages({ servers: [] }, { policy });
  const current = await rawSession(s.url, "2025-06-18");
  const refused = await post(s.url, [{ jsonrpc: "2.0", id: 1, method: "ping" }], current.headers);
  assertEquals(refused.status, 400);
  assertEquals(errorOf(refused.json).code, RpcCode.InvalidRequest);
  assertStringIncludes(errorOf(refused.json).message, "this session uses 2025-06-18");

  const old = await rawSession(s.url, "2025-03-26");
  const denied = await post(s.url, [
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", id: 2, method: "prompts/list" },
  ], old.headers);
  assertEquals(denied.status, 403);
  assertEquals(denied.json, {
    jsonrpc: "2.0",
    id: 2,
    error: { code: RpcCode.ServerError, message: "No prompts for you." },
  });
  const res = await fetch(s.url, {
    method: "POST",
    headers: old.headers,
    body: JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "ping" }, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/list",
    }]),
  });
  assertEquals(res.status, 200);
  const ids: unknown[] = [];
  for await (const m of sseMessages(res)) if (ids.push(m.id) === 2) break;
  assertEquals(ids.sort(), [1, 2]);
});

Deno.test("GET and DELETE need a session; a GET stream keeps its session busy; DELETE ends it", async () => {
  await using s = await stages({ servers: [] });
  for (const method of ["GET", "DELETE"]) {
    const res = await s.handle(new Request("http://127.0.0.1/mcp", { method, headers: MCP_HEADERS }));
    assertEquals(res.status, 400, method);
    await res.body?.cancel();
  }
  const session = await rawSession(s.url);
  const [held] = [...s.sessions.values()];
  const stream = await fetch(s.url, {
    method: "GET",
    headers: { ...session.headers, accept: "text/event-stream" },
  });
  assertEquals(stream.status, 200);
  await waitFor(() => held.openStreams === 1, 3000, "the stream to be counted");
  await stream.body!.cancel();
  await waitFor(() => held.openStreams === 0, 3000, "the stream to end");

  const del = await fetch(s.url, { method: "DELETE", headers: session.headers });
  assertEquals(del.status, 200);
  await del.body?.cancel();
  await waitFor(() => s.closed.includes(session.id), 3000, "the session to close");
  assertEquals(await s.store.get(session.id), undefined);
  const after = await post(s.url, { jsonrpc: "2.0", id: 1, method: "ping" }, session.headers);
  assertEquals(after.status, 404);
});
