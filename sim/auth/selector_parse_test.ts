/** GJSON paths read into components, as GJSON v1.14 splits them. */
import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { parseQuery, pathComponents, skipGroup } from "./selector_parse.ts";

/** Each component as `kind:text` and its separator, for compact assertions. */
const shape = (path: string) => pathComponents(path).map((c) => `${c.kind}:${c.text}${c.next}`);

Deno.test("selector parse: keys split on . and |, escapes and wildcards", () => {
  assertEquals(shape("auth.identity.fav\\.movie"), ["key:auth.", "key:identity.", "key:fav.movie"]);
  const [, star, escaped] = pathComponents("a.us*r|b\\*");
  assertEquals([star.text, star.wildcard, star.next], ["us*r", true, "|"]);
  // An escaped `*` is a plain character: the key is `b*`, matched exactly.
  assertEquals([escaped.text, escaped.raw, escaped.wildcard], ["b*", "b\\*", false]);
  assertEquals(shape("friends|#"), ["key:friends|", "count:#"]);
});

Deno.test("selector parse: queries, multipaths and literals are one component each", () => {
  const q = pathComponents('friends.#(last=="Murphy")#.first');
  assertEquals(q.map((c) => c.kind), ["key", "query", "key"]);
  assertEquals([q[1].text, q[1].all], ['#(last=="Murphy")#', true]);
  assertEquals(pathComponents("friends.#(age>45).last")[1].all, false);
  assertEquals(shape('{a,"b":c.d}|@group'), ['multipath:{a,"b":c.d}|', "modifier:@group"]);
  assertEquals(shape("a.[b,c].0"), ["key:a.", "multipath:[b,c].", "key:0"]);
  assertEquals(shape("!true"), ["literal:!true"]);
  // `!` starts a literal only at the start of a path.
  assertEquals(shape("a.!b"), ["key:a.", "key:!b"]);
});

Deno.test("selector parse: a modifier's JSON argument ends with its value, any other at the next |", () => {
  const [, extract, x, base64] = pathComponents('h.@extract:{"sep":"."}.x|@base64:decode');
  assertEquals([extract.name, extract.arg, extract.next], ["extract", '{"sep":"."}', "."]);
  assertEquals([x.text, x.next], ["x", "|"]);
  assertEquals([base64.name, base64.arg], ["base64", "decode"]);
  // GJSON's execModifier: a plain argument runs to the next `|`, dots included.
  const [upper] = pathComponents("@case:upper.x");
  assertEquals([upper.name, upper.arg], ["case", "upper.x"]);
  assertEquals(pathComponents("a.@this")[1].arg, undefined);
});

Deno.test("selector parse: a query's path, operator and value", () => {
  assertEquals(parseQuery('#(last=="Murphy")#'), { path: "last", op: "==", value: '"Murphy"' });
  assertEquals(parseQuery('#(first!%"D*")'), { path: "first", op: "!%", value: '"D*"' });
  assertEquals(parseQuery("#(b==~true)#"), { path: "b", op: "==", value: "~true" });
  assertEquals(parseQuery("#[a>1]"), { path: "a", op: ">", value: "1" });
  // A nested query belongs to the path: the outer one only asks whether it exists.
  assertEquals(parseQuery('#(nets.#(=="fb"))#'), { path: 'nets.#(=="fb")', op: "", value: "" });
});

Deno.test("selector parse: groups end at their closing bracket, strings and escapes skipped", () => {
  assertEquals(skipGroup('x{"a":"}"}y', 1), 10);
  assertEquals(skipGroup('"a\\"b"c', 0), 6);
  assertEquals(skipGroup("(a(b)c", 0), 6);
  // Parsed once: the same path gives the same components.
  assert(pathComponents("a.b") === pathComponents("a.b"));
});
