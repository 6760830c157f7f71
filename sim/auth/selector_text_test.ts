/** Values as Go's encoder and GJSON's `String()` write them. */
import { assertEquals } from "../../test/helpers/assert.ts";
import { select, selectString } from "./selector_path.ts";
import { builtObject, goJson, isBuilt, sortedKeys, toGjsonString } from "./selector_text.ts";

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

Deno.test("selector: GJSON's String() of each kind of value", () => {
  assertEquals(toGjsonString(undefined), "");
  assertEquals(toGjsonString(null), "");
  assertEquals(toGjsonString("a<b"), "a<b");
  assertEquals(toGjsonString(false), "false");
  assertEquals(toGjsonString({ b: [1], a: "&" }), '{"a":"\\u0026","b":[1]}');
});

Deno.test("selector: objects a path builds keep their order; the input's come sorted", () => {
  const input = { z: 1, a: 2, u: undefined };
  assertEquals(isBuilt(input), false);
  assertEquals(sortedKeys(input), ["a", "z"]);
  assertEquals(goJson(input), '{"a":2,"z":1}');
  const made = builtObject({ z: 1, a: { y: 2, b: 3 } });
  assertEquals(isBuilt(made), true);
  // Only the built object keeps its order; the input object inside it is Go's, sorted.
  assertEquals(goJson(made), '{"z":1,"a":{"b":3,"y":2}}');
});
