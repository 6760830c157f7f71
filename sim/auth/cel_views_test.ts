import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../test/helpers/assert.ts";
import { requestJson } from "../../test/helpers/auth_guides.ts";
import { compileCel, evaluatePredicate } from "./cel.ts";
import { celBindings, toCelValue } from "./cel_views.ts";
import { AuthEvalError, type AuthorizationJson } from "./types.ts";

const alice = {
  sub: "alice",
  aud: "account",
  resource_access: { "mcp-test/weather": { roles: ["tool:forecast"] } },
};

function input(headers: Record<string, string>, identity?: unknown, metadata = {}): AuthorizationJson {
  const json = requestJson({ headers, identity });
  json.auth.metadata = metadata;
  return json;
}

function holds(source: string, json: AuthorizationJson): boolean {
  return evaluatePredicate(compileCel(source), json);
}

// What `@bufbuild/cel` asks of a map or a list, on the views directly.
type MapView = { size: number; get(k: unknown): unknown; has(k: unknown): boolean; keys(): Iterable<string> };
type ListView = { size: number; get(i: number): unknown; [Symbol.iterator](): Iterator<unknown> };

Deno.test("cel views: objects are maps and arrays lists to @bufbuild/cel, read in place", () => {
  const o: Record<string, unknown> = { a: 1, gone: undefined, list: ["x", { y: 2 }] };
  const map = toCelValue(o) as unknown as MapView;
  assert(Symbol.for("@bufbuild/cel/map") in (map as object));
  // A key whose value is undefined is absent, as it is once Go marshals the JSON.
  assertEquals([map.size, map.has("a"), map.has("gone"), map.get("gone")], [2, true, false, undefined]);
  assertEquals([...map.keys()], ["a", "list"]);
  assertEquals(map.get(1), undefined);
  o.b = "late";
  assertEquals(map.get("b"), "late");
  const list = toCelValue(o.list) as unknown as ListView;
  assert(Symbol.for("@bufbuild/cel/list") in (list as object));
  assertEquals([list.size, list.get(0), list.get(2), list.get(-1)], [2, "x", undefined, undefined]);
  assert(Symbol.for("@bufbuild/cel/map") in (list.get(1) as object));
  assertEquals([toCelValue(undefined), toCelValue("s"), toCelValue(null)], [null, "s", null]);
});

Deno.test("cel views: the bindings omit the empty maps under auth, as Authorino's omitempty", () => {
  const json = input({}, alice);
  const auth = celBindings(json).auth as unknown as MapView;
  assertEquals([...auth.keys()], ["identity"]);
  json.auth.metadata = { vault: {} };
  assertEquals([...(celBindings(json).auth as unknown as MapView).keys()], ["identity", "metadata"]);
  assertEquals(Object.keys(celBindings(json)), ["request", "source", "destination", "auth", "metadata"]);
});

Deno.test("cel: a missing header is a runtime error naming the key, as cel-go on Authorino's Struct", () => {
  const json = input({ "x-mcp-method": "tools/call" }, alice);
  const err = assertThrows(
    () => holds("request.headers['x-mcp-toolname'] in ['forecast']", json),
    AuthEvalError,
  );
  assertEquals(err.code, "cel_runtime");
  assertStringIncludes(err.message, "no such key: x-mcp-toolname");
  assertStringIncludes(err.message, "request.headers['x-mcp-toolname'] in ['forecast']");
  // The guards upstream writes avoid it.
  assertEquals(holds("'x-mcp-toolname' in request.headers", json), false);
  assertEquals(holds("has(request.headers.accept)", json), false);
  assertEquals(holds("has(request.headers.authorization) || true", json), true);
});

Deno.test("cel: token-exchange sample predicates: has() chains and type() checks", () => {
  const VAULT = "!has(auth.metadata.vault.data) || !has(auth.metadata.vault.data.data) || " +
    "!has(auth.metadata.vault.data.data.token) || type(auth.metadata.vault.data.data.token) != string";
  const AUDIENCE =
    "type(auth.identity.aud) != string || auth.identity.aud != request.headers['x-mcp-servername']";
  const withToken = input({ "x-mcp-servername": "account" }, alice, {
    vault: { data: { data: { token: "t" } } },
  });
  assertEquals(holds(VAULT, withToken), false);
  assertEquals(holds(VAULT, input({}, alice, { vault: { data: {} } })), true);
  assertEquals(holds(AUDIENCE, withToken), false);
  assertEquals(holds(AUDIENCE, input({ "x-mcp-servername": "x" }, { ...alice, aud: ["a", "b"] })), true);
  // Authorino omits empty maps: with no metadata at all, `auth.metadata` does not exist.
  assertThrows(() => holds(VAULT, input({}, alice)), AuthEvalError, "no such key: metadata");
});

Deno.test("cel: evaluation is per request and reads the JSON in place", () => {
  const TOOL_ROLES =
    `('tool:' + request.headers['x-mcp-toolname']) in (has(auth.identity.resource_access) && ` +
    `auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? ` +
    `auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])\n`;
  const p = compileCel(TOOL_ROLES);
  const json = input({ "x-mcp-toolname": "forecast", "x-mcp-servername": "mcp-test/weather" }, alice);
  assertEquals(evaluatePredicate(p, json), true);
  // The pipeline fills `auth` as it goes; a later evaluation sees the new identity.
  json.auth.identity = { sub: "bob", resource_access: { "mcp-test/weather": { roles: ["tool:other"] } } };
  assertEquals(evaluatePredicate(p, json), false);
});
