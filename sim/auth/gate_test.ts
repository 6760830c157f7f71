/** The AuthPolicy gate: what Authorino sees of a request, and which AuthConfig a request meets. */
import { assertEquals } from "../../test/helpers/assert.ts";
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
