/**
 * Authentication methods and Authorino's identity phase: apiKey Secrets by label selector and
 * namespace, anonymous, plain, jwt against a loopback issuer (credentials where Authorino reads
 * them, an unreachable issuer never allowing), priorities, `when`, the unauthenticated message and
 * the `WWW-Authenticate` challenges.
 */

import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { startIssuer } from "../../test/helpers/jwks_issuer.ts";
import { buildAuthorizationJson } from "./authorization_json.ts";
import {
  authenticate,
  type AuthenticationResult,
  compileAuthentication,
  compileIdentity,
  type IdentityContext,
  type IdentityMethod,
} from "./identity.ts";
import { compileConditions } from "./conditions.ts";
import { JwksCache } from "./jwks.ts";
import type { AuthRequest, SecretObject, Unsupported } from "./types.ts";

function request(url: string, headers: Record<string, string> = {}): AuthRequest {
  const request = new Request(url, { headers });
  return {
    request,
    headers: request.headers,
    source: { address: "127.0.0.1", port: 50000 },
    destination: { address: "127.0.0.1", port: 8080 },
  };
}

const GATEWAY = "http://mcp.127-0-0-1.sslip.io:8001/mcp";

function method(name: string, spec: Record<string, unknown>, ctx: IdentityContext): IdentityMethod {
  const compiled = compileIdentity(name, spec, ctx);
  assert("verify" in compiled, `compiles: ${JSON.stringify(compiled)}`);
  return compiled;
}

async function run(methods: IdentityMethod[], req: AuthRequest): Promise<AuthenticationResult> {
  return await authenticate(methods, req, buildAuthorizationJson(req));
}

function secret(
  namespace: string,
  name: string,
  key: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
): SecretObject {
  return { namespace, name, labels, annotations, data: { api_key: key } };
}

const SECRETS: SecretObject[] = [
  secret("kuadrant-system", "bob-key", "IAMBOB", { app: "toystore", tier: "gold" }, {
    "secret.kuadrant.io/user-id": "bob",
  }),
  secret("kuadrant-system", "alice-key", "IAMALICE", { app: "toystore", tier: "silver" }),
  secret("kuadrant-system", "other-app", "IAMOTHER", { app: "petstore" }),
  secret("team-a", "carol-key", "IAMCAROL", { app: "toystore", tier: "gold" }),
];
const CTX: IdentityContext = { namespace: "kuadrant-system", secrets: { list: () => SECRETS } };

Deno.test("apiKey: the Secret whose api_key matches, among those the label selector picks in the AuthConfig's namespace", async () => {
  const keys = method("api-key-users", {
    apiKey: { selector: { matchLabels: { app: "toystore" } } },
    credentials: { authorizationHeader: { prefix: "APIKEY" } },
  }, CTX);
  const ok = await run([keys], request(GATEWAY, { authorization: "APIKEY IAMBOB" }));
  assert(ok.authenticated);
  assertEquals(ok.identity, {
    metadata: {
      name: "bob-key",
      namespace: "kuadrant-system",
      labels: { app: "toystore", tier: "gold" },
      annotations: { "secret.kuadrant.io/user-id": "bob" },
    },
    data: { api_key: btoa("IAMBOB") },
    type: "Opaque",
  });
  for (
    const [header, message] of [
      ["APIKEY IAMOTHER", "the API Key provided is invalid"], // selector excludes it
      ["APIKEY IAMCAROL", "the API Key provided is invalid"], // another namespace
      ["APIKEY nope", "the API Key provided is invalid"],
      ["Bearer IAMBOB", "credential not found"],
    ]
  ) {
    const denied = await run([keys], request(GATEWAY, { authorization: header }));
    assert(!denied.authenticated);
    assertEquals(denied.message, message, header);
    assertEquals(denied.challenges, ['APIKEY realm="api-key-users"']);
  }
});

Deno.test("apiKey: matchExpressions and allNamespaces", async () => {
  const gold = method("gold", {
    apiKey: {
      selector: {
        matchLabels: { app: "toystore" },
        matchExpressions: [{ key: "tier", operator: "In", values: ["gold"] }],
      },
      allNamespaces: true,
    },
  }, CTX);
  for (const [key, expected] of [["IAMBOB", true], ["IAMCAROL", true], ["IAMALICE", false]] as const) {
    const result = await run([gold], request(GATEWAY, { authorization: `Bearer ${key}` }));
    assertEquals(result.authenticated, expected, key);
  }
  const notGold = method("not-gold", {
    apiKey: { selector: { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["gold"] }] } },
  }, CTX);
  assert((await run([notGold], request(GATEWAY, { authorization: "Bearer IAMOTHER" }))).authenticated);
  assert(!(await run([notGold], request(GATEWAY, { authorization: "Bearer IAMBOB" }))).authenticated);
  const tierless = method("tierless", {
    apiKey: { selector: { matchExpressions: [{ key: "tier", operator: "DoesNotExist" }] } },
  }, CTX);
  assert((await run([tierless], request(GATEWAY, { authorization: "Bearer IAMOTHER" }))).authenticated);
  assert(!(await run([tierless], request(GATEWAY, { authorization: "Bearer IAMALICE" }))).authenticated);
  // A namespaced Authorino ignores allNamespaces.
  const namespaced = method("gold", { apiKey: { selector: {}, allNamespaces: true } }, {
    ...CTX,
    clusterWide: false,
  });
  assert(!(await run([namespaced], request(GATEWAY, { authorization: "Bearer IAMCAROL" }))).authenticated);
  const bad = compileIdentity("bad", {
    apiKey: { selector: { matchExpressions: [{ key: "tier", operator: "Within", values: ["x"] }] } },
  }, CTX);
  assert(!("verify" in bad));
  assertEquals((bad as Unsupported).path, "rules.authentication.bad");
});

Deno.test("anonymous: always the identity {anonymous: true}", async () => {
  const anonymous = method("anonymous", { anonymous: {} }, CTX);
  const result = await run([anonymous], request(GATEWAY));
  assertEquals(result, { authenticated: true, identity: { anonymous: true }, method: "anonymous" });
  // An AuthConfig without authentication gets it, as Authorino adds it.
  const { methods, unsupported } = compileAuthentication(undefined, CTX);
  assertEquals(unsupported, []);
  assertEquals(methods.map((m) => [m.name, m.kind]), [["anonymous", "anonymous"]]);
});

Deno.test("plain: the identity from a selector or a CEL expression of the authorization JSON", async () => {
  const bySelector = method("from-proxy", { plain: { selector: "request.headers.x-forwarded-user" } }, CTX);
  const byExpression = method("from-proxy-cel", {
    plain: { expression: "{'user': request.headers['x-forwarded-user']}" },
  }, CTX);
  const req = request(GATEWAY, { "x-forwarded-user": "dave" });
  assertEquals(await run([bySelector], req), { authenticated: true, identity: "dave", method: "from-proxy" });
  assertEquals((await run([byExpression], req)) as unknown, {
    authenticated: true,
    identity: { user: "dave" },
    method: "from-proxy-cel",
  });
  const missing = await run([bySelector], request(GATEWAY));
  assert(!missing.authenticated);
  assertEquals(missing.message, "could not retrieve identity object or null");
  assertEquals(missing.challenges, ['request.headers.x-forwarded-user realm="from-proxy"']);
});

Deno.test("jwt: credentials from each location; a malformed header or an unconfigured query string is no credential", async () => {
  await using issuer = await startIssuer();
  const ctx = { ...CTX, jwks: new JwksCache() };
  const token = await issuer.sign();
  const cases: [Record<string, unknown> | undefined, string, Record<string, string>][] = [
    [undefined, GATEWAY, { authorization: `Bearer ${token}` }],
    [{ authorizationHeader: { prefix: "JWT" } }, GATEWAY, { authorization: `JWT ${token}` }],
    [{ customHeader: { name: "X-Token" } }, GATEWAY, { "x-token": token }],
    [{ queryString: { name: "access_token" } }, `${GATEWAY}?access_token=${token}`, {}],
    [{ cookie: { name: "id_token" } }, GATEWAY, { cookie: `a=b; id_token=${token}` }],
  ];
  for (const [credentials, url, headers] of cases) {
    const jwt = method("keycloak", { jwt: { issuerUrl: issuer.url }, credentials }, ctx);
    const result = await run([jwt], request(url, headers));
    assert(result.authenticated, JSON.stringify(credentials));
    assertEquals((result.identity as { sub: string }).sub, "alice");
  }
  const jwt = method("keycloak", { jwt: { issuerUrl: issuer.url } }, ctx);
  for (
    const req of [
      request(GATEWAY, { authorization: token }),
      request(GATEWAY, { authorization: `bearer ${token}` }),
      request(GATEWAY, { authorization: `Basic ${token}` }),
      request(`${GATEWAY}?access_token=${token}`),
      request(`${GATEWAY}?token=${token}`),
    ]
  ) {
    const result = await run([jwt], req);
    assert(!result.authenticated);
    assertEquals(result.message, "credential not found");
    assertEquals(result.challenges, ['Bearer realm="keycloak"']);
  }
});

Deno.test("jwt: an unreachable issuer is unauthenticated, never an allow", async () => {
  const issuer = await startIssuer();
  const token = await issuer.sign();
  const url = issuer.url;
  await issuer.close();
  const jwt = method("keycloak", { jwt: { issuerUrl: url } }, {
    ...CTX,
    jwks: new JwksCache({ timeoutMs: 1_000 }),
  });
  for (let i = 0; i < 3; i++) {
    const result = await run([jwt], request(GATEWAY, { authorization: `Bearer ${token}` }));
    assert(!result.authenticated);
    assert(result.message.startsWith("missing openid connect configuration"), result.message);
  }
});

Deno.test("priority: lower first, any success wins; all failing gives Authorino's JSON of errors", async () => {
  await using issuer = await startIssuer();
  const ctx = { ...CTX, jwks: new JwksCache() };
  const jwt = method("keycloak", { jwt: { issuerUrl: issuer.url }, priority: 0 }, ctx);
  const keys = method("api-key-users", {
    apiKey: { selector: { matchLabels: { app: "toystore" } } },
    credentials: { authorizationHeader: { prefix: "APIKEY" } },
    priority: 1,
  }, ctx);
  const token = await issuer.sign();
  const byJwt = await run([keys, jwt], request(GATEWAY, { authorization: `Bearer ${token}` }));
  assert(byJwt.authenticated);
  assertEquals(byJwt.method, "keycloak");
  const byKey = await run([keys, jwt], request(GATEWAY, { authorization: "APIKEY IAMALICE" }));
  assert(byKey.authenticated);
  assertEquals(byKey.method, "api-key-users");
  const none = await run([keys, jwt], request(GATEWAY, { authorization: "APIKEY <wrong&>" }));
  assert(!none.authenticated);
  assertEquals(
    none.message,
    '{"api-key-users":"the API Key provided is invalid","keycloak":"credential not found"}',
  );
  assertEquals(none.challenges, ['APIKEY realm="api-key-users"', 'Bearer realm="keycloak"']);

  // A lower priority that succeeds keeps the higher ones from running.
  const calls: string[] = [];
  const counted = (name: string, priority: number, ok: boolean): IdentityMethod => ({
    name,
    priority,
    when: compileConditions([]),
    kind: "plain",
    challenge: `x realm="${name}"`,
    verify: () => {
      calls.push(name);
      return ok ? Promise.resolve({ name }) : Promise.reject(new Error(`${name} failed <&>`));
    },
  });
  const result = await run(
    [
      counted("late", 2, true),
      counted("first-a", 0, false),
      counted("first-b", 0, true),
      counted("mid", 1, true),
    ],
    request(GATEWAY),
  );
  assertEquals(result, { authenticated: true, identity: { name: "first-b" }, method: "first-b" });
  assertEquals(calls.sort(), ["first-a", "first-b"]);
  const failed = await run([counted("b", 0, false), counted("a", 1, false)], request(GATEWAY));
  assert(!failed.authenticated);
  // Go's encoder: keys sorted, <, > and & escaped.
  assertEquals(failed.message, '{"a":"a failed \\u003c\\u0026\\u003e","b":"b failed \\u003c\\u0026\\u003e"}');
});

Deno.test("when: a method whose conditions do not hold is skipped", async () => {
  const keys = method("api-key-users", {
    apiKey: { selector: {} },
    when: [{ predicate: "request.path.startsWith('/mcp')" }, {
      selector: "request.method",
      operator: "eq",
      value: "POST",
    }],
  }, CTX);
  const anonymous = method("anonymous", { anonymous: {}, priority: 1 }, CTX);
  const post = (url: string) => {
    const req = new Request(url, { method: "POST", headers: { authorization: "Bearer wrong" } });
    return { ...request(url), request: req, headers: req.headers };
  };
  // Conditions hold: the key is checked (and wrong); anonymous then lets it through.
  const checked = await run([keys], post(GATEWAY));
  assert(!checked.authenticated);
  assertEquals(checked.message, "the API Key provided is invalid");
  // Conditions fail: skipped; the only method skipped gives Authorino's "{}".
  const skipped = await run([keys], request(GATEWAY, { authorization: "Bearer wrong" }));
  assert(!skipped.authenticated);
  assertEquals(skipped.message, "{}");
  assertEquals((await run([keys, anonymous], request(GATEWAY))).authenticated, true);
});

Deno.test("defaults and overrides extend the identity object", async () => {
  const keys = method("api-key-users", {
    apiKey: { selector: {} },
    defaults: {
      username: { selector: "auth.identity.metadata.annotations.secret\\.kuadrant\\.io/user-id" },
      tier: { value: "free" },
    },
    overrides: { type: { expression: "'api-key'" } },
  }, CTX);
  const bob = await run([keys], request(GATEWAY, { authorization: "Bearer IAMBOB" }));
  assert(bob.authenticated);
  const identity = bob.identity as Record<string, unknown>;
  assertEquals([identity.username, identity.tier, identity.type], ["bob", "free", "api-key"]);

  // A selector with placeholders is a template, as Authorino resolves any value; a method's `when`
  // takes named patterns and a predicate with its `all` beside it.
  const templated = method("api-key-users", {
    apiKey: { selector: {} },
    when: [{ predicate: "request.method == 'GET'", all: [{ patternRef: "mcp-path" }] }],
    defaults: { greeting: { selector: "Hello, {auth.identity.metadata.name}!" } },
  }, {
    ...CTX,
    patterns: { "mcp-path": { allOf: [{ selector: "request.path", operator: "eq", value: "/mcp" }] } },
  });
  const greeted = await run([templated], request(GATEWAY, { authorization: "Bearer IAMBOB" }));
  assert(greeted.authenticated);
  assertEquals((greeted.identity as Record<string, unknown>).greeting, "Hello, bob-key!");
  const elsewhere = await run([templated], request(`${GATEWAY}/other`, { authorization: "Bearer IAMBOB" }));
  assertEquals([elsewhere.authenticated, !elsewhere.authenticated && elsewhere.message], [false, "{}"]);
});

Deno.test("unsupported methods are reported, never allow, and anonymous is not added for them", async () => {
  const { methods, unsupported } = compileAuthentication({
    mtls: { x509: { selector: { matchLabels: { app: "ca" } } } },
    introspect: {
      oauth2Introspection: { endpoint: "https://idp/introspect", credentialsRef: { name: "c" } },
    },
    review: { kubernetesTokenReview: { audiences: ["x"] } },
  }, CTX);
  assertEquals(methods, []);
  assertEquals(unsupported.map((u) => u.path), [
    "rules.authentication.mtls",
    "rules.authentication.introspect",
    "rules.authentication.review",
  ]);
  const result = await run(methods, request(GATEWAY));
  assert(!result.authenticated);
});
