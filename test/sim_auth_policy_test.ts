/**
 * AuthPolicies through the simulator gateway, end to end on loopback: a policy on the Gateway and one
 * on a server's HTTPRoute (apiKey and anonymous identities, CEL on `x-mcp-toolname`), their 401 and
 * 403 answers exactly as written, where upstream evaluates them (after the router's own answers,
 * before the broker's), defaults against overrides, a missing target reported, and an update that
 * applies to the next request.
 */
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { AUTH_FIXTURE_TOKEN, startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { AuthPolicyGate } from "../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../sim/auth/auth_policy.ts";
import type { SecretObject } from "../sim/auth/types.ts";
import { MCP_HEADERS, post, rawSession } from "./sim_helpers.ts";
import {
  authPolicy,
  GATEWAY_NS as GW_NS,
  mcpExtension,
  mcpGateway,
  mcpServer,
} from "./helpers/auth_objects.ts";

const NS = "mcp-test";
const ALICE_KEY = "alice-api-key-0123456789";
const BOB_KEY = "bob-api-key-9876543210";

/** The cluster objects a replay would read: extension, Gateway, the servers' routes and registrations. */
function clusterObjects(): unknown[] {
  return [
    mcpExtension(),
    mcpGateway("mcp.127-0-0-1.sslip.io", { serversListener: true }),
    ...mcpServer(NS, "weather", "w_"),
    ...mcpServer(NS, "auth", "a_"),
  ];
}

const UNAUTHENTICATED_BODY =
  '{"error":"Unauthorized","message":"MCP Access denied: Authentication required."}';
const UNAUTHORIZED_BODY = '{"error":"Forbidden","message":"MCP Access denied: Insufficient permissions."}';
const RESOURCE_METADATA =
  "Bearer resource_metadata=http://127.0.0.1/.well-known/oauth-protected-resource/mcp";

/** The API key identity: Secrets labelled `group: mcp-users`, key in `Authorization: APIKEY <key>`. */
const apiKey = {
  apiKey: { selector: { matchLabels: { group: "mcp-users" } }, allNamespaces: true },
  credentials: { authorizationHeader: { prefix: "APIKEY" } },
};

/** The answers the guides write for 401 and 403. */
const response = {
  unauthenticated: {
    headers: { "WWW-Authenticate": { value: RESOURCE_METADATA } },
    body: { value: UNAUTHENTICATED_BODY },
  },
  unauthorized: { body: { value: UNAUTHORIZED_BODY } },
};

/** The whole Gateway: API keys required everywhere (except the metadata), as defaults. */
const gatewayRules = {
  when: [{ predicate: "!request.path.contains('/.well-known')" }],
  rules: { authentication: { "api-key": apiKey }, response },
};
const gatewayDefaults = authPolicy(GW_NS, "gateway-auth", { kind: "Gateway", name: "mcp-gateway" }, {
  defaults: gatewayRules,
});

/** The weather server's route: API keys, and only `get_forecast` may be called. */
const weatherRoutePolicy = authPolicy(NS, "weather-tools", { kind: "HTTPRoute", name: "weather-route" }, {
  rules: {
    authentication: { "api-key": apiKey },
    authorization: {
      "forecast-only": {
        when: [{ predicate: "request.headers.exists(h, h == 'x-mcp-toolname')" }],
        patternMatching: { patterns: [{ predicate: "request.headers['x-mcp-toolname'] == 'get_forecast'" }] },
      },
    },
    response,
  },
});

/** A policy whose HTTPRoute is nowhere among the objects. */
const orphan = authPolicy(NS, "orphan", { kind: "HTTPRoute", name: "no-such-route" }, {
  rules: { authentication: { anyone: { anonymous: {} } } },
});

const secrets: SecretObject[] = [ALICE_KEY, BOB_KEY].map((key, i) => ({
  namespace: NS,
  name: `key-${i}`,
  labels: { group: "mcp-users" },
  annotations: {},
  data: { api_key: key },
}));

/** A gateway with the two fixture servers and the gate over `policies`. */
async function setup(policies: unknown[]) {
  const weather = await startFixture("weather");
  const auth = await startFixture("auth");
  const objects = clusterObjects();
  const gate = new AuthPolicyGate({
    policies,
    targets: policyTargetsFromObjects(objects),
    context: { secrets: { list: () => secrets }, unsupportedRules: "deny" },
  });
  const gw = await startGateway(
    normalizeConfig({
      servers: [
        { name: `${NS}/weather`, url: weather.url, prefix: "w_" },
        { name: `${NS}/auth`, url: auth.url, prefix: "a_", credential: `Bearer ${AUTH_FIXTURE_TOKEN}` },
      ],
      extension: {
        discoveryTools: false,
        oauthProtectedResource: { authorizationServers: ["http://127.0.0.1:1/realms/mcp"] },
      },
    }),
    { policy: gate },
  );
  return {
    gw,
    gate,
    objects,
    weather,
    async [Symbol.asyncDispose]() {
      await gw.close();
      await weather.close();
      await auth.close();
    },
  };
}

/** A session opened with `key`, and the headers its later requests carry (the key among them). */
async function session(url: string, key: string) {
  const res = await post(url, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  }, { authorization: `APIKEY ${key}` });
  assertEquals(res.status, 200, JSON.stringify(res.json));
  const id = res.headers.get("mcp-session-id")!;
  const headers = {
    ...MCP_HEADERS,
    authorization: `APIKEY ${key}`,
    "mcp-session-id": id,
    "mcp-protocol-version": "2025-11-25",
  };
  assertEquals(
    (await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status,
    202,
  );
  return { id, headers };
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

/** A raw HTTP answer, body read. */
async function raw(res: Response) {
  return { status: res.status, headers: res.headers, body: await res.text() };
}

Deno.test("AuthPolicy: 401 and 403 exactly as written, per-route policies, and where upstream evaluates", async () => {
  await using s = await setup([gatewayDefaults, weatherRoutePolicy, orphan]);
  const url = s.gw.url;

  // The missing target is reported, not applied.
  const problems = s.gate.summary.problems;
  assertEquals(problems.map((p) => [p.policy, p.code]), [[`${NS}/orphan`, "target-not-found"]]);
  assertStringIncludes(problems[0].message, `HTTPRoute ${NS}/no-such-route, which is not among the objects`);
  assertEquals(s.gate.summary.rows.map((r) => [r.policy, r.appliesTo]), [
    [`${GW_NS}/gateway-auth`, ["broker", "well-known", "status", "server mcp-test/auth"]],
    [`${NS}/weather-tools`, ["server mcp-test/weather"]],
    [`${NS}/orphan`, []],
  ]);

  // No key: the initialize gets the policy's 401, exactly.
  const anonymous = await post(url, {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  });
  assertEquals(anonymous.status, 401);
  assertEquals(anonymous.headers.get("www-authenticate"), RESOURCE_METADATA);
  assertEquals(anonymous.json, JSON.parse(UNAUTHENTICATED_BODY));
  // A wrong key too.
  const wrong = await raw(
    await fetch(url, {
      method: "POST",
      headers: { ...MCP_HEADERS, authorization: "APIKEY not-a-key" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    }),
  );
  assertEquals([wrong.status, wrong.body], [401, UNAUTHENTICATED_BODY]);
  // The broker's own checks come after the auth filter: no session and no key is a 401, not a 400.
  const noSession = await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" });
  assertEquals(noSession.status, 401);
  // GET and DELETE on /mcp meet the policy too.
  for (const method of ["GET", "DELETE"]) {
    const r = await raw(await fetch(url, { method, headers: { accept: "text/event-stream" } }));
    assertEquals([r.status, r.body], [401, UNAUTHENTICATED_BODY], method);
  }
  // So does /status, on the broker route's `status` rule as in the cluster; with a key it answers.
  const status = await raw(await fetch(new URL("/status", url)));
  assertEquals([status.status, status.body], [401, UNAUTHENTICATED_BODY]);
  const keyed = await fetch(new URL("/status", url), { headers: { authorization: `APIKEY ${ALICE_KEY}` } });
  assertEquals(keyed.status, 200);
  await keyed.body?.cancel();
  // The metadata stays public: the policy's `when` leaves /.well-known out.
  const metadata = await fetch(new URL("/.well-known/oauth-protected-resource/mcp", url));
  assertEquals(metadata.status, 200);
  assertEquals((await metadata.json()).authorization_servers, ["http://127.0.0.1:1/realms/mcp"]);

  // With a key: a session, the list, and the calls the route's policy allows.
  const alice = await session(url, ALICE_KEY);
  const list = await post(url, { jsonrpc: "2.0", id: 3, method: "tools/list" }, alice.headers);
  assertEquals(list.status, 200);
  const names = (list.json?.result as { tools: { name: string }[] }).tools.map((t) => t.name).sort();
  assert(
    names.includes("w_get_forecast") && names.includes("w_search") && names.includes("a_whoami"),
    names.join(),
  );
  const forecast = await post(url, call(4, "w_get_forecast", { city: "Berlin" }), alice.headers);
  assertEquals(forecast.status, 200);
  assert(forecast.json?.result, JSON.stringify(forecast.json));

  // The weather route's policy: `search` is refused with its 403, exactly, and never reaches the server.
  const searchesBefore = s.weather.stats().rpcMethods["tools/call"] ?? 0;
  const search = await raw(
    await fetch(url, {
      method: "POST",
      headers: alice.headers,
      body: JSON.stringify(call(5, "w_search", { query: "x" })),
    }),
  );
  assertEquals([search.status, search.body], [403, UNAUTHORIZED_BODY]);
  assertEquals(s.weather.stats().rpcMethods["tools/call"] ?? 0, searchesBefore);

  // The auth server's route has no policy of its own: the gateway's defaults, no tool check. The
  // server sees the registration's credential, never the client's key.
  const whoami = await post(url, call(6, "a_whoami"), alice.headers);
  assertEquals(whoami.status, 200);
  const seen = JSON.parse((whoami.json?.result as { content: { text: string }[] }).content[0].text);
  assertEquals(seen.authorization, `Bearer ${AUTH_FIXTURE_TOKEN}`);

  // The router answers an unknown tool before the auth filter: no key needed for that answer; a
  // known tool without the key meets the route's 401.
  const noKey = { ...alice.headers, authorization: "" };
  delete (noKey as Record<string, string>).authorization;
  const unknown = await post(url, call(7, "w_no_such_tool"), noKey);
  assertEquals(unknown.status, 200);
  assertEquals(unknown.json?.result, {
    isError: true,
    content: [{ type: "text", text: "MCP error -32602: Tool not found" }],
  });
  const known = await raw(
    await fetch(url, {
      method: "POST",
      headers: noKey,
      body: JSON.stringify(call(8, "w_get_forecast", { city: "Oslo" })),
    }),
  );
  assertEquals([known.status, known.body], [401, UNAUTHENTICATED_BODY]);
});

Deno.test("AuthPolicy: gateway overrides beat the route's policy; an update applies to the next request", async () => {
  await using s = await setup([gatewayDefaults, weatherRoutePolicy]);
  const url = s.gw.url;
  const bob = await session(url, BOB_KEY);
  const search = () =>
    fetch(url, {
      method: "POST",
      headers: bob.headers,
      body: JSON.stringify(call(1, "w_search", { query: "x" })),
    })
      .then(raw);
  assertEquals((await search()).status, 403);

  // The same rules as overrides: the gateway's policy replaces the route's, which had the tool check.
  const gatewayOverrides = authPolicy(GW_NS, "gateway-auth", { kind: "Gateway", name: "mcp-gateway" }, {
    overrides: gatewayRules,
  });
  const summary = s.gate.update({
    policies: [gatewayOverrides, weatherRoutePolicy],
    targets: policyTargetsFromObjects(s.objects),
  });
  assertStringIncludes(summary.rows.find((r) => r.policy === `${NS}/weather-tools`)!.reason!, "superseded");
  assertEquals((await search()).status, 200);

  // Overrides with anonymous access: no key needed anywhere, for the very next request.
  s.gate.update({
    policies: [
      authPolicy(GW_NS, "gateway-auth", { kind: "Gateway", name: "mcp-gateway" }, {
        overrides: { rules: { authentication: { anyone: { anonymous: {} } } } },
      }),
      weatherRoutePolicy,
    ],
    targets: policyTargetsFromObjects(s.objects),
  });
  const open = await rawSession(url);
  const anyone = await post(url, call(2, "w_search", { query: "x" }), open.headers);
  assertEquals(anyone.status, 200);

  // Back to defaults: the route's policy is in force again at once.
  s.gate.update({
    policies: [gatewayDefaults, weatherRoutePolicy],
    targets: policyTargetsFromObjects(s.objects),
  });
  assertEquals((await search()).status, 403);
  const unauthenticated = await post(url, call(3, "w_search", { query: "x" }), open.headers);
  assertEquals(unauthenticated.status, 401);

  // The client's address is Authorino's `source.address`.
  const fromAddress = (address: string) =>
    authPolicy(GW_NS, "gateway-auth", { kind: "Gateway", name: "mcp-gateway" }, {
      overrides: {
        rules: {
          authentication: { anyone: { anonymous: {} } },
          authorization: {
            local: { patternMatching: { patterns: [{ predicate: `source.address == '${address}'` }] } },
          },
        },
      },
    });
  s.gate.update({ policies: [fromAddress("127.0.0.1")], targets: policyTargetsFromObjects(s.objects) });
  assertEquals((await post(url, call(5, "w_search", { query: "x" }), open.headers)).status, 200);
  s.gate.update({ policies: [fromAddress("10.0.0.1")], targets: policyTargetsFromObjects(s.objects) });
  assertEquals((await post(url, call(6, "w_search", { query: "x" }), open.headers)).status, 403);

  // No policies at all: everything passes.
  s.gate.update({ policies: [], targets: policyTargetsFromObjects(s.objects) });
  assertEquals((await post(url, call(4, "w_search", { query: "x" }), open.headers)).status, 200);
});
