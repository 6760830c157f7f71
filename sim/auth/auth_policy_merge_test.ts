/** Defaults and overrides, atomic and merge, as kuadrant-operator merges AuthPolicies along a path. */
import { assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import {
  allowTool,
  ANON as anon,
  API_KEY as key,
  authPolicy as policy,
  GATEWAY_NS as GW_NS,
  gatewayObjects as objects,
  parsedPolicy as parsed,
} from "../../test/helpers/auth_objects.ts";
import { policyTargetsFromObjects, resolveAuthPolicies } from "./auth_policy.ts";
import { effectiveSpec } from "./auth_policy_merge.ts";

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

Deno.test("a policy without rules yields to atomic defaults, and keeps its `when` under merge defaults", () => {
  const gw = { kind: "Gateway" as const, name: "mcp-gateway" };
  const whenOnly = parsed(policy("mcp-test", "r", { kind: "HTTPRoute", name: "s1-route" }, {
    when: [{ predicate: "false" }],
  }));
  const atomic = parsed(policy(GW_NS, "gw", gw, { rules: { authentication: { key } } }));
  // Kuadrant's Empty(): no rules block, so the less specific atomic defaults replace it entirely.
  assertEquals(effectiveSpec([atomic, whenOnly]), {
    rules: { authentication: { key } },
    sources: [`${GW_NS}/gw`],
  });
  const merge = parsed(
    policy(GW_NS, "gw", gw, { defaults: { strategy: "merge", rules: { authentication: { key } } } }),
  );
  assertEquals(effectiveSpec([merge, whenOnly]), {
    when: [{ predicate: "false" }],
    rules: { authentication: { key } },
    sources: [`${GW_NS}/gw`, "mcp-test/r"],
  });
  assertEquals(effectiveSpec([]), undefined);
});
