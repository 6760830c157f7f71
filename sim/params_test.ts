// @ts-types="@modelcontextprotocol/sdk/types"
import { CallToolRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { assert, assertEquals } from "../test/helpers/assert.ts";
import { checkParams, MAX_PARAMS_MESSAGE } from "./params.ts";

const req = (method: string, params?: unknown) =>
  ({ jsonrpc: "2.0", id: 1, method, ...(params !== undefined ? { params } : {}) }) as never;

Deno.test("params: valid requests and unknown methods pass", () => {
  assertEquals(
    checkParams(req("tools/call", { name: "w_forecast", arguments: { city: "Oslo" } })),
    undefined,
  );
  assertEquals(checkParams(req("tools/list")), undefined);
  assertEquals(checkParams(req("resources/read", { uri: "mcp+w:file:///a" })), undefined);
  assertEquals(checkParams(req("vendor/extension", { anything: [1, 2] })), undefined);
  // Notifications and responses are not requests.
  assertEquals(checkParams({ jsonrpc: "2.0", method: "tools/call", params: {} } as never), undefined);
});

Deno.test("params: a missing or mistyped field is one short sentence naming the method and the path", () => {
  assertEquals(
    checkParams(req("tools/call", {})),
    "Invalid params for tools/call: params.name: expected string, received undefined.",
  );
  assertEquals(
    checkParams(req("tools/call", { name: 5 })),
    "Invalid params for tools/call: params.name: expected string, received number.",
  );
  assertEquals(
    checkParams(req("resources/read", { uri: 7 })),
    "Invalid params for resources/read: params.uri: expected string, received number.",
  );
  const level = checkParams(req("logging/setLevel", { level: "loud" }))!;
  assert(level.startsWith("Invalid params for logging/setLevel: params.level: "), level);
  assert(level.length <= MAX_PARAMS_MESSAGE, `${level.length} characters`);
  assert(!level.includes("\n"), level);
});

Deno.test("params: a huge hostile value does not make the message large", () => {
  const msg = checkParams(req("tools/call", { name: { ["x".repeat(100_000)]: 1 } }))!;
  assert(msg.length <= MAX_PARAMS_MESSAGE, `${msg.length} characters`);
});

Deno.test("params: tools/call agrees with the SDK's schema on every shape, the ones checked without it too", () => {
  const shapes: unknown[] = [
    { name: "t" },
    { name: "t", arguments: {} },
    { name: "t", arguments: { a: [1, { b: null }] } },
    { name: "t", arguments: JSON.parse('{"__proto__": 1}') },
    { name: "t", extra: true },
    { name: "t", arguments: null },
    { name: "t", arguments: [] },
    { name: "t", arguments: "x" },
    { name: "t", arguments: new Date(0) },
    { name: "t", _meta: { progressToken: 1 } },
    { name: "t", _meta: { progressToken: true } },
    { name: "t", task: { ttl: 1000 } },
    { name: "t", task: "no" },
    { name: 1 },
    {},
    [],
    null,
  ];
  for (const params of shapes) {
    const schemaOk = CallToolRequestSchema.safeParse({ method: "tools/call", params }).success;
    const ours = checkParams(req("tools/call", params ?? undefined));
    assertEquals(ours === undefined, schemaOk, `params ${JSON.stringify(params)}: ${ours}`);
  }
});
