/**
 * What Authorino adds to a routed request reaches the server on every path the simulator routes it:
 * the policy's success headers on `tools/call` (pass-through and the SDK path) and on `prompts/get`,
 * as Envoy forwards the request Authorino allowed. And the router's own answer to a `prompts/get` of
 * a prompt no server has comes before the auth filter, as for an unknown tool.
 */
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { assertEquals } from "./helpers/assert.ts";
import { serveMcp, text } from "./fixtures/harness.ts";
import { authPolicy, GATEWAY_NS, mcpExtension, mcpGateway, mcpServer } from "./helpers/auth_objects.ts";
import { MCP_HEADERS, post } from "./sim_helpers.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { AuthPolicyGate } from "../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../sim/auth/auth_policy.ts";
import type { SecretObject } from "../sim/auth/types.ts";

const NS = "mcp-test";
const KEY = "hdr-api-key-0123456789";

/** A real SDK server with one tool and one prompt that records the policy's header on each request. */
async function headerServer() {
  const seen: { method: string; user: string | null; authorized: boolean }[] = [];
  const server = await serveMcp({
    name: "headers",
    createServer: () => {
      const s = new McpServer({ name: "headers", version: "1.0.0" });
      s.registerTool("echo", { description: "Says hello" }, () => text("hello"));
      s.registerPrompt("greet", { description: "A greeting" }, () => ({
        messages: [{ role: "user", content: { type: "text", text: "hello" } }],
      }));
      return s;
    },
    intercept: (message, request) => {
      const method = String((message as { method?: unknown }).method ?? "response");
      seen.push({
        method,
        user: request.headers.get("x-policy-user"),
        authorized: request.headers.has("x-mcp-authorized"),
      });
      return undefined;
    },
  });
  return { ...server, seen };
}

function objects() {
  return [mcpExtension(), mcpGateway(), ...mcpServer(NS, "hdr", "h_")];
}

/** API keys on the whole Gateway; the key's Secret name goes to the server as `x-policy-user`. */
const policy = authPolicy(GATEWAY_NS, "keys", { kind: "Gateway", name: "mcp-gateway" }, {
  rules: {
    authentication: {
      "api-key": {
        apiKey: { selector: { matchLabels: { group: "users" } } },
        credentials: { authorizationHeader: { prefix: "APIKEY" } },
      },
    },
    response: {
      success: { headers: { "x-policy-user": { plain: { selector: "auth.identity.metadata.name" } } } },
    },
  },
});

const secrets: SecretObject[] = [{
  namespace: "kuadrant-system",
  name: "alice",
  labels: { group: "users" },
  annotations: {},
  data: { api_key: KEY },
}];

async function setup(passthrough: boolean) {
  const upstream = await headerServer();
  const gate = new AuthPolicyGate({
    policies: [policy],
    targets: policyTargetsFromObjects(objects()),
    context: { secrets: { list: () => secrets }, unsupportedRules: "deny" },
  });
  const gw = await startGateway(
    normalizeConfig({
      servers: [{ name: `${NS}/hdr`, url: upstream.url, prefix: "h_" }],
      extension: { discoveryTools: false },
    }),
    { policy: gate, toolCallPassthrough: passthrough },
  );
  const init = await post(gw.url, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  }, { authorization: `APIKEY ${KEY}` });
  assertEquals(init.status, 200, JSON.stringify(init.json));
  const headers = {
    ...MCP_HEADERS,
    authorization: `APIKEY ${KEY}`,
    "mcp-session-id": init.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  assertEquals(
    (await post(gw.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status,
    202,
  );
  return {
    gw,
    upstream,
    headers,
    async [Symbol.asyncDispose]() {
      await gw.close();
      await gate.close();
      await upstream.close();
    },
  };
}

for (const passthrough of [true, false]) {
  Deno.test(`the policy's success headers reach the server on tools/call and prompts/get (${passthrough ? "pass-through" : "SDK path"})`, async () => {
    await using s = await setup(passthrough);
    const call = await post(s.gw.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "h_echo", arguments: {} },
    }, s.headers);
    assertEquals(call.status, 200, JSON.stringify(call.json));
    assertEquals((call.json?.result as { content: { text: string }[] }).content[0].text, "hello");
    const prompt = await post(s.gw.url, {
      jsonrpc: "2.0",
      id: 2,
      method: "prompts/get",
      params: { name: "h_greet" },
    }, s.headers);
    assertEquals(prompt.status, 200, JSON.stringify(prompt.json));
    const routed = s.upstream.seen.filter((r) => r.method === "tools/call" || r.method === "prompts/get");
    assertEquals(routed, [
      { method: "tools/call", user: "alice", authorized: false },
      { method: "prompts/get", user: "alice", authorized: false },
    ]);
    // The gateway's own requests to the server (its session, its lists) carry no one's policy header.
    for (const r of s.upstream.seen.filter((r) => r.method === "initialize" || r.method === "tools/list")) {
      assertEquals(r.user, null, r.method);
    }
  });
}

Deno.test("prompts/get of a prompt no server has: the router's answer, before the auth filter", async () => {
  await using s = await setup(true);
  const noKey: Record<string, string> = { ...s.headers };
  delete noKey.authorization;
  for (const headers of [noKey, s.headers]) {
    const res = await fetch(s.gw.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "prompts/get", params: { name: "h_nope" } }),
    });
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    assertEquals(res.headers.get("mcp-session-id"), s.headers["mcp-session-id"]);
    assertEquals(
      await res.text(),
      '\nevent: message\ndata: {"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Prompt not found"}}\n\n',
    );
  }
  // A known prompt without the key meets the policy.
  const known = await post(s.gw.url, {
    jsonrpc: "2.0",
    id: 4,
    method: "prompts/get",
    params: { name: "h_greet" },
  }, noKey);
  assertEquals(known.status, 401);
});
