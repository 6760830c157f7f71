/** The default policy. */
import { assertEquals } from "../test/helpers/assert.ts";
import { allowAll, chainPolicies, type PolicyInput } from "./policy.ts";

Deno.test("allowAll allows every request, with or without a session, whatever it carries", async () => {
  const request = new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: { authorization: "Bearer x" },
  });
  const inputs: PolicyInput[] = [
    { attributes: { method: "initialize" }, request },
    {
      attributes: {
        method: "tools/call",
        requestedName: "w_delete_everything",
        serverName: "ns/weather",
        toolName: "delete_everything",
        annotationHints: "readOnly=false,destructive=true,idempotent=unspecified,openWorld=unspecified",
        virtualServer: "ns/vs",
      },
      request,
      sessionId: "s",
    },
    {
      attributes: { method: "tools/call", requestedName: "nobody_has_this" },
      request: new Request(request),
      sessionId: "s",
    },
  ];
  for (const input of inputs) assertEquals(await allowAll.evaluate(input), { allow: true });
});

Deno.test("chainPolicies: the rate limit runs after auth allowed, with its identity; a denial stops the chain", async () => {
  const seen: unknown[] = [];
  const auth = {
    evaluate: (input: PolicyInput) =>
      input.request.headers.has("authorization")
        ? { allow: true as const, identity: { sub: "alice" }, requestHeaders: { "x-a": "1" } }
        : { allow: false as const, status: 401, message: "no" },
  };
  const rateLimit = {
    evaluate: (input: PolicyInput) => {
      seen.push(input.granted?.identity);
      return seen.length > 1
        ? { allow: false as const, status: 429, message: "Too Many Requests" }
        : { allow: true as const, requestHeaders: { "x-b": "2" } };
    },
    evaluateRequest: () => ({ allow: false as const, status: 429, message: "Too Many Requests" }),
  };
  const chain = chainPolicies(auth, rateLimit);
  const request = (auth?: string) =>
    new Request("http://127.0.0.1/mcp", { method: "POST", headers: auth ? { authorization: auth } : {} });
  const input = (r: Request): PolicyInput => ({ attributes: { method: "tools/list" }, request: r });
  assertEquals(await chain.evaluate(input(request())), { allow: false, status: 401, message: "no" });
  assertEquals(seen, []);
  assertEquals(await chain.evaluate(input(request("x"))), {
    allow: true,
    requestHeaders: { "x-a": "1", "x-b": "2" },
    identity: { sub: "alice" },
  });
  assertEquals(seen, [{ sub: "alice" }]);
  assertEquals((await chain.evaluate(input(request("x")))).allow, false);
  // Requests without a JSON-RPC message: auth without evaluateRequest allows, the rate limit still runs.
  assertEquals((await chain.evaluateRequest!({ request: request(), rule: "status" })).allow, false);
});
