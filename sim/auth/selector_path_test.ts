/** GJSON path lookup: keys, wildcards, counts, queries, pipes, multipaths, literals. */
import { assertGjsonAnswers } from "../../test/helpers/gjson.ts";
import { assertEquals } from "../../test/helpers/assert.ts";
import { select } from "./selector_path.ts";

// GJSON v1.14's answers for paths without a modifier (see test/helpers/gjson.ts for how they were recorded).
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
  ["auth.authorization.authorized-capabilities.capabilities.tools.ns/a", '["x","w"]'],
  ["auth.authorization.authorized-capabilities.allow", "true"],
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
  ["{auth.identity.username,auth.identity.n}", '{"username":"jane","n":3}'],
  ["[auth.identity.username,auth.identity.n,nope]", '["jane",3]'],
  ['{"u":auth.identity.username}', '{"u":"jane"}'],
  ["!true", "true"],
  ["friends.#(age>=47)#.first", '["Roger","Jane"]'],
  ["friends.#(age<47).first", "Dale"],
  ["friends.#(age!=44)#.first", '["Roger","Jane"]'],
  ['friends.#(first=="Jane")', '{"age":47,"first":"Jane","last":"Murphy"}'],
  ["auth.identity.obj.a.#", "2"],
  ["auth.identity.obj.a.0", "1"],
  ['auth.identity.roles.#(!="a")#', '["b","c"]'],
  ["children|1", "Alex"],
  ["children.-1", undefined],
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
  ["auth.identity.*.a", "[1,2]"],
  ["auth.identity.o?j.z", "1"],
];

Deno.test("selector: every path without a modifier gives GJSON v1.14's answer", () => {
  assertGjsonAnswers(GJSON_ANSWERS);
});

Deno.test("selector: a wildcard key tries each match until the rest of the path resolves", () => {
  const doc = { a: { x1: { z: 0 }, x2: { y: "second" }, x3: { y: "third" } } };
  assertEquals(select(doc, "a.x*.y"), "second");
  // Up to the next pipe only: after `|` the first match is taken as is.
  assertEquals(select(doc, "a.x*|y"), undefined);
  assertEquals(select(doc, "a.x*|z"), 0);
});

Deno.test("selector: `#.` maps the rest of the path over the elements, leaving out absent results", () => {
  const doc = { xs: [{ v: 1 }, {}, { v: 3 }, "s"] };
  assertEquals(select(doc, "xs.#.v"), [1, 3]);
  assertEquals(select(doc, "xs.#"), 4);
  assertEquals(select({ xs: {} }, "xs.#"), undefined);
});
