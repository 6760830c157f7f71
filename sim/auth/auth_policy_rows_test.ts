/** The start-up table's rows: target, phase, strategy and rule names by group. */
import { assertEquals } from "../../test/helpers/assert.ts";
import { ANON, authPolicy, parsedPolicy } from "../../test/helpers/auth_objects.ts";
import { invalidPolicyRow, policyRow } from "./auth_policy_rows.ts";

Deno.test("auth policy rows: a policy's rules by group, `when` counted, response rules by place", () => {
  const policy = parsedPolicy(authPolicy("ns", "p", { kind: "HTTPRoute", name: "r", sectionName: "x" }, {
    defaults: {
      strategy: "merge",
      patterns: { admin: { allOf: [] } },
      when: [{ predicate: "true" }, { predicate: "false" }],
      rules: {
        authentication: { anon: ANON },
        response: {
          unauthenticated: { code: 401 },
          success: { headers: { h: {} }, filters: { f: {} } },
        },
      },
    },
  }));
  assertEquals(policyRow(policy), {
    policy: "ns/p",
    target: "HTTPRoute ns/r rule x",
    phase: "defaults",
    strategy: "merge",
    rules: {
      patterns: ["admin"],
      when: ["2 predicate(s)"],
      authentication: ["anon"],
      response: ["unauthenticated", "success.headers.h", "success.filters.f"],
    },
    appliesTo: [],
  });
  const listener = parsedPolicy(
    authPolicy("gw-ns", "l", { kind: "Gateway", name: "gw", sectionName: "mcp" }, {}),
  );
  assertEquals(policyRow(listener).target, "Gateway gw-ns/gw listener mcp");
});

Deno.test("auth policy rows: a policy that cannot be parsed applies nowhere and says why", () => {
  assertEquals(invalidPolicyRow("ns/bad", "AuthPolicy ns/bad has no spec."), {
    policy: "ns/bad",
    target: "",
    phase: "rules",
    strategy: "atomic",
    rules: {},
    appliesTo: [],
    reason: "AuthPolicy ns/bad has no spec.",
  });
});
