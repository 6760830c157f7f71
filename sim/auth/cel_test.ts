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
    ["request.headers[?'x']", "optional syntax '[?' is not supported", 1, 16],
    ["1 == 1.0", "no matching overload for '==' applied to '(int, double)'", 1, 3],
    ["'x' in [1, 2]", "no matching overload for 'in' applied to '(string, list(int))'", 1, 5],
    ["true ? 1 : 'a'", "no matching overload for '?:' applied to '(bool, int, string)'", 1, 6],
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

// Recorded from cel-go v0.21.0 (Authorino's) through Authorino's pkg/expressions/cel (NewPredicate,
// NewExpression.ResolveFor) on celGoInput() marshalled as Go marshals it: the value, or which kind of
// error. Not here: optional syntax (`[?'x']`, `.?x`), which the simulator refuses to compile.
const CEL_GO_ANSWERS: ["p" | "e", string, unknown][] = [
  ["p", "!request.path.contains('/.well-known')", true],
  ["p", "request.headers.exists(h, h == 'x-mcp-toolname')", true],
  ["p", "request.headers['x-mcp-missing'] in ['a']", "runtime error"],
  ["p", "request.headers['x-mcp-missing'] == 'a'", "runtime error"],
  [
    "p",
    '!request.headers.exists(h, h == \'x-mcp-method\') || (request.headers[\'x-mcp-method\'] in ["tools/list","initialize","notifications/initialized"])',
    false,
  ],
  [
    "p",
    "('tool:' + request.headers['x-mcp-toolname']) in (has(auth.identity.resource_access) && auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])",
    true,
  ],
  [
    "p",
    "type(auth.identity.aud) != string || auth.identity.aud != request.headers['x-mcp-servername']",
    true,
  ],
  ["p", "!has(auth.metadata.vault.data)", "runtime error"],
  ["p", "auth.metadata.exists(p, p == 'oauth-token')", "runtime error"],
  ["p", "has(auth.identity.sub)", true],
  ["p", "has(auth.identity.nope)", false],
  ["p", "has(auth.nope.x)", "runtime error"],
  ["p", "auth.identity.n == 3", true],
  ["p", "auth.identity.n > 2", true],
  ["p", "auth.identity.n < 3.5", true],
  ["p", "auth.identity.f == 1.5", true],
  ["p", "auth.identity.big > 1600000000", true],
  ["p", "auth.identity.t", true],
  ["p", "auth.identity.nul == null", true],
  ["p", "auth.identity.groups.size() == 2", true],
  ["p", "size(auth.identity.groups) == 2", true],
  ["p", "'a' in auth.identity.groups", true],
  ["p", "auth.identity.groups[0] == 'a'", true],
  ["p", "auth.identity.groups[5] == 'a'", "runtime error"],
  ["p", "auth.identity.nested.k.v == 'x'", true],
  ["p", "auth.identity.nested['k']['v'] == 'x'", true],
  ["p", "request.url_path == '/mcp/x' && request.query == 'a=1'", true],
  ["p", "request.method == 'POST' && request.scheme == 'http'", true],
  ["p", "request.host == 'mcp.example.com:8001'", true],
  ["p", "request.headers[':authority'] == 'mcp.example.com:8001'", true],
  ["p", "source.address == '10.0.0.1' && source.port == 4000", true],
  ["p", "destination.port == 8001", true],
  ["p", "request.time.seconds == 1700000000", true],
  ["p", "request.id == 'rid'", true],
  ["p", "request.body == ''", "runtime error"],
  ["p", "auth.authorization['rule-a'].allow", true],
  [
    "p",
    "auth.identity.sub.startsWith('al') && auth.identity.sub.endsWith('ce') && auth.identity.sub.contains('lic')",
    true,
  ],
  ["p", "auth.identity.sub.matches('^a.*e$')", true],
  ["p", "auth.identity.sub.upperAscii() == 'ALICE'", true],
  ["p", "auth.identity.sub.lowerAscii() == 'alice'", true],
  ["p", "auth.identity.sub.charAt(0) == 'a'", true],
  ["p", "auth.identity.sub.indexOf('i') == 2", true],
  ["p", "auth.identity.sub.replace('a', 'A') == 'Alice'", true],
  ["p", "auth.identity.sub.split('i').size() == 2", true],
  ["p", "auth.identity.sub.substring(1, 3) == 'li'", true],
  ["p", "'  x '.trim() == 'x'", true],
  ["p", "auth.identity.groups.join(',') == 'a,b'", true],
  ["p", "request.path", "runtime error"],
  ["p", "1", "compile error"],
  ["p", "'x'", "compile error"],
  ["p", "foo == 1", "compile error"],
  ["p", "request.path.nosuch()", "compile error"],
  ["p", "1 + 'a' == 'b'", "compile error"],
  ["p", "request.path ==", "compile error"],
  ["p", "request.path = 'x'", "compile error"],
  ["p", "auth.identity.groups.all(g, g.size() == 1)", true],
  ["p", "auth.identity.groups.exists_one(g, g == 'a')", true],
  ["p", "auth.identity.groups.map(g, g + '!')[0] == 'a!'", true],
  ["p", "auth.identity.groups.filter(g, g == 'b').size() == 1", true],
  ["p", "int(auth.identity.n) == 3", true],
  ["p", "string(auth.identity.n) == '3'", true],
  ["p", "double(auth.identity.n) == 3.0", true],
  ["p", "auth.identity.n + 1 == 4", "runtime error"],
  ["p", "auth.identity.n + 1.0 == 4.0", true],
  ["p", "auth.identity.groups + ['c'] == ['a', 'b', 'c']", true],
  ["p", "dyn(1) == 1.0", true],
  ["p", "1 == 1.0", "compile error"],
  ["p", "1u == 1", "compile error"],
  ["p", "request.path.size() > 0", true],
  ["p", "timestamp('2024-01-01T00:00:00Z') < timestamp('2025-01-01T00:00:00Z')", true],
  ["p", "duration('1h') > duration('1m')", true],
  ["p", "request.headers.size() > 3", true],
  ["p", "'x-mcp-method' in request.headers", true],
  ["p", "request.headers.all(k, k.lowerAscii() == k)", true],
  ["p", "{'a': 1}.a == 1", true],
  ["p", "[1, 2, 3].exists(x, x == 2)", true],
  ["p", "auth.identity.groups == ['a', 'b']", true],
  ["p", "auth.identity.nested == {'k': {'v': 'x'}}", true],
  ["p", "true ? 1 : 'a'", "compile error"],
  ["p", "auth.identity.sub.format([]) == 'alice'", true],
  ["p", "'%s-%d'.format(['a', 1]) == 'a-1'", true],
  ["p", "strings.quote('a') == '\"a\"'", true],
  ["p", "auth.identity.sub.reverse() == 'ecila'", true],
  ["p", "auth.identity.sub.lastIndexOf('e') == 4", true],
  ["p", "request.path.matches('[')", "runtime error"],
  ["p", "math.greatest(1, 2) == 2", "compile error"],
  ["p", "base64.encode(b'a') == 'YQ=='", "compile error"],
  ["p", "1 < 1.5", "compile error"],
  ["p", "'a' == null", "compile error"],
  ["p", "[1, 'a'].size() == 2", true],
  ["p", "{'a': 1, 'b': 'x'}.size() == 2", true],
  ["p", "null == null", true],
  ["p", "auth.identity.sub == null", false],
  ["p", "[1] == [1.0]", "compile error"],
  ["p", "1 in [1.0]", "compile error"],
  ["p", "1 in ['a']", "compile error"],
  ["p", "'a' + 1 == 'a1'", "compile error"],
  ["p", "!auth.identity.n", "runtime error"],
  ["p", "size(1)", "compile error"],
  ["p", "1.0 == 1u", "compile error"],
  ["p", "request.path > 1", "runtime error"],
  ["p", "-auth.identity.sub == 1", "runtime error"],
  ["p", "1 / 0 == 1", "runtime error"],
  ["p", "auth.identity.n / 0.0 > 1.0", true],
  ["p", "int('x') == 1", "runtime error"],
  ["p", "request.headers.x_y == 1", "runtime error"],
  ["p", "has(request.path)", true],
  ["p", "has(request.path.x)", false],
  ["p", "[1, 2].map(x, x * 2) == [2, 4]", true],
  ["p", "{'a': [1]}['a'][0] == 1", true],
  ["p", "{'a': 1}['b'] == 1", "runtime error"],
  ["p", "[[1], [2]][1][0] == 2", true],
  ["p", "[1, 2][0] == 'a'", "compile error"],
  ["p", "{'a': 1}.a == 'x'", "compile error"],
  ["p", "[1, 2].exists(x, x == 'a')", "compile error"],
  ["p", "{1: 'a'}[1] == 'a'", true],
  ["p", "{1: 'a'}['x'] == 'a'", "compile error"],
  ["p", "request.headers.exists(h, h.startsWith('x-mcp-'))", true],
  ["p", "request.headers.filter(h, h.startsWith('x-mcp-')).size() == 3", true],
  ["p", "auth.identity.groups.exists(g, g in ['b', 'c'])", true],
  ["p", "'a'.matches('a(?=b)')", "runtime error"],
  ["p", "request.path.contains(1)", "compile error"],
  ["p", "has(request.headers['x'])", "compile error"],
  ["p", "request.headers['x-mcp-toolname'].size() == 8", true],
  ["e", "auth.identity.sub", "alice"],
  ["e", "auth.identity.groups", ["a", "b"]],
  ["e", "request.url_path.split('/')", ["", "mcp", "x"]],
  ["e", "{'user': auth.identity.sub, 'n': [1, 2u, 3.5]}", { "n": [1, 2, 3.5], "user": "alice" }],
  ["e", "size(auth.identity.groups)", 2],
  ["e", "auth.identity.n", 3],
  [
    "e",
    "request.headers['x-mcp-toolname'] + '@' + request.headers['x-mcp-servername']",
    "forecast@mcp-test/weather",
  ],
  ["e", "request.time", { "seconds": 1700000000 }],
  ["e", "null", null],
  ["e", "auth.identity.groups.map(g, g.upperAscii())", ["A", "B"]],
  ["e", "duration('1h')", "3600s"],
  ["e", "duration('1.5s')", "1.5s"],
  ["e", "timestamp('2024-01-01T00:00:00.5Z')", "2024-01-01T00:00:00.5Z"],
  ["e", "timestamp('2024-01-01T00:00:00Z')", "2024-01-01T00:00:00Z"],
  ["e", "b'abc'", "YWJj"],
];

function celGoInput(): AuthorizationJson {
  const request = new Request("http://mcp.example.com:8001/mcp/x?a=1", {
    method: "POST",
    headers: {
      "x-mcp-method": "tools/call",
      "x-mcp-toolname": "forecast",
      "x-mcp-servername": "mcp-test/weather",
      "x-request-id": "rid",
      authorization: "Bearer t",
    },
  });
  const json = buildAuthorizationJson({
    request,
    headers: request.headers,
    source: { address: "10.0.0.1", port: 4000 },
    destination: { address: "127.0.0.1", port: 8001 },
  }, { now: new Date(1_700_000_000_000) });
  json.auth.identity = {
    sub: "alice",
    aud: "account",
    n: 3,
    f: 1.5,
    big: 1700000000,
    t: true,
    nul: null,
    groups: ["a", "b"],
    resource_access: { "mcp-test/weather": { roles: ["tool:forecast"] } },
    nested: { k: { v: "x" } },
  };
  json.auth.authorization = { "rule-a": { allow: true } };
  return json;
}

Deno.test("cel: every case gives cel-go's answer (value, compile error or runtime error)", () => {
  const json = celGoInput();
  for (const [kind, source, expected] of CEL_GO_ANSWERS) {
    let outcome: unknown;
    try {
      const program = compileCel(source, { kind: kind === "p" ? "predicate" : "expression" });
      try {
        outcome = kind === "p" ? evaluatePredicate(program, json) : evaluateExpression(program, json);
      } catch (e) {
        assert(e instanceof AuthEvalError, `${source}: ${e}`);
        outcome = "runtime error";
      }
    } catch (e) {
      assert(e instanceof CelCompileError, `${source}: ${e}`);
      outcome = "compile error";
    }
    assertEquals(outcome, expected, source);
  }
});

Deno.test("cel: a bad literal pattern compiles with a warning and fails each evaluation, as in cel-go", () => {
  const p = compileCel("request.path.matches('(a')");
  assertEquals(p.warnings.length, 1);
  assertStringIncludes(
    p.warnings[0].message,
    "Invalid regular expression at line 1, column 22: error parsing regexp",
  );
  assertEquals(p.warnings[0].position, { line: 1, column: 22 });
  assertThrows(() => evaluatePredicate(p, input("/mcp", {})), AuthEvalError, "missing closing )");
  assertEquals(compileCel("request.path.matches('^/m')").warnings, []);
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
  // Compiled once: the same source gives the same program.
  assert(compileCel(TOOL_ROLES) === p);
  assert(compileCel(TOOL_ROLES, { kind: "expression" }) !== p);
  // Cost (measured with a throwaway loop, not asserted: no timed tests), on the shared 2-core machine
  // at load average ~8, per evaluation on a fresh authorization JSON: WELL_KNOWN 0.5-1 µs, HAS_TOOL ~1 µs
  // (run as `'x-mcp-toolname' in request.headers`), ALLOW_METHOD and TOOL_ROLES 2-7 µs; the authorization
  // guide's three predicates together under 10 µs, plus 5-15 µs to build the JSON of the request.
});
