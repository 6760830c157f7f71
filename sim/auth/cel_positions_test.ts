import { assertEquals } from "../../test/helpers/assert.ts";
import { positionAt, ternaryMark, where } from "./cel_positions.ts";

Deno.test("cel positions: 1-based lines and columns in code points, as cel-go counts", () => {
  assertEquals(positionAt("abc", 0), { line: 1, column: 1 });
  assertEquals(positionAt("a\nbc", 3), { line: 2, column: 2 });
  // '😀' is two UTF-16 units, one column: offset 5 is the '=', the fifth code point.
  assertEquals(positionAt("'😀' == x", 5), { line: 1, column: 5 });
  assertEquals(positionAt("ab", 99), { line: 1, column: 3 });
  assertEquals(where({ line: 2, column: 3 }), "line 2, column 3");
});

Deno.test("cel positions: the '?' of a conditional skips strings and brackets", () => {
  assertEquals(ternaryMark("a ? b : c", 0), 2);
  assertEquals(ternaryMark("'?' + f(x ? 1 : 2) == '' ? b : c", 0), 25);
  assertEquals(ternaryMark("'''a?'''.size() > 0 ? 1 : 2", 0), 20);
  assertEquals(ternaryMark("no mark", 0), 0);
});
