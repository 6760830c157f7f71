/**
 * The decision trace: the same decision as the engine's `evaluate`, with the stage, rule and
 * predicate that decided, on the authorization guide's policy and a real loopback issuer.
 */
import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { ACCOUNTING, AUTHORIZATION_GUIDE, rulesOf } from "../../test/helpers/auth_guides.ts";
import { startIssuer } from "../../test/helpers/jwks_issuer.ts";
import { authPolicy, mcpExtension, mcpGateway, mcpServer } from "../../test/helpers/auth_objects.ts";
import { policyTargetsFromObjects } from "./auth_policy.ts";
import { compileAuthConfig, type EngineContext } from "./engine.ts";
import { AuthPolicyGate } from "./gate.ts";
import { JwksCache } from "./jwks.ts";
import { traceAuthConfig } from "./trace.ts";
import type { AuthRequest } from "./types.ts";

function request(headers: Record<string, string> = {}, path = "/mcp"): AuthRequest {
  return {
    request: new Request(`http://127.0.0.1:8080${path}`, { method: "POST", headers }),
    headers: new Headers(headers),
    source: { address: "127.0.0.1", port: 50000 },
    destination: { address: "127.0.0.1", port: 8080 },
  };
}

const call = (tool: string, server = "mcp-ns/arithmetic-mcp-server") => ({
  "x-mcp-method": "tools/call",
  "x-mcp-toolname": tool,
  "x-mcp-servername": server,
});

Deno.test("trace: the authorization guide's policy: which rule and predicate decided, same decision as evaluate", async () => {
  await using issuer = await startIssuer();
  const rules = rulesOf(AUTHORIZATION_GUIDE);
  (rules.authentication["sso-server"] as { jwt: { issuerUrl: string } }).jwt.issuerUrl = issuer.url;
  const ctx: EngineContext = { secrets: { list: () => [] }, unsupportedRules: "deny", jwks: new JwksCache() };
  const engine = compileAuthConfig({ rules, sources: ["gateway-system/mcp-tool-auth-policy"] }, ctx);
  try {
    const token = await issuer.sign({ ...ACCOUNTING });
    const bearer = { authorization: `Bearer ${token}` };

    // Allowed: the tool rule passed, the prompt rule skipped by its when.
    const yes = await traceAuthConfig(engine, request({ ...bearer, ...call("add") }));
    assertEquals(yes.decision, await engine.evaluate(request({ ...bearer, ...call("add") })));
    assertEquals(yes.stage, "allowed");
    assertEquals(yes.policies, ["gateway-system/mcp-tool-auth-policy"]);
    assertEquals(yes.identity?.method, "sso-server");
    assertEquals(yes.authorization.map((r) => [r.name, r.result]), [
      ["tool-access-check", "passed"],
      ["prompt-access-check", "skipped"],
    ]);
    assertEquals(yes.authorization[1].predicate, "request.headers.exists(h, h == 'x-mcp-promptname')");

    // Denied: a tool outside the roles; the rule and its one predicate, the guide's 403 body.
    const no = await traceAuthConfig(engine, request({ ...bearer, ...call("subtract") }));
    assertEquals(no.decision, await engine.evaluate(request({ ...bearer, ...call("subtract") })));
    assert(!no.decision.allow);
    assertEquals(no.decision.status, 403);
    assertEquals(no.stage, "authorization");
    assertEquals(no.rule, "tool-access-check");
    assert(no.predicate?.startsWith("('tool:' + request.headers['x-mcp-toolname']) in ("), no.predicate);
    assertEquals(no.reason, "Unauthorized");

    // Unauthenticated: the method and its error, the guide's 401.
    const anonymous = await traceAuthConfig(engine, request(call("add")));
    assert(!anonymous.decision.allow);
    assertEquals(anonymous.decision.status, 401);
    assertEquals(anonymous.stage, "identity");
    assertEquals(anonymous.rule, "sso-server");
    assertEquals(anonymous.identity?.errors, { "sso-server": "credential not found" });
    assertEquals(anonymous.authorization.map((r) => r.result), ["not-reached", "not-reached"]);

    // A token from another key: the verifier's error, never the token.
    const forged = await traceAuthConfig(
      engine,
      request({ authorization: `Bearer ${token}x`, ...call("add") }),
    );
    assertEquals(forged.stage, "identity");
    assert(!forged.reason.includes(token), "the token is not in the trace");
  } finally {
    await engine.close();
  }
});

Deno.test("trace: a top-level when that does not hold, a named pattern that fails, an unsupported rule", async () => {
  const ctx: EngineContext = { secrets: { list: () => [] }, unsupportedRules: "deny" };
  const engine = compileAuthConfig({
    when: [{ predicate: "!request.path.contains('/.well-known')" }],
    patterns: {
      "is-add": { allOf: [{ selector: "request.headers.x-mcp-toolname", operator: "eq", value: "add" }] },
    },
    rules: {
      authorization: {
        "add-only": { patternMatching: { patterns: [{ predicate: "true" }, { patternRef: "is-add" }] } },
        "by-spicedb": { spicedb: { endpoint: "spicedb:50051" } },
      },
    },
    sources: ["ns/p"],
  }, ctx);
  try {
    const skipped = await traceAuthConfig(engine, request({}, "/.well-known/oauth-protected-resource"));
    assertEquals(skipped.stage, "when");
    assertEquals(skipped.skippedBy, "!request.path.contains('/.well-known')");
    assert(skipped.decision.allow);

    const named = await traceAuthConfig(engine, request({ "x-mcp-toolname": "sub" }));
    assertEquals(named.rule, "add-only");
    assertEquals(named.predicate, "is-add: request.headers.x-mcp-toolname eq add");
    assertEquals(named.authorization.map((r) => [r.name, r.result]), [
      ["add-only", "denied"],
      ["by-spicedb", "not-reached"],
    ]);

    const unsupported = await traceAuthConfig(engine, request({ "x-mcp-toolname": "add" }));
    assertEquals(unsupported.decision, await engine.evaluate(request({ "x-mcp-toolname": "add" })));
    assertEquals(unsupported.rule, "by-spicedb");
    assertEquals(unsupported.authorization.map((r) => r.result), ["passed", "unsupported"]);
  } finally {
    await engine.close();
  }
});

Deno.test("trace: the gate's explain picks the engine evaluate would and never quotes a credential", async () => {
  const objects = [
    mcpExtension(),
    mcpGateway(),
    ...mcpServer("mcp-test", "weather", "weather_"),
    authPolicy("gateway-system", "p", { kind: "Gateway", name: "mcp-gateway" }, {
      rules: {
        authorization: {
          // A conversion error quotes the value it could not convert: the credential.
          numeric: {
            patternMatching: { patterns: [{ predicate: "int(request.headers.authorization) > 0" }] },
          },
        },
      },
    }),
  ];
  const gate = new AuthPolicyGate({
    policies: objects,
    targets: policyTargetsFromObjects(objects),
    context: { secrets: { list: () => [] }, unsupportedRules: "deny" },
  });
  try {
    const credential = "Bearer s3cr3t-credential-value";
    const request = new Request("http://127.0.0.1:8080/mcp", {
      method: "POST",
      headers: { authorization: credential },
    });
    const attributes = {
      method: "tools/call",
      serverName: "mcp-test/weather",
      toolName: "search",
      requestedName: "weather_search",
    };
    const explained = await gate.explain({ attributes, request });
    assertEquals(explained.where, "server mcp-test/weather");
    const decided = await gate.evaluate({ attributes, request });
    assert(!explained.decision.allow && !decided.allow);
    assertEquals(explained.decision.status, decided.status);
    assertEquals(explained.trace?.rule, "numeric");
    const printed = JSON.stringify({ ...explained.trace, decision: undefined });
    assert(!printed.includes("s3cr3t-credential-value"), printed);
    assertEquals(explained.trace?.predicate, "int(request.headers.authorization) > 0");

    // A list request goes to the broker's route: the same policy there (it is on the whole Gateway).
    const list = await gate.explain({ attributes: { method: "tools/list" }, request });
    assertEquals(list.where, "broker");
  } finally {
    await gate.close();
  }
});
