/** AuthPolicy attachment and merging, as kuadrant-operator resolves them. */
import { assert, assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import { policyTargetsFromObjects, resolveAuthPolicies, routeListener } from "./auth_policy.ts";

const GW_NS = "gateway-system";

/** An extension, its Gateway (listeners mcp and mcps), the broker route and two servers' routes. */
function objects(): unknown[] {
  return [
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPGatewayExtension",
      metadata: { namespace: "mcp-system", name: "ext" },
      spec: {
        targetRef: {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "mcp-gateway",
          namespace: GW_NS,
          sectionName: "mcp",
        },
        publicHost: "mcp.example.com",
      },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { namespace: GW_NS, name: "mcp-gateway" },
      spec: {
        listeners: [
          { name: "mcp", hostname: "mcp.example.com", port: 8080, protocol: "HTTP" },
          { name: "mcps", hostname: "*.mcp.local", port: 8080, protocol: "HTTP" },
        ],
      },
    },
    route("mcp-test", "s1-route", "s1.mcp.local"),
    route("mcp-test", "s2-route", "s2.mcp.local"),
    registration("mcp-test", "s1", "s1-route"),
    registration("mcp-test", "s2", "s2-route"),
  ];
}

function route(namespace: string, name: string, host: string, rule?: string) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { namespace, name },
    spec: {
      parentRefs: [{ name: "mcp-gateway", namespace: GW_NS }],
      hostnames: [host],
      rules: [{ ...(rule ? { name: rule } : {}), backendRefs: [{ name, port: 9090 }] }],
    },
  };
}

function registration(namespace: string, name: string, routeName: string) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { namespace, name },
    spec: {
      prefix: `${name}_`,
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: routeName },
    },
  };
}

function policy(
  namespace: string,
  name: string,
  target: { kind: "Gateway" | "HTTPRoute"; name: string; sectionName?: string },
  spec: Record<string, unknown>,
  created = "2026-01-01T00:00:00Z",
) {
  return {
    apiVersion: "kuadrant.io/v1",
    kind: "AuthPolicy",
    metadata: { namespace, name, creationTimestamp: created },
    spec: { targetRef: { group: "gateway.networking.k8s.io", ...target }, ...spec },
  };
}

const anon = { anonymous: {} };
const key = { apiKey: { selector: { matchLabels: { app: "x" } } } };
const allowTool = (tool: string) => ({
  patternMatching: { patterns: [{ predicate: `request.headers['x-mcp-toolname'] == '${tool}'` }] },
});

Deno.test("policyTargetsFromObjects: the Gateway's listeners, the controller's broker routes, each registration's route", () => {
  const t = policyTargetsFromObjects(objects(), { tokens: true })!;
  assertEquals(t.gateway, {
    namespace: GW_NS,
    name: "mcp-gateway",
    known: true,
    listeners: [{ name: "mcp", hostname: "mcp.example.com" }, { name: "mcps", hostname: "*.mcp.local" }],
  });
  assertEquals(t.listener, "mcp");
  assertEquals(t.brokerRoute, {
    namespace: "mcp-system",
    name: "mcp-gateway-route",
    rules: ["mcp", "well-known", "status"],
    hostnames: ["mcp.example.com"],
    listeners: ["mcp"],
  });
  assertEquals(t.tokensRoute?.rules, ["tokens"]);
  assertEquals([...t.servers.keys()], ["mcp-test/s1", "mcp-test/s2"]);
  const s1 = t.servers.get("mcp-test/s1")!;
  assertEquals(s1.listeners, ["mcp", "mcps"]);
  // Attached through both listeners, its hostname is the wildcard listener's.
  assertEquals(routeListener(t, s1), "mcps");
  assertEquals(routeListener(t, t.brokerRoute), "mcp");
  assertEquals(policyTargetsFromObjects([]), undefined);
});

Deno.test("a Gateway listener policy governs the routes through that listener only", () => {
  const t = policyTargetsFromObjects(objects())!;
  const r = resolveAuthPolicies([
    policy(GW_NS, "authn", { kind: "Gateway", name: "mcp-gateway", sectionName: "mcp" }, {
      rules: { authentication: { anon } },
    }),
    policy(GW_NS, "authz", { kind: "Gateway", name: "mcp-gateway", sectionName: "mcps" }, {
      rules: { authentication: { key }, authorization: { only: allowTool("add") } },
    }),
  ], t);
  assertEquals(r.problems, []);
  assertEquals(r.broker.mcp?.rules, { authentication: { anon } });
  assertEquals(r.broker.mcp?.sources, [`${GW_NS}/authn`]);
  assertEquals(r.broker["well-known"]?.sources, [`${GW_NS}/authn`]);
  assertEquals(r.servers.get("mcp-test/s1")?.rules, {
    authentication: { key },
    authorization: { only: allowTool("add") },
  });
  assertEquals(r.rows.map((row) => [row.policy, row.target, row.appliesTo]), [
    [`${GW_NS}/authn`, `Gateway ${GW_NS}/mcp-gateway listener mcp`, ["broker", "well-known", "status"]],
    [`${GW_NS}/authz`, `Gateway ${GW_NS}/mcp-gateway listener mcps`, [
      "server mcp-test/s1",
      "server mcp-test/s2",
    ]],
  ]);
  assertEquals(r.rows[1].rules, { authentication: ["key"], authorization: ["only"] });
});

Deno.test("gateway defaults yield to a route policy; gateway overrides win over it", () => {
  const t = policyTargetsFromObjects(objects())!;
  const routePolicy = policy("mcp-test", "s1-auth", { kind: "HTTPRoute", name: "s1-route" }, {
    rules: { authentication: { key }, authorization: { only: allowTool("add") } },
  });
  const defaults = resolveAuthPolicies([
    policy(GW_NS, "gw", { kind: "Gateway", name: "mcp-gateway" }, {
      defaults: { rules: { authentication: { anon } } },
    }),
    routePolicy,
  ], t);
  assertEquals(defaults.servers.get("mcp-test/s1")?.sources, ["mcp-test/s1-auth"]);
  assertEquals(defaults.servers.get("mcp-test/s2")?.sources, [`${GW_NS}/gw`]);
  assertEquals(defaults.broker.mcp?.rules, { authentication: { anon } });

  const overrides = resolveAuthPolicies([
    policy(GW_NS, "gw", { kind: "Gateway", name: "mcp-gateway" }, {
      overrides: { rules: { authentication: { anon } } },
    }),
    routePolicy,
  ], t);
  assertEquals(overrides.servers.get("mcp-test/s1")?.rules, { authentication: { anon } });
  const row = overrides.rows.find((x) => x.policy === "mcp-test/s1-auth")!;
  assertEquals(row.appliesTo, []);
  assertStringIncludes(row.reason!, "superseded");
});

Deno.test("merge strategy works rule by rule, by rule name", () => {
  const t = policyTargetsFromObjects(objects())!;
  const routePolicy = policy("mcp-test", "s1-auth", { kind: "HTTPRoute", name: "s1-route" }, {
    rules: { authentication: { shared: key }, authorization: { route: allowTool("add") } },
  });
  const gwRules = {
    strategy: "merge",
    rules: { authentication: { shared: anon }, authorization: { gw: allowTool("sub") } },
  };
  const defaults = resolveAuthPolicies([
    policy(GW_NS, "gw", { kind: "Gateway", name: "mcp-gateway" }, { defaults: gwRules }),
    routePolicy,
  ], t).servers.get("mcp-test/s1")!;
  // Defaults: the route keeps its `shared`, the gateway adds `gw`.
  assertEquals(defaults.rules, {
    authentication: { shared: key },
    authorization: { gw: allowTool("sub"), route: allowTool("add") },
  });
  assertEquals(defaults.sources, [`${GW_NS}/gw`, "mcp-test/s1-auth"]);
  const overrides = resolveAuthPolicies([
    policy(GW_NS, "gw", { kind: "Gateway", name: "mcp-gateway" }, { overrides: gwRules }),
    routePolicy,
  ], t).servers.get("mcp-test/s1")!;
  // Overrides: the gateway's `shared` wins, the route keeps `route`.
  assertEquals(overrides.rules, {
    authentication: { shared: anon },
    authorization: { gw: allowTool("sub"), route: allowTool("add") },
  });
});

Deno.test("several policies on one target: creation time, then name, decides as Kuadrant's fold does", () => {
  const t = policyTargetsFromObjects(objects())!;
  const gw = { kind: "Gateway" as const, name: "mcp-gateway" };
  const older = policy(GW_NS, "b-older", gw, { rules: { authentication: { anon } } }, "2026-01-01T00:00:00Z");
  const newer = policy(GW_NS, "a-newer", gw, { rules: { authentication: { key } } }, "2026-02-01T00:00:00Z");
  // Atomic defaults on one target: the later one is the more specific, so it wins.
  assertEquals(resolveAuthPolicies([newer, older], t).broker.mcp?.sources, [`${GW_NS}/a-newer`]);
  // Same time: by name, so b comes after a and wins.
  const sameTime = policy(
    GW_NS,
    "a-newer",
    gw,
    { rules: { authentication: { key } } },
    "2026-01-01T00:00:00Z",
  );
  assertEquals(resolveAuthPolicies([older, sameTime], t).broker.mcp?.sources, [`${GW_NS}/b-older`]);
  // Overrides: the oldest wins.
  const o1 = policy(
    GW_NS,
    "o1",
    gw,
    { overrides: { rules: { authentication: { anon } } } },
    "2026-01-01T00:00:00Z",
  );
  const o2 = policy(
    GW_NS,
    "o2",
    gw,
    { overrides: { rules: { authentication: { key } } } },
    "2026-02-01T00:00:00Z",
  );
  assertEquals(resolveAuthPolicies([o2, o1], t).broker.mcp?.sources, [`${GW_NS}/o1`]);
});

Deno.test("a route rule policy (sectionName) is the most specific; the top-level when merges as one rule", () => {
  const t = policyTargetsFromObjects(objects())!;
  const r = resolveAuthPolicies([
    policy(GW_NS, "gw", { kind: "Gateway", name: "mcp-gateway", sectionName: "mcp" }, {
      when: [{ predicate: "!request.path.contains('/.well-known')" }],
      rules: { authentication: { key } },
    }),
    policy("mcp-system", "wk", { kind: "HTTPRoute", name: "mcp-gateway-route", sectionName: "well-known" }, {
      rules: { authentication: { anon } },
    }),
  ], t);
  assertEquals(r.broker.mcp, {
    when: [{ predicate: "!request.path.contains('/.well-known')" }],
    rules: { authentication: { key } },
    sources: [`${GW_NS}/gw`],
  });
  assertEquals(r.broker["well-known"], { rules: { authentication: { anon } }, sources: ["mcp-system/wk"] });
});

Deno.test("a policy whose target does not exist is reported and not applied", () => {
  const t = policyTargetsFromObjects(objects())!;
  const r = resolveAuthPolicies([
    policy(GW_NS, "wrong-gw", { kind: "Gateway", name: "other" }, { rules: { authentication: { anon } } }),
    policy(GW_NS, "wrong-listener", { kind: "Gateway", name: "mcp-gateway", sectionName: "http" }, {
      rules: { authentication: { anon } },
    }),
    policy("mcp-test", "wrong-route", { kind: "HTTPRoute", name: "nope" }, {
      rules: { authentication: { anon } },
    }),
    policy("other-ns", "wrong-ns", { kind: "HTTPRoute", name: "s1-route" }, {
      rules: { authentication: { anon } },
    }),
    policy("mcp-test", "wrong-rule", { kind: "HTTPRoute", name: "s1-route", sectionName: "x" }, {
      rules: { authentication: { anon } },
    }),
    policy("mcp-test", "bad", { kind: "HTTPRoute", name: "s1-route" }, {
      rules: { authentication: { anon } },
      defaults: { rules: { authentication: { anon } } },
    }),
  ], t);
  assertEquals(r.broker, {});
  assertEquals(r.servers.size, 0);
  assertEquals(r.problems.map((p) => [p.policy, p.code]), [
    [`${GW_NS}/wrong-gw`, "target-not-found"],
    [`${GW_NS}/wrong-listener`, "target-not-found"],
    ["mcp-test/wrong-route", "target-not-found"],
    ["other-ns/wrong-ns", "target-not-found"],
    ["mcp-test/wrong-rule", "target-not-found"],
    ["mcp-test/bad", "invalid-policy"],
  ]);
  assertStringIncludes(r.problems[1].message, "listeners: mcp, mcps");
  assertStringIncludes(r.problems[4].message, "its rules have no names");
  assert(r.rows.every((row) => row.appliesTo.length === 0 && row.reason));
});

Deno.test("without the Gateway object only the extension's listener is known", () => {
  const t = policyTargetsFromObjects(objects().filter((o) => (o as { kind: string }).kind !== "Gateway"))!;
  assertEquals(t.gateway.known, false);
  const r = resolveAuthPolicies([
    policy(GW_NS, "mcps", { kind: "Gateway", name: "mcp-gateway", sectionName: "mcps" }, {
      rules: { authentication: { anon } },
    }),
    policy(GW_NS, "whole", { kind: "Gateway", name: "mcp-gateway" }, { rules: { authentication: { key } } }),
  ], t);
  assertEquals(r.problems.length, 1);
  assertStringIncludes(r.problems[0].message, "only listener mcp is known, from the MCPGatewayExtension");
  assertEquals(r.servers.get("mcp-test/s1")?.sources, [`${GW_NS}/whole`]);
});
