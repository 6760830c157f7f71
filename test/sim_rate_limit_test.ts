/**
 * RateLimitPolicies through the simulator gateway, end to end on loopback: a per-user limit on one
 * tool (users from a real OIDC provider's JWTs or an API-key AuthPolicy, `auth.identity` in the
 * counter) throttles that user on that tool only with the wasm-shim's 429, the session lives on, the window resets; two gateways on one
 * real Redis share the counters; a Redis that is down gives 503, never an unlimited pass.
 */
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { startRedis } from "./helpers/redis.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { AuthPolicyGate } from "../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../sim/auth/auth_policy.ts";
import type { SecretObject } from "../sim/auth/types.ts";
import { RedisSessionStore } from "../sim/store_redis.ts";
import { counterStorageFor, MemoryCounters, RedisCounters } from "../sim/ratelimit/counters.ts";
import { RateLimitGate, TOO_MANY_REQUESTS_BODY } from "../sim/ratelimit/gate.ts";
import { rateLimitPolicy } from "../sim/ratelimit/test_objects.ts";
import type { SessionStore } from "../sim/store.ts";
import { gatewayObjects } from "./helpers/auth_objects.ts";
import { MCP_HEADERS, post } from "./sim_helpers.ts";
import { startOidcProvider } from "./fixtures/oidc.ts";

const NS = "mcp-test";
const GW_NS = "gateway-system";
const ALICE = "alice-api-key-0123456789";
const BOB = "bob-api-key-9876543210";

/** Extension, Gateway, and registrations `mcp-test/s1` (the weather fixture) and `mcp-test/s2`. */
const objects = gatewayObjects();
const targets = () => policyTargetsFromObjects(objects);

const secrets: SecretObject[] = [["alice", ALICE], ["bob", BOB]].map(([name, key]) => ({
  namespace: NS,
  name,
  labels: { group: "mcp-users" },
  annotations: {},
  data: { api_key: key },
}));

/** API keys required on the whole Gateway. */
const authPolicy = {
  apiVersion: "kuadrant.io/v1",
  kind: "AuthPolicy",
  metadata: { namespace: GW_NS, name: "keys", creationTimestamp: "2026-01-01T00:00:00Z" },
  spec: {
    targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "mcp-gateway" },
    rules: {
      authentication: {
        "api-key": {
          apiKey: { selector: { matchLabels: { group: "mcp-users" } }, allNamespaces: true },
          credentials: { authorizationHeader: { prefix: "APIKEY" } },
        },
      },
    },
  },
};

/** `get_forecast` on s1: two calls per user per 2 s; the counter is the API key Secret's name. */
const perUserForecast = rateLimitPolicy(NS, "forecast", { kind: "HTTPRoute", name: "s1-route" }, {
  limits: {
    "per-user": {
      rates: [{ limit: 2, window: "2s" }],
      when: [{ predicate: "request.headers['x-mcp-toolname'] == 'get_forecast'" }],
      counters: [{ expression: "auth.identity.metadata.name" }],
    },
  },
});

/** Any tool on s1: three calls per `x-user` header per 30 s (no auth needed). */
const perHeader = rateLimitPolicy(NS, "by-header", { kind: "HTTPRoute", name: "s1-route" }, {
  limits: {
    "per-header": {
      rates: [{ limit: 3, window: "30s" }],
      when: [{ predicate: "request.headers['x-mcp-method'] == 'tools/call'" }],
      counters: [{ expression: "request.headers['x-user']" }],
    },
  },
});

async function gateway(
  weatherUrl: string,
  opts: { auth?: boolean; rateLimit: RateLimitGate; store?: SessionStore },
) {
  const policy = opts.auth
    ? new AuthPolicyGate({
      policies: [authPolicy],
      targets: targets(),
      context: { secrets: { list: () => secrets }, unsupportedRules: "deny" },
    })
    : undefined;
  return await startGateway(
    normalizeConfig({
      servers: [{ name: `${NS}/s1`, url: weatherUrl, prefix: "w_" }],
      extension: { discoveryTools: false },
    }),
    {
      ...(policy ? { policy } : {}),
      rateLimit: opts.rateLimit,
      ...(opts.store ? { store: opts.store } : {}),
    },
  );
}

/** A session on `url` with `headers` on every request. */
async function session(url: string, headers: Record<string, string> = {}) {
  const res = await post(url, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  }, headers);
  assertEquals(res.status, 200, JSON.stringify(res.json));
  const all = {
    ...MCP_HEADERS,
    ...headers,
    "mcp-session-id": res.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  assertEquals((await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, all)).status, 202);
  let id = 1;
  return {
    /** Calls `tool` and returns the HTTP status and body text. */
    async call(tool: string): Promise<{ status: number; body: string }> {
      const res = await fetch(url, {
        method: "POST",
        headers: all,
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: id++,
          method: "tools/call",
          params: { name: tool, arguments: tool === "w_get_forecast" ? { city: "Paris" } : { query: "x" } },
        }),
      });
      return { status: res.status, body: await res.text() };
    },
    async list(): Promise<number> {
      return (await post(url, { jsonrpc: "2.0", id: id++, method: "tools/list" }, all)).status;
    },
  };
}

Deno.test("RateLimitPolicy: a per-user limit on one tool throttles that user and that tool only; the window resets", async () => {
  await using weather = await startFixture("weather");
  const rateLimit = new RateLimitGate({ policies: [perUserForecast], targets: targets() });
  assertEquals(rateLimit.summary.problems, []);
  assertEquals(Object.keys(rateLimit.summary.where), ["server mcp-test/s1"]);
  const gw = await gateway(weather.url, { auth: true, rateLimit });
  try {
    const alice = await session(gw.url, { authorization: `APIKEY ${ALICE}` });
    const bob = await session(gw.url, { authorization: `APIKEY ${BOB}` });
    assertEquals((await alice.call("w_get_forecast")).status, 200);
    assertEquals((await alice.call("w_get_forecast")).status, 200);
    // The third call in the window: the wasm-shim's answer to Limitador's OVER_LIMIT.
    const limited = await alice.call("w_get_forecast");
    assertEquals([limited.status, limited.body], [429, TOO_MANY_REQUESTS_BODY]);
    // Another tool, another user: not limited; alice's session lives on.
    assertEquals((await alice.call("w_search")).status, 200);
    assertEquals((await bob.call("w_get_forecast")).status, 200);
    assertEquals((await bob.call("w_get_forecast")).status, 200);
    assertEquals((await bob.call("w_get_forecast")).status, 429);
    assertEquals(await alice.list(), 200);

    const metrics = await (await fetch(new URL("/metrics", gw.url))).text();
    assertStringIncludes(
      metrics,
      'mcp_gateway_rate_limited_total{policy="mcp-test/forecast",limit="per-user"} 2',
    );
    const status = await (await fetch(new URL("/status", gw.url), {
      headers: { authorization: `APIKEY ${ALICE}` },
    })).json();
    assertEquals(status.rateLimits.storage, "memory");
    assertEquals(status.rateLimits.limited, [{ policy: "mcp-test/forecast", limit: "per-user", count: 2 }]);
    const counters = Object.fromEntries(
      (status.rateLimits.counters as { key: string; value: number }[]).map((c) => [c.key, c.value]),
    );
    assertEquals(counters, {
      'mcp-test/forecast#per-user#2/2s#["alice"]': 2,
      'mcp-test/forecast#per-user#2/2s#["bob"]': 2,
    });

    // The window ends 2 s after alice's first call: within 3 s her next call passes again.
    const deadline = Date.now() + 3000;
    let after = await alice.call("w_get_forecast");
    while (after.status === 429 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = await alice.call("w_get_forecast");
    }
    assertEquals(after.status, 200);
  } finally {
    await gw.close();
  }
});

Deno.test("RateLimitPolicy: per-user limits keyed by the sub of real OIDC access tokens", async () => {
  await using weather = await startFixture("weather");
  await using idp = await startOidcProvider({ users: [{ id: "alice" }, { id: "bob" }] });
  const jwtPolicy = {
    ...authPolicy,
    metadata: { ...authPolicy.metadata, name: "jwt" },
    spec: {
      ...authPolicy.spec,
      rules: { authentication: { idp: { jwt: { issuerUrl: idp.issuer } } } },
    },
  };
  const perSub = rateLimitPolicy(NS, "forecast", { kind: "HTTPRoute", name: "s1-route" }, {
    limits: {
      "per-user": {
        rates: [{ limit: 1, window: "1m" }],
        when: [{ predicate: "request.headers['x-mcp-toolname'] == 'get_forecast'" }],
        counters: [{ expression: "auth.identity.sub" }],
      },
    },
  });
  const policy = new AuthPolicyGate({
    policies: [jwtPolicy],
    targets: targets(),
    context: { secrets: { list: () => [] }, unsupportedRules: "deny" },
  });
  const rateLimit = new RateLimitGate({ policies: [perSub], targets: targets() });
  const gw = await startGateway(
    normalizeConfig({
      servers: [{ name: `${NS}/s1`, url: weather.url, prefix: "w_" }],
      extension: { discoveryTools: false },
    }),
    { policy, rateLimit },
  );
  try {
    idp.defaultResource = gw.url;
    const [alice, bob] = await Promise.all(
      ["alice", "bob"].map(async (user) =>
        session(gw.url, { authorization: `Bearer ${await idp.token(user)}` })
      ),
    );
    assertEquals((await alice.call("w_get_forecast")).status, 200);
    assertEquals((await alice.call("w_get_forecast")).status, 429);
    assertEquals((await bob.call("w_get_forecast")).status, 200);
    assertEquals((await alice.call("w_search")).status, 200);
    const status = await (await fetch(new URL("/status", gw.url), {
      headers: { authorization: `Bearer ${await idp.token("alice")}` },
    })).json();
    assertEquals(
      (status.rateLimits.counters as { key: string; value: number }[]).map((c) => [c.key, c.value]).sort(),
      [['mcp-test/forecast#per-user#1/1m#["alice"]', 1], ['mcp-test/forecast#per-user#1/1m#["bob"]', 1]],
    );
  } finally {
    await gw.close();
  }
});

Deno.test("RateLimitPolicy: two gateways on one Redis share the counters; Redis down gives 503, never a pass", async () => {
  await using weather = await startFixture("weather");
  await using redis = await startRedis();
  const stores = await Promise.all(
    [0, 1].map(() =>
      RedisSessionStore.connect(redis.url, { commandTimeoutMs: 1000, connectTimeoutMs: 2000 })
    ),
  );
  const gates = stores.map((store) =>
    new RateLimitGate({ policies: [perHeader], targets: targets(), storage: counterStorageFor(store) })
  );
  assert(gates[0].storage instanceof RedisCounters);
  const gws = [
    await gateway(weather.url, { rateLimit: gates[0], store: stores[0] }),
    await gateway(weather.url, { rateLimit: gates[1], store: stores[1] }),
  ];
  try {
    const carol = await Promise.all(gws.map((gw) => session(gw.url, { "x-user": "carol" })));
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await carol[i % 2].call("w_search")).status);
    // Three calls per 30 s across both replicas, whichever each call reached.
    assertEquals(statuses, [200, 200, 200, 429, 429, 429, 429, 429]);
    const dave = await session(gws[1].url, { "x-user": "dave" });
    assertEquals((await dave.call("w_search")).status, 200);

    await redis.stop();
    const down = await carol[0].call("w_search");
    assertEquals(down.status, 503, down.body);
    assertStringIncludes(down.body, "Session store redis://127.0.0.1");
  } finally {
    for (const gw of gws) await gw.close();
    for (const store of stores) await store.close();
  }
});

Deno.test("RateLimitPolicy: Redis counters down behind a memory session store give 503, not a pass", async () => {
  await using weather = await startFixture("weather");
  await using redis = await startRedis();
  const counterStore = await RedisSessionStore.connect(redis.url, { commandTimeoutMs: 1000 });
  const rateLimit = new RateLimitGate({
    policies: [perHeader],
    targets: targets(),
    storage: new RedisCounters(counterStore),
  });
  const gw = await gateway(weather.url, { rateLimit });
  try {
    const erin = await session(gw.url, { "x-user": "erin" });
    assertEquals((await erin.call("w_search")).status, 200);
    await redis.stop();
    // Sessions are in memory: only the counters need Redis, and without them nothing passes.
    for (let i = 0; i < 3; i++) {
      const r = await erin.call("w_search");
      assertEquals(r.status, 503, r.body);
    }
    assertEquals(await erin.list(), 200);
    // A gate without policies needs no storage at all.
    assertEquals(
      new RateLimitGate({ policies: [], targets: targets(), storage: new MemoryCounters() }).summary.where,
      {},
    );
  } finally {
    await gw.close();
    await counterStore.close();
  }
});
