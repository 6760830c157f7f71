/** AuthPolicy objects read into targets, phases, strategies and rules keyed as Kuadrant keys them. */
import { assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import { ANON, authPolicy, parsedPolicy as parsed } from "../../test/helpers/auth_objects.ts";
import { byAge, isAuthPolicy, parsePolicy } from "./auth_policy_parse.ts";

const gateway = { kind: "Gateway" as const, name: "gw" };

Deno.test("auth policy parse: AuthPolicies of kuadrant.io, any version", () => {
  assertEquals(isAuthPolicy(authPolicy("ns", "p", gateway, {})), true);
  assertEquals(isAuthPolicy({ apiVersion: "kuadrant.io/v1beta3", kind: "AuthPolicy" }), true);
  assertEquals(isAuthPolicy({ apiVersion: "example.com/v1", kind: "AuthPolicy" }), false);
  assertEquals(isAuthPolicy({ apiVersion: "kuadrant.io/v1", kind: "RateLimitPolicy" }), false);
  assertEquals(isAuthPolicy([]), false);
});

Deno.test("auth policy parse: rules keyed by group and name, as kuadrant-operator's Rules()", () => {
  const p = parsed(authPolicy("ns", "p", { kind: "HTTPRoute", name: "r", sectionName: "x" }, {
    patterns: { admin: { allOf: [] } },
    when: [{ predicate: "true" }],
    rules: {
      authentication: { anon: ANON },
      metadata: { m: {} },
      authorization: { z: {} },
      callbacks: { c: {} },
      response: {
        unauthenticated: { code: 401 },
        unauthorized: { code: 403 },
        success: { headers: { h: {} }, filters: { f: {} } },
      },
    },
  }));
  assertEquals([p.key, p.targetKind, p.targetName, p.sectionName], ["ns/p", "HTTPRoute", "r", "x"]);
  assertEquals([p.phase, p.strategy, p.hasScheme], ["rules", "atomic", true]);
  assertEquals([...p.rules.keys()], [
    "patterns#admin",
    "conditions#",
    "authentication#anon",
    "metadata#m",
    "authorization#z",
    "callbacks#c",
    "response.unauthenticated#",
    "response.unauthorized#",
    "response.success.headers#h",
    "response.success.metadata#f",
  ]);
  assertEquals(p.rules.get("authentication#anon"), { spec: ANON, source: "ns/p" });
  // Without a rules block the policy is Kuadrant's Empty(), whatever its `when`.
  const whenOnly = parsed(authPolicy("ns", "w", gateway, { when: [{ predicate: "false" }] }));
  assertEquals([whenOnly.hasScheme, [...whenOnly.rules.keys()]], [false, ["conditions#"]]);
  const merge = parsed(authPolicy("ns", "m", gateway, { overrides: { strategy: "merge", rules: {} } }));
  assertEquals([merge.phase, merge.strategy, merge.hasScheme], ["overrides", "merge", true]);
  assertEquals(parsed(authPolicy("ns", "d", gateway, { defaults: {} })).strategy, "atomic");
});

Deno.test("auth policy parse: a policy that cannot be used says why, naming the field", () => {
  const why = (spec: Record<string, unknown>, target: Record<string, unknown> = gateway) =>
    parsePolicy(authPolicy("ns", "a", target as typeof gateway, spec)) as string;
  assertEquals(parsePolicy({ metadata: { name: "x" } }), "AuthPolicy default/x has no spec.");
  assertStringIncludes(
    why({}, { kind: "Service", name: "s" }),
    "must name a Gateway or an HTTPRoute (kind Service)",
  );
  assertEquals(
    parsePolicy({ metadata: { name: "x" }, spec: { targetRef: { kind: "Gateway", name: "g" } } }),
    'AuthPolicy default/x field spec.targetRef.group must be gateway.networking.k8s.io, got "".',
  );
  assertStringIncludes(why({ defaults: {}, overrides: {} }), "sets both spec.defaults and spec.overrides");
  assertStringIncludes(
    why({ when: [], overrides: {} }),
    "sets spec.rules (implicit defaults) beside spec.overrides",
  );
  assertEquals(why({ defaults: [] }), "AuthPolicy ns/a field spec.defaults must be an object.");
  assertStringIncludes(
    why({ defaults: { strategy: "replace" } }),
    'spec.defaults.strategy must be atomic or merge, got "replace"',
  );
});

Deno.test("auth policy parse: on one target the oldest comes first, then by namespace/name", () => {
  const at = (name: string, created?: string) => {
    const object = authPolicy("ns", name, gateway, {}, created);
    if (!created) delete (object.metadata as { creationTimestamp?: string }).creationTimestamp;
    return parsed(object);
  };
  const policies = [
    at("fresh"),
    at("b", "2026-01-01T00:00:00Z"),
    at("c", "2025-06-01T00:00:00Z"),
    at("a", "2026-01-01T00:00:00Z"),
  ];
  // Objects from files have no timestamp: they sort after the cluster's, as if created now.
  assertEquals(policies.sort(byAge).map((p) => p.name), ["c", "a", "b", "fresh"]);
});
