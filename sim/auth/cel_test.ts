import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../test/helpers/assert.ts";
import { compileCel, evaluateExpression, evaluatePredicate, locateSyntaxError } from "./cel.ts";
import { buildAuthorizationJson } from "./authorization_json.ts";
import { AuthEvalError, type AuthorizationJson, CelCompileError } from "./types.ts";

// Upstream's guides (mcp-gateway v0.9.0 docs/guides) and samples, as written.
const WELL_KNOWN = "!request.path.contains('/.well-known')";
const HAS_TOOL = "request.headers.exists(h, h == 'x-mcp-toolname')";
const TOOL_ROLES =
  `('tool:' + request.headers['x-mcp-toolname']) in (has(auth.identity.resource_access) && ` +
  `auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? ` +
  `auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])\n`;
const PROMPT_ROLES =
  `('prompt:' + request.headers['x-mcp-promptname']) in (has(auth.identity.resource_access) && ` +
  `auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? ` +
  `auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])\n`;
const ALLOW_METHOD = `!request.headers.exists(h, h == 'x-mcp-method') || ` +
  `(request.headers['x-mcp-method'] in ["tools/list","initialize","notifications/initialized"])\n`;
const VAULT = "!has(auth.metadata.vault.data) || !has(auth.metadata.vault.data.data) || " +
  "!has(auth.metadata.vault.data.data.token) || type(auth.metadata.vault.data.data.token) != string";
const AUDIENCE =
  "type(auth.identity.aud) != string || auth.identity.aud != request.headers['x-mcp-servername']";

function input(
  path: string,
  headers: Record<string, string>,
  identity?: unknown,
  metadata: Record<string, unknown> = {},
): AuthorizationJson {
  const request = new Request(`http://mcp.127-0-0-1.sslip.io:8001${path}`, { method: "POST", headers });
  const json = buildAuthorizationJson({
    request,
    headers: request.headers,
    source: { address: "127.0.0.1", port: 40000 },
    destination: { address: "127.0.0.1", port: 8001 },
  });
  if (identity !== undefined) json.auth.identity = identity;
  json.auth.metadata = metadata;
  return json;
}

const alice = {
  sub: "alice",
  aud: "account",
  resource_access: {
    "mcp-test/weather": { roles: ["tool:forecast", "prompt:daily"] },
    account: { roles: ["view-profile"] },
  },
};

function holds(source: string, json: AuthorizationJson): boolean {
  return evaluatePredicate(compileCel(source), json);
}

Deno.test("cel: the guides' top-level when skips the OAuth metadata paths", () => {
  assertEquals(holds(WELL_KNOWN, input("/mcp", {})), true);
  assertEquals(holds(WELL_KNOWN, input("/.well-known/oauth-protected-resource/mcp", {})), false);
});

Deno.test("cel: authorization guide: a tool call is allowed by the role tool:<name> on its server only", () => {
  const call = (tool: string, server: string) =>
    input(
      "/mcp",
      { "x-mcp-method": "tools/call", "x-mcp-toolname": tool, "x-mcp-servername": server },
      alice,
    );
  assertEquals(holds(HAS_TOOL, call("forecast", "mcp-test/weather")), true);
  assertEquals(holds(TOOL_ROLES, call("forecast", "mcp-test/weather")), true);
  assertEquals(holds(TOOL_ROLES, call("alerts", "mcp-test/weather")), false);
  // The role exists, but for another server.
  assertEquals(holds(TOOL_ROLES, call("forecast", "mcp-test/other")), false);
  // No resource_access claim at all: the empty list, not an error.
  assertEquals(
    holds(
      TOOL_ROLES,
      input("/mcp", { "x-mcp-toolname": "forecast", "x-mcp-servername": "mcp-test/weather" }, { sub: "bob" }),
    ),
    false,
  );
  const prompt = input(
    "/mcp",
    { "x-mcp-promptname": "daily", "x-mcp-servername": "mcp-test/weather" },
    alice,
  );
  assertEquals(holds("request.headers.exists(h, h == 'x-mcp-promptname')", prompt), true);
  assertEquals(holds(HAS_TOOL, prompt), false);
  assertEquals(holds(PROMPT_ROLES, prompt), true);
});

Deno.test("cel: user-based-tool-filter guide: only list and initialize methods pass", () => {
  for (const method of ["tools/list", "initialize", "notifications/initialized"]) {
    assertEquals(holds(ALLOW_METHOD, input("/mcp", { "x-mcp-method": method }, alice)), true, method);
  }
  assertEquals(holds(ALLOW_METHOD, input("/mcp", { "x-mcp-method": "tools/call" }, alice)), false);
  // No x-mcp-method header (a GET of the SSE stream): the first alternative holds.
  assertEquals(holds(ALLOW_METHOD, input("/mcp", {}, alice)), true);
});

Deno.test("cel: a missing header is a runtime error naming the key, as cel-go on Authorino's Struct", () => {
  const json = input("/mcp", { "x-mcp-method": "tools/call" }, alice);
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
  const withToken = input("/mcp", { "x-mcp-servername": "account" }, alice, {
    vault: { data: { data: { token: "t" } } },
  });
  assertEquals(holds(VAULT, withToken), false);
  assertEquals(holds(VAULT, input("/mcp", {}, alice, { vault: { data: {} } })), true);
  assertEquals(holds(AUDIENCE, withToken), false);
  assertEquals(
    holds(AUDIENCE, input("/mcp", { "x-mcp-servername": "x" }, { ...alice, aud: ["a", "b"] })),
    true,
  );
  // Authorino omits empty maps: with no metadata at all, `auth.metadata` does not exist.
  assertThrows(() => holds(VAULT, input("/mcp", {}, alice)), AuthEvalError, "no such key: metadata");
});

Deno.test("cel: standard and strings-extension functions over the request", () => {
  const json = input("/mcp/Tools?x=1", { "X-Custom": "Hello World" }, { sub: "a", n: 3, groups: ["a", "b"] });
  assertEquals(holds("request.url_path.lowerAscii() == '/mcp/tools'", json), true);
  assertEquals(holds("request.query == 'x=1' && request.path.endsWith('?x=1')", json), true);
  assertEquals(
    holds("request.headers['x-custom'].startsWith('Hello') && size(request.headers['x-custom']) == 11", json),
    true,
  );
  assertEquals(holds("request.headers['x-custom'].matches('^[A-Z][a-z]+ W')", json), true);
  assertEquals(holds("request.headers['x-custom'].split(' ')[1] == 'World'", json), true);
  assertEquals(holds("auth.identity.n == 3 && auth.identity.n > 2.5", json), true);
  assertEquals(
    holds("auth.identity.groups.all(g, g.size() == 1) && 'b' in auth.identity.groups", json),
    true,
  );
  assertEquals(holds("auth.identity.groups.exists_one(g, g == 'a')", json), true);
  assertEquals(
    holds("request.method == 'POST' && source.address == '127.0.0.1' && destination.port == 8001", json),
    true,
  );
  assertEquals(holds("request.headers[':authority'] == 'mcp.127-0-0-1.sslip.io:8001'", json), true);
});

Deno.test("cel: expressions return JSON values", () => {
  const json = input("/a/b", { "x-a": "1" }, { sub: "alice", groups: ["x", "y"] });
  const value = (src: string) => evaluateExpression(compileCel(src, { kind: "expression" }), json);
  assertEquals(value("auth.identity.sub"), "alice");
  assertEquals(value("request.url_path.split('/')"), ["", "a", "b"]);
  assertEquals(value("size(auth.identity.groups)"), 2);
  assertEquals(value("{'user': auth.identity.sub, 'n': [1, 2u, 3.5]}"), { user: "alice", n: [1, 2, 3.5] });
  assertEquals(value("auth.identity"), { sub: "alice", groups: ["x", "y"] });
  assertEquals(value("auth.identity.groups.map(g, g.upperAscii())"), ["X", "Y"]);
});

Deno.test("cel: a predicate that is not boolean: at compile time when known, at run time otherwise", () => {
  const err = assertThrows(() => compileCel("request.path + 'x'"), CelCompileError, "must be boolean");
  assertEquals(err.code, "cel_compile");
  assertThrows(() => compileCel("size(request.path)"), CelCompileError, "of type int");
  assertThrows(() => compileCel("[1]"), CelCompileError, "of type list");
  // Dynamic: compiles, fails when it gives a string.
  const p = compileCel("request.path");
  assertThrows(
    () => evaluatePredicate(p, input("/mcp", {})),
    AuthEvalError,
    `gave the string "/mcp", not a boolean`,
  );
  // An expression may be anything.
  assertEquals(compileCel("request.path + 'x'", { kind: "expression" }).source, "request.path + 'x'");
});

Deno.test("cel: compile errors carry the 1-based position of the problem", () => {
  const cases: [string, string, number, number][] = [
    ["request.path ==", "ends after '=='", 1, 14],
    ["request.headers.exists(h,\n  h == 'x-mcp-method'", "'(' is never closed", 1, 23],
    ["request.path == 'x", "unterminated string literal", 1, 17],
    ["request.path = '/mcp'", "did you mean '=='", 1, 14],
    ["request.path == '/mcp')", "unmatched ')'", 1, 23],
    ["request.path == '/mcp' &&\n  foo.bar", "Undeclared reference to 'foo'", 2, 3],
    ["request.path.nosuch()", "Undeclared reference to method 'nosuch'", 1, 14],
    ["1 + 'a' == 'b'", "no matching overload for '+' applied to '(int, string)'", 1, 3],
    [
      "request.path.matches('(a')",
      "Invalid regular expression: error parsing regexp: missing closing )",
      1,
      22,
    ],
    ["request.headers[?'x']", "expected an operand before '?'", 1, 17],
    ["request.path $ 'x'", "unexpected character '$'", 1, 14],
    ["'a'.size(1)", "No method 'size' takes 1 argument", 1, 5],
    ["if request.path", "'if' is a reserved word", 1, 1],
    ["'ab'.startsWith(1)", "no matching overload for 'startsWith'", 1, 6],
    ["!1", "no matching overload for '!'", 1, 1],
    ["'x'.exists(c, true)", "cannot be the range of a comprehension", 1, 1],
  ];
  for (const [source, text, line, column] of cases) {
    const err = assertThrows(() => compileCel(source), CelCompileError, text);
    assertEquals(err.position, { line, column }, `${source}: ${err.message}`);
    assertEquals(err.source, source);
    assert(/^[A-Z]/.test(err.message), err.message);
  }
  assertThrows(() => compileCel("   "), CelCompileError, "empty");
});

Deno.test("cel: the syntax scan accepts what CEL accepts", () => {
  for (
    const ok of [
      "f()",
      "[]",
      "{}",
      "[1, 2,]",
      "{'a': 1,}",
      "a.b(c)[0].d",
      "-1 - -2",
      "!!true",
      "x ? y : z",
      "r'\\d' == '''a'b'''",
      "b'abc'",
      "1.5e3 + .5 + 0x1F + 3u",
      "a // comment\n && b",
      "a.exists(x, x in [1, 2])",
      "google.protobuf.Timestamp{seconds: 1}",
    ]
  ) {
    assertEquals(locateSyntaxError(ok), undefined, ok);
  }
});

Deno.test("cel: evaluation is per request and reads the JSON in place", () => {
  const p = compileCel(TOOL_ROLES);
  const json = input("/mcp", { "x-mcp-toolname": "forecast", "x-mcp-servername": "mcp-test/weather" }, alice);
  assertEquals(evaluatePredicate(p, json), true);
  // The pipeline fills `auth` as it goes; a later evaluation sees the new identity.
  json.auth.identity = { sub: "bob", resource_access: { "mcp-test/weather": { roles: ["tool:other"] } } };
  assertEquals(evaluatePredicate(p, json), false);
  // A typical predicate costs microseconds: on this 2-core machine ~0.5 µs for WELL_KNOWN, ~2 µs for
  // ALLOW_METHOD and ~5 µs for TOOL_ROLES per evaluation once warm (not asserted: no timed tests).
});
