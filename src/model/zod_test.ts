import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { MCPGatewayExtensionModel, MCPServerRegistrationModel, MCPVirtualServerModel } from "./zod.ts";

Deno.test("zod model accepts a valid registration and types it", () => {
  const parsed = MCPServerRegistrationModel.parse({
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { name: "a" },
    spec: { prefix: "gh_", targetRef: { name: "route" }, category: ["code"] },
  });
  assertEquals(parsed.spec?.targetRef.name, "route");
});

Deno.test("zod model rejects unknown fields, bad enums, patterns and limits", () => {
  const base = { apiVersion: "mcp.kuadrant.io/v1", kind: "MCPServerRegistration", metadata: {} };
  const bad = (spec: unknown) => !MCPServerRegistrationModel.safeParse({ ...base, spec }).success;
  assert(bad({ targetRef: { name: "r" }, foo: 1 }));
  assert(bad({ targetRef: { name: "r" }, state: "On" }));
  assert(bad({ targetRef: { name: "r" }, prefix: "Bad" }));
  assert(bad({ targetRef: { name: "r" }, category: ["a", "b", "c", "d"] }));
  assert(bad({}));
  assert(!MCPVirtualServerModel.safeParse({ spec: { tools: [] } }).success);
  assert(!MCPGatewayExtensionModel.safeParse({ metadata: {} }).success, "spec is required");
});
