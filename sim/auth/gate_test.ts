/** The AuthPolicy gate: what Authorino sees of a request, and which AuthConfig a request meets. */
import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { policyTargetsFromObjects } from "./auth_policy.ts";
import { AuthPolicyGate } from "./gate.ts";
import { authHeaders, BROKER_SERVER_NAME } from "./gate.ts";

const client = () =>
  new Headers({
    authorization: "Bearer t",
    "x-mcp-authorized": "forged",
    "x-mcp-virtualserver": "ns/vs",
    "x-mcp-verified-sub": "mallory",
    "x-mcp-toolname": "spoofed",
    "x-mcp-servername": "ns/other",
  });

Deno.test("authHeaders: a routed call carries the router's x-mcp-* headers, never the client's internal ones", () => {
  const h = authHeaders(client(), {
    method: "tools/call",
    requestedName: "w_search",
    serverName: "ns/weather",
    toolName: "search",
    annotationHints: "readOnly=true,destructive=unspecified,idempotent=unspecified,openWorld=unspecified",
  }, true);
  assertEquals(Object.fromEntries(h), {
    authorization: "Bearer t",
    "x-mcp-method": "tools/call",
    "x-mcp-toolname": "search",
    "x-mcp-servername": "ns/weather",
    "x-mcp-annotation-hints":
      "readOnly=true,destructive=unspecified,idempotent=unspecified,openWorld=unspecified",
  });
  const prompt = authHeaders(new Headers(), {
    method: "prompts/get",
    serverName: "ns/weather",
    promptName: "forecast",
  }, true);
  assertEquals(Object.fromEntries(prompt), {
    "x-mcp-method": "prompts/get",
    "x-mcp-promptname": "forecast",
    "x-mcp-servername": "ns/weather",
  });
});

Deno.test("authHeaders: a request to the broker gets mcpBroker and keeps what the router re-injects", () => {
  const h = authHeaders(client(), { method: "tools/list" }, false);
  assertEquals(Object.fromEntries(h), {
    authorization: "Bearer t",
    "x-mcp-method": "tools/list",
    "x-mcp-servername": BROKER_SERVER_NAME,
    "x-mcp-authorized": "forged",
    "x-mcp-virtualserver": "ns/vs",
    "x-mcp-verified-sub": "mallory",
    "x-mcp-toolname": "spoofed",
  });
  // No body (GET, DELETE, the metadata): no x-mcp-* header from the router, the internal ones stripped.
  assertEquals(Object.fromEntries(authHeaders(client(), undefined, false)), {
    authorization: "Bearer t",
    "x-mcp-toolname": "spoofed",
    "x-mcp-servername": "ns/other",
  });
});

/** An extension whose Gateway is not among the objects, and one registration's route. */
const objects = [
  {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPGatewayExtension",
    metadata: { namespace: "mcp-system", name: "ext" },
    spec: { targetRef: { name: "gw", namespace: "gw-ns", sectionName: "mcp" } },
  },
  {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { namespace: "ns", name: "weather" },
    spec: {
      prefix: "w_",
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "weather-route" },
    },
  },
];

const denyTool = (tool: string) => ({
  authentication: { anyone: { anonymous: {} } },
  authorization: {
    "not-this-tool": {
      patternMatching: { patterns: [{ predicate: `request.headers['x-mcp-toolname'] != '${tool}'` }] },
    },
  },
});

const policies = [
  {
    apiVersion: "kuadrant.io/v1",
    kind: "AuthPolicy",
    metadata: { namespace: "gw-ns", name: "gw" },
    spec: {
      targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw" },
      rules: {
        authentication: { anyone: { anonymous: {} } },
        authorization: {
          "no-list": {
            patternMatching: {
              patterns: [{ predicate: "request.headers['x-mcp-method'] != 'prompts/list'" }],
            },
          },
        },
      },
    },
  },
  {
    apiVersion: "kuadrant.io/v1",
    kind: "AuthPolicy",
    metadata: { namespace: "ns", name: "route" },
    spec: {
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "weather-route" },
      rules: denyTool("search"),
    },
  },
];

const post = () => new Request("http://127.0.0.1/mcp", { method: "POST" });

Deno.test("AuthPolicyGate: a routed call meets its server route's policy, everything else the broker route's", async () => {
  const gate = new AuthPolicyGate({
    policies,
    targets: policyTargetsFromObjects(objects),
    context: { secrets: { list: () => [] }, unsupportedRules: "deny" },
  });
  assertEquals(gate.summary.problems, []);
  const call = (tool: string) => ({
    attributes: {
      method: "tools/call",
      requestedName: `w_${tool}`,
      serverName: "ns/weather",
      toolName: tool,
    },
    request: post(),
  });
  assert((await gate.evaluate(call("get_forecast"))).allow);
  const search = await gate.evaluate(call("search"));
  assertEquals(search, {
    allow: false,
    status: 403,
    message: "Unauthorized",
    headers: { "X-Ext-Auth-Reason": "Unauthorized" },
    body: "",
  });
  // The gateway's rule does not reach the routed call (the route's policy replaced it) ...
  assert(
    (await gate.evaluate({
      attributes: { method: "tools/call", serverName: "ns/weather", toolName: "x" },
      request: post(),
    })).allow,
  );
  // ... but governs the broker: prompts/list, and a meta-tool the broker serves.
  assertEquals(
    (await gate.evaluate({ attributes: { method: "prompts/list" }, request: post() })).allow,
    false,
  );
  assert(
    (await gate.evaluate({
      attributes: { method: "tools/call", requestedName: "discover_tools" },
      request: post(),
    })).allow,
  );
  // GET /mcp meets the broker's policy without x-mcp-method: the predicate reads a missing key, a
  // CEL error, which denies (hence the guides' `exists` guards).
  const get = await gate.evaluateRequest({ request: new Request("http://127.0.0.1/mcp"), rule: "mcp" });
  assertEquals([get.allow, !get.allow && get.status], [false, 403]);
  // The tokens route does not exist without URL elicitation: nothing to evaluate.
  assert(
    (await gate.evaluateRequest({ request: new Request("http://127.0.0.1/tokens"), rule: "tokens" })).allow,
  );
  await gate.close();
  assert((await gate.evaluate(call("search"))).allow, "closed: no policies");
});

Deno.test("AuthPolicyGate: without an MCPGatewayExtension every policy is reported and nothing applies", async () => {
  const gate = new AuthPolicyGate({
    policies,
    targets: undefined,
    context: { secrets: { list: () => [] }, unsupportedRules: "deny" },
  });
  assertEquals(gate.summary.problems.map((p) => [p.policy, p.code]), [["gw-ns/gw", "target-not-found"], [
    "ns/route",
    "target-not-found",
  ]]);
  assert((await gate.evaluate({ attributes: { method: "prompts/list" }, request: post() })).allow);
});
