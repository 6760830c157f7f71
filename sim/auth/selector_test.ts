import { assert, assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { compilePattern, goJson, matchPattern, PatternError, select, selectString } from "./selector.ts";

// The answers of github.com/tidwall/gjson v1.14.0 (Authorino's version) with Authorino's modifiers
// (pkg/json init), recorded from a Go program fed `goJson(DOC)` and these paths; `undefined` where
// GJSON's result does not exist. The examples of Authorino's docs/features.md and GJSON's SYNTAX.md.
const GJSON_ANSWERS: [string, string | undefined][] = [
  ["auth.identity.username", "jane"],
  ["auth.identity.nope", undefined],
  ["auth.identity.n", "3"],
  ["auth.identity.f", "1.5"],
  ["auth.identity.t", "true"],
  ["auth.identity.nul", ""],
  ["auth.identity.big", "1700000000"],
  ["auth.identity.html", "<a&b>"],
  ["auth.identity.roles", '["a","b","c"]'],
  ["auth.identity.roles.#", "3"],
  ["auth.identity.roles.1", "b"],
  ["auth.identity.roles.5", undefined],
  ["auth.identity.obj", '{"a":[1,2],"z":1}'],
  ["auth.identity.fav\\.movie", "Deer"],
  ["auth.identity.user*", "jane"],
  ["auth.identity.?ame", undefined],
  ["auth.identity.*", "1700000000"],
  [
    "auth.authorization.authorized-capabilities.capabilities.@tostr",
    '{"tools":{"ns/a":["x","w"],"ns/b":["y"]}}',
  ],
  ["auth.authorization.authorized-capabilities.capabilities.tools.ns/a", '["x","w"]'],
  ["auth.authorization.authorized-capabilities.capabilities.tools.ns/a.@tostr", '["x","w"]'],
  ["auth.authorization.authorized-capabilities.allow", "true"],
  ["auth.authorization.authorized-capabilities.allow.@tostr", "true"],
  ["auth.identity.username.@tostr", '"jane"'],
  ["auth.identity.username.@tostr.@fromstr", "jane"],
  ["auth.identity.email.@strip", "\u0006jane\u0012@petcorp.com\n"],
  ["auth.identity.username.@case:upper", "JANE"],
  ["auth.identity.obj.@case:upper", '{"A":[1,2],"Z":1}'],
  ['auth.identity.fullname.@replace:{"old":"Smith","new":"Doe"}', "Jane Doe"],
  ['context.request.http.path.@extract:{"sep":"/","pos":2}', "123"],
  ['context.request.http.path.@extract:{"sep":"/","pos":9}', ""],
  [
    'context.request.http.headers.authorization.@extract:{"pos":1}|@base64:decode|@extract:{"sep":":","pos":1}',
    "secret\n",
  ],
  ['context.request.http.headers.authorization.@extract:{"pos":1}|@base64:decode', "jane:secret\n"],
  ["context.request.http.headers.baggage.@base64:decode", '{"key1":"value1"}'],
  ["context.request.http.headers.baggage.@base64:decode|@fromstr.key1", "value1"],
  ["auth.identity.username.@base64:encode", "amFuZQ=="],
  ["context.request.http.headers.x-mcp-toolname", "a.b"],
  ["friends.#", "3"],
  ["friends.#.first", '["Dale","Roger","Jane"]'],
  ["friends.#.nets", '[["ig","fb"],["fb"]]'],
  ["friends.#.nets.#", "[2,1]"],
  ["friends.1.first", "Roger"],
  ['friends.#(last=="Murphy").first', "Dale"],
  ['friends.#(last=="Murphy")#.first', '["Dale","Jane"]'],
  ["friends.#(age>45)#.last", '["Craig","Murphy"]'],
  ['friends.#(first%"D*").last', "Murphy"],
  ['friends.#(first!%"D*").last', "Craig"],
  ['friends.#(nets.#(=="fb"))#.first', '["Dale","Roger"]'],
  ['children.#(!%"*a*")', "Alex"],
  ['children.#(%"*a*")#', '["Sara","Jack"]'],
  ["friends.0.first", "Dale"],
  ["friends|0.first", "Dale"],
  ["friends.0|first", "Dale"],
  ["friends|#", "3"],
  [
    'friends.#(last="Murphy")#',
    '[{"age":44,"first":"Dale","last":"Murphy","nets":["ig","fb"]},{"age":47,"first":"Jane","last":"Murphy"}]',
  ],
  ['friends.#(last="Murphy")#|first', undefined],
  ['friends.#(last="Murphy")#.0', "[]"],
  ['friends.#(last="Murphy")#|0', '{"age":44,"first":"Dale","last":"Murphy","nets":["ig","fb"]}'],
  ['friends.#(last="Murphy")#|#', "2"],
  ["vals.#(b==~true)#.a", "[2]"],
  ["vals.#(b==~false)#.a", "[1,3,4,10,11]"],
  ["vals.#(b==~null)#.a", "[]"],
  ["vals.#(b==~*)#.a", "[]"],
  ["vals.#(b!=~*)#.a", "[1,2,3,4,10,11]"],
  ["children.@reverse", '["Jack","Alex","Sara"]'],
  ["children.@reverse.0", "Jack"],
  ["auth.identity.obj.@keys", '["a","z"]'],
  ["auth.identity.obj.@values", "[[1,2],1]"],
  ["auth.identity.obj.@reverse", '{"z":1,"a":[1,2]}'],
  ["@this.auth.identity.username", "jane"],
  ["auth.identity.@this.username", "jane"],
  ["{auth.identity.username,auth.identity.n}", '{"username":"jane","n":3}'],
  ["[auth.identity.username,auth.identity.n,nope]", '["jane",3]'],
  ['{"u":auth.identity.username}', '{"u":"jane"}'],
  ["friends.#.nets.@flatten", '[["ig","fb"],["fb"]]'],
  ["auth.identity.username.@unknown", undefined],
  ["auth.identity.roles.@join", "{}"],
  ["friends.@join", '{"age":47,"first":"Jane","last":"Murphy","nets":["fb"]}'],
  ["!true", "true"],
  ["auth.identity.username.@case:lower", "jane"],
  ["auth.identity.n.@tostr", "3"],
  ["auth.identity.roles.@tostr", '["a","b","c"]'],
  [
    '{"a":friends.#.first,"b":friends.#.age}|@group',
    '[{"a":"Dale","b":44},{"a":"Roger","b":68},{"a":"Jane","b":47}]',
  ],
  ["[friends.0,friends.1]|@join", '{"age":68,"first":"Roger","last":"Craig","nets":["fb"]}'],
  ["friends.#(age>=47)#.first", '["Roger","Jane"]'],
  ["friends.#(age<47).first", "Dale"],
  ["friends.#(age!=44)#.first", '["Roger","Jane"]'],
  ['friends.#(first=="Jane")', '{"age":47,"first":"Jane","last":"Murphy"}'],
  ["auth.identity.obj.a.#", "2"],
  ["auth.identity.obj.a.0", "1"],
  ['auth.identity.roles.#(!="a")#', '["b","c"]'],
  ["context.request.http.headers.authorization.@extract", "Basic"],
  ['context.request.http.headers.authorization.@replace:{"old":"Basic ","new":""}', "amFuZTpzZWNyZXQK"],
  ["auth.identity.username.@replace", "jane"],
  ['auth.identity.n.@extract:{"pos":0}', "3"],
  ["friends.0.@keys", '["age","first","last","nets"]'],
  ["friends.0.@values", '[44,"Dale","Murphy",["ig","fb"]]'],
  ["auth.identity.f.@tostr", "1.5"],
  ["auth.identity.nul.@tostr", "null"],
  ["auth.identity.roles|@reverse|0", "c"],
  ["friends.#.nets|@flatten", '["ig","fb","fb"]'],
  ['friends.#.nets|@flatten:{"deep":true}', '["ig","fb","fb"]'],
  ["children|1", "Alex"],
  ["children.-1", undefined],
  ["auth.identity.username.@base64:decode", "���"],
  ["auth.identity.html.@tostr", '"\\u003ca\\u0026b\\u003e"'],
  ['friends.#(age=="44").first', "Dale"],
  ["friends.#(first==Dale).last", "Murphy"],
  ["friends.#(nets).first", "Dale"],
  ["friends.#(nets)#.first", '["Dale","Roger"]'],
  ["friends.#(age>40)#|#", "3"],
  ['vals.#(b=="data").a', "1"],
  ["vals.#(b==true).a", "2"],
  ["vals.#(b!=true)#.a", "[1,3,4]"],
  ["vals.#(b<=true)#.a", "[1,3,4]"],
  ['children.#(>"Jack")#', '["Sara"]'],
  ['children.#(<="Jack")#', '["Alex","Jack"]'],
  ['auth.identity.fullname.@case:upper.@replace:{"old":"JANE","new":"J"}', "Jane Smith"],
  ["auth.identity.roles.@case:upper", '["A","B","C"]'],
  ["auth.identity.roles.@tostr.@fromstr.1", "b"],
  ["auth.identity.obj.a.@reverse", "[2,1]"],
  ["auth.identity.*.a", "[1,2]"],
  ["auth.identity.o?j.z", "1"],
  ['auth.identity.username.@extract:{"sep":"n"}', "ja"],
  ['auth.identity.username.@extract:{"sep":"n","pos":1}', "e"],
  ['context.request.http.headers.authorization.@extract:{"pos":1}|@base64:decode|@strip', "jane:secret"],
];
const DOC = {
  context: {
    request: {
      http: {
        path: "/pets/123",
        headers: {
          authorization: "Basic amFuZTpzZWNyZXQK",
          baggage: "eyJrZXkxIjoidmFsdWUxIn0=",
          "x-mcp-toolname": "a.b",
        },
      },
    },
  },
  auth: {
    identity: {
      username: "jane",
      fullname: "Jane Smith",
      email: "\u0006jane\u0012@petcorp.com\n",
      n: 3,
      f: 1.5,
      t: true,
      nul: null,
      big: 1700000000,
      "fav.movie": "Deer",
      roles: ["a", "b", "c"],
      obj: { z: 1, a: [1, 2] },
      html: "<a&b>",
    },
    authorization: {
      "authorized-capabilities": {
        allow: true,
        capabilities: { tools: { "ns/b": ["y"], "ns/a": ["x", "w"] } },
      },
    },
  },
  friends: [{ first: "Dale", last: "Murphy", age: 44, nets: ["ig", "fb"] }, {
    first: "Roger",
    last: "Craig",
    age: 68,
    nets: ["fb"],
  }, { first: "Jane", last: "Murphy", age: 47 }],
  children: ["Sara", "Alex", "Jack"],
  vals: [{ a: 1, b: "data" }, { a: 2, b: true }, { a: 3, b: false }, { a: 4, b: "0" }, { a: 10, b: null }, {
    a: 11,
  }],
};

Deno.test("selector: every path gives GJSON v1.14's answer (with Authorino's modifiers)", () => {
  for (const [path, expected] of GJSON_ANSWERS) {
    assertEquals(select(DOC, path) !== undefined, expected !== undefined, `exists: ${path}`);
    assertEquals(selectString(DOC, path), expected ?? "", path);
  }
});

Deno.test("selector: the user-based-tool-filter guide's wristband claim, hyphenated rule name and all", () => {
  const json = {
    auth: {
      identity: { sub: "alice" },
      authorization: {
        "allow-mcp-method": true,
        "authorized-capabilities": {
          allow: true,
          capabilities: { tools: { "mcp-test/weather": ["forecast"], "mcp-test/arith": ["add", "sub"] } },
        },
      },
    },
  };
  const claim = selectString(json, "auth.authorization.authorized-capabilities.capabilities.@tostr");
  // Go's encoding: keys sorted, compact; the broker parses it back.
  assertEquals(claim, '{"tools":{"mcp-test/arith":["add","sub"],"mcp-test/weather":["forecast"]}}');
  assertEquals(JSON.parse(claim), json.auth.authorization["authorized-capabilities"].capabilities);
  assertEquals(
    select(json, "auth.authorization.authorized-capabilities.capabilities.tools.mcp-test/arith.#"),
    2,
  );
});

Deno.test("selector: values render as Go renders them", () => {
  assertEquals(
    goJson({ b: 1, a: "<&>", c: [true, null] }),
    '{"a":"\\u003c\\u0026\\u003e","b":1,"c":[true,null]}',
  );
  assertEquals(selectString({ a: null }, "a"), "");
  assertEquals(selectString({ a: 1.5e21 }, "a"), "1.5e+21");
  assertEquals(selectString({}, "a"), "");
  assertEquals(select({ a: { b: 1 } }, ""), undefined);
});

Deno.test("selector: patterns with Authorino's operators", () => {
  const json = { auth: { identity: { sub: "alice", groups: ["dev", "ops"], admin: true, n: 3 } } };
  const holds = (selector: string, operator: "eq" | "neq" | "incl" | "excl" | "matches", value: string) =>
    matchPattern(json, { selector, operator, value });
  assertEquals(holds("auth.identity.sub", "eq", "alice"), true);
  assertEquals(holds("auth.identity.sub", "neq", "alice"), false);
  assertEquals(holds("auth.identity.admin", "eq", "true"), true);
  assertEquals(holds("auth.identity.n", "eq", "3"), true);
  assertEquals(holds("auth.identity.missing", "eq", ""), true);
  assertEquals(holds("auth.identity.groups", "incl", "ops"), true);
  assertEquals(holds("auth.identity.groups", "incl", "qa"), false);
  assertEquals(holds("auth.identity.groups", "excl", "qa"), true);
  assertEquals(holds("auth.identity.groups", "excl", "dev"), false);
  // GJSON's Array() of a single value is that value; of nothing, nothing.
  assertEquals(holds("auth.identity.sub", "incl", "alice"), true);
  assertEquals(holds("auth.identity.missing", "incl", ""), false);
  assertEquals(holds("auth.identity.missing", "excl", "x"), true);
  // A regular expression matches anywhere unless anchored, with RE2's syntax.
  assertEquals(holds("auth.identity.sub", "matches", "lic"), true);
  assertEquals(holds("auth.identity.sub", "matches", "^lic"), false);
  assertEquals(holds("auth.identity.sub", "matches", "(?i)^ALICE$"), true);
  assertEquals(holds("auth.identity.groups", "matches", '^\\["dev"'), true);
});

Deno.test("selector: a bad regular expression or operator is an error when the pattern is compiled", () => {
  const err = assertThrows(
    () => compilePattern({ selector: "auth.identity.sub", operator: "matches", value: "(a" }),
    PatternError,
    "missing closing )",
  );
  assertEquals(err.code, "selector_pattern");
  assert(err.message.startsWith('Pattern "auth.identity.sub matches (a"'), err.message);
  // Lookahead is Perl, not RE2 (Go's regexp rejects it too).
  assertThrows(() => compilePattern({ selector: "a", operator: "matches", value: "a(?=b)" }), PatternError);
  assertThrows(
    () => compilePattern({ selector: "a", operator: "gt" as never, value: "1" }),
    PatternError,
    'unknown operator "gt"',
  );
  const p = compilePattern({
    selector: "request.headers.x-mcp-toolname",
    operator: "matches",
    value: "^weather_",
  });
  assertEquals(p.matches({ request: { headers: { "x-mcp-toolname": "weather_forecast" } } }), true);
  assertEquals(p.matches({ request: { headers: {} } }), false);
});
