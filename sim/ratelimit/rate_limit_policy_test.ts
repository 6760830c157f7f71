import { assert, assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import { GATEWAY_NS, gatewayObjects } from "../../test/helpers/auth_objects.ts";
import { policyTargetsFromObjects } from "../auth/auth_policy.ts";
import {
  limitadorWindowMs,
  parseRateLimitPolicy,
  parseWindow,
  resolveRateLimitPolicies,
} from "./rate_limit_policy.ts";
import { rateLimitPolicy } from "./test_objects.ts";

const targets = () => policyTargetsFromObjects(gatewayObjects())!;
const gw = { kind: "Gateway" as const, name: "mcp-gateway" };
const s1 = { kind: "HTTPRoute" as const, name: "s1-route" };
const limit = (n: number, window = "10s", extra: Record<string, unknown> = {}) => ({
  rates: [{ limit: n, window }],
  ...extra,
});

Deno.test("parseWindow: the CRD's pattern, parts summed", () => {
  assertEquals(parseWindow("10s"), 10_000);
  assertEquals(parseWindow("1m"), 60_000);
  assertEquals(parseWindow("1h30m"), 5_400_000);
  assertEquals(parseWindow("500ms"), 500);
  assertEquals(parseWindow("1h1m1s1ms"), 3_661_001);
  // Repeated units add up in Go too.
  assertEquals(parseWindow("1h1h"), 7_200_000);
  assertEquals(parseWindow("99999s"), 99_999_000);
  assertEquals(parseWindow("0s"), 0);
  for (const bad of ["", "10", "1", "1 m", "1d", "1.5s", "-1s", "1h1m1s1ms1s", "123456s", "1M"]) {
    assertEquals(parseWindow(bad), undefined, bad);
  }
});

Deno.test("limitadorWindowMs: whole seconds, truncated, as kuadrant-operator hands windows to Limitador", () => {
  assertEquals(limitadorWindowMs(500), 0);
  assertEquals(limitadorWindowMs(0), 0);
  assertEquals(limitadorWindowMs(1500), 1000);
  assertEquals(limitadorWindowMs(60_999), 60_000);
});

Deno.test("parseRateLimitPolicy: a rate counts as the cluster's Limitador is given it", () => {
  const p = parseRateLimitPolicy(rateLimitPolicy(GATEWAY_NS, "rl", gw, {
    limits: {
      truncated: { rates: [{ limit: 2, window: "1500ms" }] },
      negative: { rates: [{ limit: -5, window: "2s" }] },
    },
  }));
  assert(typeof p !== "string", String(p));
  const rates = (name: string) =>
    (p.rules.get(`limits#${name}`)!.spec as { rates: { limit: number; window: string; windowMs: number }[] })
      .rates.map((r) => [r.limit, r.window, r.windowMs]);
  assertEquals(rates("truncated"), [[2, "1500ms", 1000]]);
  assertEquals(rates("negative"), [[0, "2s", 2000]]);
});

Deno.test("parseRateLimitPolicy: limits, defaults and overrides, and what is wrong named", () => {
  const p = parseRateLimitPolicy(rateLimitPolicy(GATEWAY_NS, "rl", gw, {
    when: [{ predicate: "request.method == 'POST'" }],
    limits: { "per-user": limit(3, "1m", { counters: [{ expression: "auth.identity.sub" }] }) },
  }));
  assert(typeof p !== "string", String(p));
  assertEquals([p.kind, p.phase, p.strategy, p.hasScheme], ["RateLimitPolicy", "rules", "atomic", true]);
  assertEquals((p.rules.get("limits#per-user")!.spec as { when: string[] }).when, [
    "request.method == 'POST'",
  ]);
  const d = parseRateLimitPolicy(rateLimitPolicy(GATEWAY_NS, "d", gw, {
    defaults: { strategy: "merge", limits: { a: limit(1) } },
  }));
  assert(typeof d !== "string");
  assertEquals([d.phase, d.strategy], ["defaults", "merge"]);
  const bad = [
    [{ limits: { a: limit(1, "10d") } }, 'spec.limits.a.rates[0].window "10d"'],
    [{ limits: { a: { rates: [{ limit: 1.5, window: "1s" }] } } }, "rates[0].limit must be an integer"],
    [{ limits: { a: limit(1, "1s", { counters: [{}] }) } }, "counters[0].expression must be set"],
    [{ defaults: { limits: {} }, overrides: { limits: {} } }, "mutually exclusive"],
    [{ limits: {}, overrides: { limits: {} } }, "beside spec.overrides"],
    [{ overrides: { strategy: "other", limits: {} } }, "spec.overrides.strategy must be atomic or merge"],
  ] as const;
  for (const [spec, text] of bad) {
    const r = parseRateLimitPolicy(rateLimitPolicy(GATEWAY_NS, "bad", gw, spec));
    assert(typeof r === "string", JSON.stringify(spec));
    assertStringIncludes(r, text);
  }
});

Deno.test("resolveRateLimitPolicies: attachment as AuthPolicy, defaults vs overrides, problems", () => {
  const objects = [
    rateLimitPolicy(GATEWAY_NS, "gw-defaults", gw, { defaults: { limits: { global: limit(100) } } }),
    rateLimitPolicy("mcp-test", "s1-limits", s1, { limits: { tool: limit(2) } }),
    rateLimitPolicy("mcp-test", "orphan", { kind: "HTTPRoute", name: "nope" }, { limits: { x: limit(1) } }),
    rateLimitPolicy(GATEWAY_NS, "bad", gw, { limits: { x: limit(1, "forever") } }),
  ];
  const r = resolveRateLimitPolicies(objects, targets());
  // The route's own policy replaces the gateway's atomic defaults on s1; elsewhere the defaults apply.
  assertEquals(r.servers.get("mcp-test/s1")!.map((l) => `${l.policy}#${l.name}`), [
    "mcp-test/s1-limits#tool",
  ]);
  assertEquals(r.servers.get("mcp-test/s2")!.map((l) => `${l.policy}#${l.name}`), [
    `${GATEWAY_NS}/gw-defaults#global`,
  ]);
  assertEquals(r.broker.mcp!.map((l) => l.name), ["global"]);
  assertEquals(r.problems.map((p) => [p.policy, p.code]), [
    ["mcp-test/orphan", "target-not-found"],
    [`${GATEWAY_NS}/bad`, "invalid-policy"],
  ]);
  assertStringIncludes(
    r.problems[0].message,
    "RateLimitPolicy mcp-test/orphan targets HTTPRoute mcp-test/nope",
  );
  assertEquals(r.rows[0].limits, { global: "100/10s" });

  // Overrides on the Gateway win over the route's policy; merge keeps the route's other limits.
  const merged = resolveRateLimitPolicies([
    rateLimitPolicy(GATEWAY_NS, "gw-over", gw, {
      overrides: { strategy: "merge", limits: { tool: limit(1) } },
    }),
    rateLimitPolicy("mcp-test", "s1-limits", s1, { limits: { tool: limit(5), other: limit(9) } }),
  ], targets());
  assertEquals(
    merged.servers.get("mcp-test/s1")!.map((l) => `${l.policy}#${l.name}=${l.rates[0].limit}`),
    [`${GATEWAY_NS}/gw-over#tool=1`, "mcp-test/s1-limits#other=9"],
  );
  // sectionName: a listener the broker route does not use does not apply to it.
  const listener = resolveRateLimitPolicies([
    rateLimitPolicy(GATEWAY_NS, "mcps-only", { ...gw, sectionName: "mcps" }, { limits: { l: limit(1) } }),
  ], targets());
  assertEquals(listener.broker.mcp, undefined);
  assertEquals([...listener.servers.keys()], ["mcp-test/s1", "mcp-test/s2"]);
});
