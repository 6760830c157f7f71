import { assertEquals } from "../../test/helpers/assert.ts";
import { applyDefaults } from "./defaults.ts";
import { arr, obj, str } from "./schema.ts";

Deno.test("applyDefaults fills MCPServerRegistration defaults at every level that exists", () => {
  const out = applyDefaults({
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { name: "a" },
    spec: { targetRef: { name: "r" }, credentialRef: { name: "s" } },
  });
  assertEquals(
    out.spec,
    {
      targetRef: { name: "r", group: "gateway.networking.k8s.io", kind: "HTTPRoute" },
      credentialRef: { name: "s", key: "token" },
      category: ["uncategorised"],
      path: "/mcp",
      state: "Enabled",
      userSpecificList: "Disabled",
    } as typeof out.spec,
  );
});

Deno.test("applyDefaults does not create missing parents", () => {
  const out = applyDefaults({
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: {},
  });
  assertEquals(out, { apiVersion: "mcp.kuadrant.io/v1", kind: "MCPServerRegistration", metadata: {} });
});

Deno.test("applyDefaults replaces nulls with defaults and drops nulls without one", () => {
  const out = applyDefaults({
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPGatewayExtension",
    spec: {
      targetRef: { name: "g", sectionName: "mcp" },
      backendPingIntervalSeconds: null,
      publicHost: null,
    },
  });
  const spec = out.spec as Record<string, unknown>;
  assertEquals(spec.backendPingIntervalSeconds, 60);
  assertEquals("publicHost" in spec, false);
});

Deno.test("applyDefaults defaults array items and inside filled-in defaults", () => {
  const schema = obj({
    list: arr(obj({ a: str({ default: "x" }) })),
    nested: obj({ inner: obj({ b: str({ default: "y" }) }, { default: {} }) }, { default: {} }),
  });
  assertEquals(applyDefaults<Record<string, unknown>>({ list: [{}, { a: "z" }] }, schema), {
    list: [{ a: "x" }, { a: "z" }],
    nested: { inner: { b: "y" } },
  });
});

Deno.test("applyDefaults leaves other kinds alone and does not mutate its input", () => {
  const secret = { apiVersion: "v1", kind: "Secret", data: null };
  assertEquals(applyDefaults(secret), secret);
  const input = { apiVersion: "mcp.kuadrant.io/v1", kind: "MCPVirtualServer", spec: { tools: ["a"] } };
  applyDefaults(input);
  assertEquals(input.spec, { tools: ["a"] });
});
