/** What AuthPolicies attach to: the Gateway's listeners, the broker's routes, each registration's route. */
import { assert, assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import {
  ANON as anon,
  API_KEY as key,
  authPolicy as policy,
  GATEWAY_NS as GW_NS,
  gatewayObjects as objects,
  parsedPolicy as parsed,
} from "../../test/helpers/auth_objects.ts";
import { resolveAuthPolicies } from "./auth_policy.ts";
import {
  describeTarget,
  policiesAlongPath,
  policyTargetsFromObjects,
  routeListener,
  type RouteTarget,
} from "./auth_policy_targets.ts";

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

Deno.test("the policies along a path: Gateway, listener, route, rule; on one target in the given order", () => {
  const t = policyTargetsFromObjects(objects())!;
  const gw = (name: string, sectionName?: string) =>
    parsed(
      policy(
        GW_NS,
        name,
        { kind: "Gateway", name: "mcp-gateway", ...(sectionName ? { sectionName } : {}) },
        {},
      ),
    );
  const broker = (name: string, sectionName?: string) =>
    parsed(
      policy("mcp-system", name, {
        kind: "HTTPRoute",
        name: "mcp-gateway-route",
        ...(sectionName ? { sectionName } : {}),
      }, {}),
    );
  const policies = [
    broker("rule-mcp", "mcp"),
    broker("route"),
    gw("listener-mcps", "mcps"),
    broker("rule-status", "status"),
    gw("listener-mcp", "mcp"),
    gw("whole-2"),
    gw("whole-1"),
    parsed(policy("mcp-test", "s1", { kind: "HTTPRoute", name: "s1-route" }, {})),
  ];
  const along = (route: RouteTarget, rule: string | undefined) =>
    policiesAlongPath(policies, t, route, rule).map((p) => p.name);
  assertEquals(along(t.brokerRoute, "mcp"), ["whole-2", "whole-1", "listener-mcp", "route", "rule-mcp"]);
  assertEquals(along(t.brokerRoute, "status"), [
    "whole-2",
    "whole-1",
    "listener-mcp",
    "route",
    "rule-status",
  ]);
  // s1's route arrives through the wildcard listener mcps.
  assertEquals(along(t.servers.get("mcp-test/s1")!, undefined), [
    "whole-2",
    "whole-1",
    "listener-mcps",
    "s1",
  ]);
  assertEquals(describeTarget(policies[0]), "HTTPRoute mcp-system/mcp-gateway-route rule mcp");
  assertEquals(describeTarget(policies[2]), `Gateway ${GW_NS}/mcp-gateway listener mcps`);
});
