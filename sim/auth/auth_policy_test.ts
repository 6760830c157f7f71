/** AuthPolicy resolution end to end: attachment, merging and the start-up rows together. */
import { assertEquals } from "../../test/helpers/assert.ts";
import {
  allowTool,
  ANON as anon,
  API_KEY as key,
  authPolicy as policy,
  GATEWAY_NS as GW_NS,
  gatewayObjects as objects,
  httpRoute,
} from "../../test/helpers/auth_objects.ts";
import { policyTargetsFromObjects, resolveAuthPolicies } from "./auth_policy.ts";

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

Deno.test("a policy on a route no registration uses is valid but not served, and says so", () => {
  const t = policyTargetsFromObjects([...objects(), httpRoute("mcp-test", "other", "other.mcp.local")])!;
  const r = resolveAuthPolicies([
    policy("mcp-test", "other-auth", { kind: "HTTPRoute", name: "other" }, {
      rules: { authentication: { anon } },
    }),
  ], t);
  assertEquals(r.problems, [{
    policy: "mcp-test/other-auth",
    code: "not-served",
    message:
      "AuthPolicy mcp-test/other-auth targets HTTPRoute mcp-test/other, which no request to this gateway passes.",
  }]);
  assertEquals(r.rows[0].appliesTo, []);
  assertEquals(
    r.rows[0].reason,
    "HTTPRoute mcp-test/other serves nothing the simulator serves (no registration routes through it)",
  );
  assertEquals([r.broker, r.servers.size], [{}, 0]);
});
