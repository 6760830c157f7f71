import { assert, assertEquals, assertRejects } from "../../test/helpers/assert.ts";
import {
  AuthorizationDenied,
  type AuthorizationRule,
  authorize,
  closeAuthorization,
  compileAuthorization,
} from "./authorization.ts";
import { OpaPool } from "./opa.ts";
import type { AuthorizationJson, Unsupported } from "./types.ts";
import {
  ACCOUNTING,
  AUTHORIZATION_GUIDE,
  requestJson,
  rulesOf,
  TOOL_FILTER_GUIDE,
} from "../../test/helpers/auth_guides.ts";
import { requireOpa } from "../../test/helpers/opa.ts";

function compileAll(
  authorization: Record<string, unknown>,
  ctx: Parameters<typeof compileAuthorization>[2] = {},
): AuthorizationRule[] {
  return Object.entries(authorization).map(([name, spec]) => {
    const rule = compileAuthorization(name, spec as Record<string, unknown>, ctx);
    assert(!("reason" in rule), `rule ${name} unsupported: ${(rule as Unsupported).reason}`);
    return rule as AuthorizationRule;
  });
}

function call(server: string, tool: string, identity: unknown = ACCOUNTING): AuthorizationJson {
  return requestJson({
    identity,
    headers: { "x-mcp-method": "tools/call", "x-mcp-toolname": tool, "x-mcp-servername": server },
  });
}

async function denial(rules: AuthorizationRule[], json: AuthorizationJson): Promise<AuthorizationDenied> {
  return await assertRejects(() => authorize(rules, json), AuthorizationDenied);
}

Deno.test("authorization guide: a tool the identity's roles grant on that server passes; the prompt rule is skipped", async () => {
  const rules = compileAll(rulesOf(AUTHORIZATION_GUIDE).authorization);
  const json = call("mcp-ns/arithmetic-mcp-server", "add");
  await authorize(rules, json);
  assertEquals(json.auth.authorization, { "tool-access-check": true });
});

Deno.test("authorization guide: a tool outside the roles, on another server, or without resource_access is Unauthorized", async () => {
  const rules = compileAll(rulesOf(AUTHORIZATION_GUIDE).authorization);
  const cases: [string, AuthorizationJson][] = [
    ["role of the other server", call("mcp-ns/arithmetic-mcp-server", "area")],
    ["unknown server", call("mcp-ns/other", "add")],
    ["no resource_access", call("mcp-ns/arithmetic-mcp-server", "add", { sub: "x" })],
  ];
  for (const [what, json] of cases) {
    const err = await denial(rules, json);
    assertEquals([err.rule, err.reason], ["tool-access-check", "Unauthorized"], what);
  }
});

Deno.test("authorization guide: prompts/get checks prompt roles; tools/list (no tool header) runs no rule", async () => {
  const rules = compileAll(rulesOf(AUTHORIZATION_GUIDE).authorization);
  const prompt = (name: string) =>
    requestJson({
      identity: ACCOUNTING,
      headers: {
        "x-mcp-method": "prompts/get",
        "x-mcp-promptname": name,
        "x-mcp-servername": "mcp-ns/geometry-mcp-server",
      },
    });
  await authorize(rules, prompt("calculate_area"));
  assertEquals((await denial(rules, prompt("math_tutor"))).rule, "prompt-access-check");
  const list = requestJson({ identity: ACCOUNTING, headers: { "x-mcp-method": "tools/list" } });
  await authorize(rules, list);
  assertEquals(list.auth.authorization, {});
});

Deno.test("tool revocation guide: the same user's next token without the role is denied that tool only", async () => {
  const rules = compileAll(rulesOf(AUTHORIZATION_GUIDE).authorization);
  const revoked = structuredClone(ACCOUNTING);
  revoked.resource_access["mcp-ns/arithmetic-mcp-server"].roles = ["tool:sum", "tool:multiply"];
  await authorize(rules, call("mcp-ns/arithmetic-mcp-server", "add"));
  assertEquals(
    (await denial(rules, call("mcp-ns/arithmetic-mcp-server", "add", revoked))).reason,
    "Unauthorized",
  );
  await authorize(rules, call("mcp-ns/arithmetic-mcp-server", "sum", revoked));
});

Deno.test("user-based tool filter guide: the rego with allValues gives the capabilities map through the real opa", async () => {
  const pool = new OpaPool({ opaPath: requireOpa() });
  try {
    const rules = compileAll(rulesOf(TOOL_FILTER_GUIDE).authorization, { opa: pool });
    await Promise.all(rules.map((r) => r.ready()));
    const json = requestJson({ identity: ACCOUNTING, headers: { "x-mcp-method": "tools/list" } });
    await authorize(rules, json);
    assertEquals(json.auth.authorization, {
      "allow-mcp-method": true,
      "authorized-capabilities": {
        allow: true,
        capabilities: {
          tools: {
            "mcp-ns/arithmetic-mcp-server": ["add", "sum", "multiply", "divide"],
            "mcp-ns/geometry-mcp-server": ["area", "distance", "volume"],
          },
        },
      },
    });
    // tools/call is not among the allowed methods of this policy.
    const err = await denial(rules, call("mcp-ns/arithmetic-mcp-server", "add"));
    assertEquals([err.rule, err.reason], ["allow-mcp-method", "Unauthorized"]);
  } finally {
    await pool.close();
  }
});

Deno.test("opa: without allValues only allow is bound; allow false is Unauthorized; v1 syntax by version", async () => {
  const pool = new OpaPool({ opaPath: requireOpa() });
  try {
    const rules = compileAll({
      v0: { opa: { rego: 'allow { input.request.method == "POST" }\nextra = 1' } },
      v1: {
        opa: { rego: "package ignored\nallow if input.auth.identity.admin\n", version: "v1" },
        priority: 1,
      },
    }, { opa: pool });
    const json = requestJson({ identity: { admin: true } });
    await authorize(rules, json);
    assertEquals(json.auth.authorization, { v0: { allow: true }, v1: { allow: true } });
    const err = await denial(rules, requestJson({ identity: { admin: false } }));
    assertEquals([err.rule, err.reason], ["v1", "Unauthorized"]);
  } finally {
    await pool.close();
  }
});

Deno.test("opa: rego OPA refuses is reported by ready() and denies every request", async () => {
  const rule = compileAuthorization("broken", { opa: { rego: "allow { input.x ==" } }, {
    opaPath: requireOpa(),
  });
  assert(!("reason" in rule));
  try {
    const err = await assertRejects(() => rule.ready());
    assert(/rego_parse_error/.test(err.message), err.message);
    const denied = await denial([rule], requestJson());
    assertEquals(denied.rule, "broken");
  } finally {
    await rule.close();
  }
});

Deno.test("opa, spicedb, SubjectAccessReview: unsupported here with a reason, never silently allowed", () => {
  const noOpa = compileAuthorization("r", { opa: { rego: "allow = true" } }, { opaPath: "/nonexistent/opa" });
  assertEquals(noOpa, {
    path: "rules.authorization.r",
    reason: "the opa binary /nonexistent/opa does not exist, so the rego cannot be evaluated",
  });
  const external = compileAuthorization("e", { opa: { externalPolicy: { url: "http://x" } } }) as Unsupported;
  assert(/external registry/.test(external.reason));
  const spicedb = compileAuthorization("s", { spicedb: { endpoint: "spicedb:50051" } }) as Unsupported;
  assert(/SpiceDB/.test(spicedb.reason));
  const sar = compileAuthorization("k", {
    kubernetesSubjectAccessReview: { user: { value: "x" } },
  }) as Unsupported;
  assert(/API server/.test(sar.reason));
});

Deno.test("patternMatching: selector patterns, patternRef, all/any nesting and when, as Authorino builds them", async () => {
  const patterns = {
    "admin-path": { allOf: [{ selector: "request.url_path", operator: "matches", value: "^/admin" }] },
  };
  const rules = compileAll({
    nested: {
      patternMatching: {
        patterns: [
          { selector: "auth.identity.groups", operator: "incl", value: "staff" },
          {
            any: [
              { patternRef: "admin-path" },
              {
                all: [{ predicate: "request.method == 'GET'" }, {
                  selector: "auth.identity.name",
                  operator: "neq",
                  value: "eve",
                }],
              },
            ],
          },
        ],
      },
    },
    "only-post": {
      when: [{ selector: "request.method", operator: "eq", value: "POST" }],
      patternMatching: {
        patterns: [{ selector: "auth.identity.groups", operator: "excl", value: "readonly" }],
      },
    },
  }, { patterns });
  const id = (name: string, groups: string[]) => ({ name, groups });
  await authorize(rules, requestJson({ method: "POST", path: "/admin/x", identity: id("bob", ["staff"]) }));
  await authorize(
    rules,
    requestJson({ method: "GET", path: "/mcp", identity: id("bob", ["staff", "readonly"]) }),
  );
  assertEquals(
    (await denial(rules, requestJson({ method: "GET", path: "/mcp", identity: id("eve", ["staff"]) }))).rule,
    "nested",
  );
  assertEquals(
    (await denial(rules, requestJson({ method: "POST", path: "/admin", identity: id("bob", []) }))).rule,
    "nested",
  );
  const ro = await denial(
    rules,
    requestJson({ method: "POST", path: "/admin", identity: id("bob", ["staff", "readonly"]) }),
  );
  assertEquals(ro.rule, "only-post");
});

Deno.test("patternMatching: a predicate that fails at run time denies with the CEL error; a failing when skips", async () => {
  const rules = compileAll({
    strict: { patternMatching: { patterns: [{ predicate: "request.headers['x-missing'] == 'a'" }] } },
    guarded: {
      when: [{ predicate: "request.headers['x-missing'] == 'a'" }],
      patternMatching: { patterns: [{ predicate: "false" }] },
    },
  });
  const err = await denial(rules, requestJson());
  assertEquals(err.rule, "strict");
  assert(/x-missing/.test(err.reason), err.reason);
  const guardedOnly = rules.filter((r) => r.name === "guarded");
  const json = requestJson();
  await authorize(guardedOnly, json);
  assertEquals(json.auth.authorization, {});
});

Deno.test("priorities: a lower group runs first and its results are visible to the next; a denial stops later groups", async () => {
  const rules = compileAll({
    second: {
      priority: 1,
      patternMatching: { patterns: [{ predicate: "auth.authorization.first == true" }] },
    },
    first: { patternMatching: { patterns: [{ predicate: "true" }] } },
    third: { priority: 2, patternMatching: { patterns: [{ predicate: "request.method == 'POST'" }] } },
  });
  const json = requestJson();
  await authorize(rules, json);
  assertEquals(json.auth.authorization, { first: true, second: true, third: true });
  const get = requestJson({ method: "GET" });
  assertEquals((await denial(rules, get)).rule, "third");
});

Deno.test("closeAuthorization: an opa rule's own process is stopped", async () => {
  const rule = compileAuthorization("own", { opa: { rego: "allow = true" } }, { opaPath: requireOpa() });
  assert(!("reason" in rule));
  await authorize([rule], requestJson());
  await closeAuthorization([rule]);
  await assertRejects(() => authorize([rule], requestJson()), AuthorizationDenied);
});
