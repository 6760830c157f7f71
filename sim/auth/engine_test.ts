/** One AuthConfig evaluated as Authorino evaluates it, with the real stages and a loopback issuer. */
import { assert, assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import { startIssuer } from "../../test/helpers/jwks_issuer.ts";
import { compileAuthConfig, type EngineContext } from "./engine.ts";
import { JwksCache } from "./jwks.ts";
import type { AuthConfigSpec, AuthDecision, AuthRequest, SecretObject } from "./types.ts";

const secrets: SecretObject[] = [{
  namespace: "kuadrant-system",
  name: "alice-key",
  labels: { group: "users" },
  annotations: {},
  data: { api_key: "alice-key-value" },
}];
const CTX: EngineContext = { secrets: { list: () => secrets }, unsupportedRules: "deny" };

function request(headers: Record<string, string> = {}, path = "/mcp"): AuthRequest {
  const request = new Request(`http://127.0.0.1:8080${path}`, { method: "POST", headers });
  return {
    request,
    headers: new Headers(headers),
    source: { address: "127.0.0.1", port: 50000 },
    destination: { address: "127.0.0.1", port: 8080 },
  };
}

const spec = (rules: Record<string, unknown>, extra: Partial<AuthConfigSpec> = {}): AuthConfigSpec => ({
  rules,
  sources: ["ns/p"],
  ...extra,
});

const toolIs = (tool: string) => ({
  when: [{ predicate: "request.headers.exists(h, h == 'x-mcp-toolname')" }],
  patternMatching: { patterns: [{ predicate: `request.headers['x-mcp-toolname'] == '${tool}'` }] },
});

const deny = (d: AuthDecision) => {
  assert(!d.allow, "expected a denial");
  return d;
};

Deno.test("engine: a top-level when that does not hold skips the AuthConfig: allowed, no identity", async () => {
  const engine = compileAuthConfig(
    spec({ authentication: { k: { apiKey: { selector: { matchLabels: { group: "users" } } } } } }, {
      when: [{ predicate: "!request.path.contains('/.well-known')" }],
    }),
    CTX,
  );
  assertEquals(await engine.evaluate(request({}, "/.well-known/oauth-protected-resource")), {
    allow: true,
    requestHeaders: {},
  });
  const d = deny(await engine.evaluate(request({}, "/mcp")));
  assertEquals(d.status, 401);
  assertEquals(d.headers, {
    "WWW-Authenticate": 'Bearer realm="k"',
    "X-Ext-Auth-Reason": "credential not found",
  });
  assertEquals(d.body, "");
});

Deno.test("engine: identity, then every authorization rule whose when holds, then success headers", async () => {
  const engine = compileAuthConfig(
    spec({
      authentication: {
        k: {
          apiKey: { selector: { matchLabels: { group: "users" } } },
          credentials: { authorizationHeader: { prefix: "APIKEY" } },
        },
      },
      authorization: { "add-only": toolIs("add") },
      response: {
        success: { headers: { "x-user": { plain: { selector: "auth.identity.metadata.name" } } } },
      },
    }),
    CTX,
  );
  assertEquals(engine.unsupported, []);
  const key = { authorization: "APIKEY alice-key-value" };
  const listed = await engine.evaluate(request({ ...key, "x-mcp-method": "tools/list" }));
  assert(listed.allow);
  assertEquals(listed.requestHeaders, { "x-user": "alice-key" });
  assertEquals(listed.identityMethod, "k");
  const add = await engine.evaluate(request({ ...key, "x-mcp-toolname": "add" }));
  assert(add.allow);
  const sub = deny(await engine.evaluate(request({ ...key, "x-mcp-toolname": "sub" })));
  assertEquals([sub.status, sub.headers, sub.body], [403, { "X-Ext-Auth-Reason": "Unauthorized" }, ""]);
  const wrong = deny(
    await engine.evaluate(request({ authorization: "APIKEY nope", "x-mcp-toolname": "add" })),
  );
  assertEquals(wrong.status, 401);
  assertEquals(wrong.headers["WWW-Authenticate"], 'APIKEY realm="k"');
});

Deno.test("engine: unsupported rules are reported; --unsupported-rules decides, only where their when holds", async () => {
  const rules = {
    authentication: { anyone: { anonymous: {} } },
    metadata: { "user-info": { userInfo: { identitySource: "x" } } },
    authorization: {
      zanzibar: {
        when: [{ predicate: "request.headers.exists(h, h == 'x-mcp-toolname')" }],
        spicedb: { endpoint: "spicedb:50051" },
      },
    },
    callbacks: { notify: { http: { url: "http://x" } } },
  };
  const denying = compileAuthConfig(spec(rules), CTX);
  assertEquals(denying.unsupported.map((u) => u.path).sort(), [
    "rules.authorization.zanzibar",
    "rules.callbacks.notify",
    "rules.metadata.user-info",
  ]);
  assertStringIncludes(
    denying.unsupported.find((u) => u.path === "rules.authorization.zanzibar")!.reason,
    "fails",
  );
  assert((await denying.evaluate(request({ "x-mcp-method": "tools/list" }))).allow, "its when does not hold");
  const d = deny(await denying.evaluate(request({ "x-mcp-toolname": "add" })));
  assertEquals(d.status, 403);
  assertStringIncludes(d.reason, "zanzibar");
  const allowing = compileAuthConfig(spec(rules), { ...CTX, unsupportedRules: "allow" });
  assert((await allowing.evaluate(request({ "x-mcp-toolname": "add" }))).allow);
});

Deno.test("engine: a predicate that does not compile denies every request and says why; never throws", async () => {
  const engine = compileAuthConfig(
    spec({
      authorization: { broken: { patternMatching: { patterns: [{ predicate: "request.headers[" }] } } },
    }),
    CTX,
  );
  assertEquals(engine.unsupported.length, 1);
  assertStringIncludes(engine.unsupported[0].reason, "cannot be compiled");
  const d = deny(await engine.evaluate(request()));
  assertEquals(d.status, 500);
  // A runtime CEL error in a rule is that rule's denial, not an exception.
  const runtime = compileAuthConfig(
    spec({
      authorization: {
        r: { patternMatching: { patterns: [{ predicate: "auth.identity.missing.deep == 1" }] } },
      },
    }),
    CTX,
  );
  assertEquals(deny(await runtime.evaluate(request())).status, 403);
});

Deno.test("engine: JWT verification and a CEL authorization cost little per call once keys are cached", async () => {
  await using issuer = await startIssuer();
  const token = await issuer.sign({
    sub: "alice",
    resource_access: { "mcp-test/s1": { roles: ["tool:add", "tool:sum"] } },
  });
  const engine = compileAuthConfig(
    spec({
      authentication: { sso: { jwt: { issuerUrl: issuer.url } } },
      authorization: {
        "tool-access-check": {
          when: [{ predicate: "request.headers.exists(h, h == 'x-mcp-toolname')" }],
          patternMatching: {
            patterns: [{
              predicate:
                "('tool:' + request.headers['x-mcp-toolname']) in (has(auth.identity.resource_access) && auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])",
            }],
          },
        },
      },
    }),
    { ...CTX, jwks: new JwksCache() },
  );
  const headers = {
    authorization: `Bearer ${token}`,
    "x-mcp-method": "tools/call",
    "x-mcp-toolname": "add",
    "x-mcp-servername": "mcp-test/s1",
  };
  const first = await engine.evaluate(request(headers));
  assert(first.allow, JSON.stringify(first));
  assertEquals((first.identity as { sub: string }).sub, "alice");
  assertEquals(deny(await engine.evaluate(request({ ...headers, "x-mcp-toolname": "divide" }))).status, 403);
  const reqs = Array.from({ length: 2000 }, () => request(headers));
  const start = performance.now();
  for (const r of reqs) await engine.evaluate(r);
  const perCall = (performance.now() - start) / reqs.length;
  console.log(`engine: JWT + CEL authorization ${(perCall * 1000).toFixed(1)} µs per call`);
  // Generous for a shared 2-core machine; `deno task bench` measures it precisely.
  assert(perCall < 1, `${perCall} ms per call`);
  assertEquals(issuer.hits.jwks, 1, "keys fetched once");
});
