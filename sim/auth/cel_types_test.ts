import { assertEquals } from "../../test/helpers/assert.ts";
import { common, constType, fits, isList, isMap, params, unify } from "./cel_types.ts";

Deno.test("cel types: unify gives the most specific common type, or none", () => {
  assertEquals(unify("dyn", "int"), "int");
  assertEquals(unify("string", "dyn"), "string");
  assertEquals(unify("int", "double"), undefined);
  assertEquals(unify("list(dyn)", "list(int)"), "list(int)");
  assertEquals(unify("list(int)", "list(string)"), undefined);
  assertEquals(unify("map(string, dyn)", "map(dyn, list(int))"), "map(string, list(int))");
  assertEquals(unify("map(string, int)", "map(int, int)"), undefined);
  assertEquals([fits("int", "dyn"), fits("uint", "int")], [true, false]);
});

Deno.test("cel types: parameters, kinds, literals and common element types", () => {
  assertEquals(params("map(string, list(map(int, dyn)))"), ["string", "list(map(int, dyn))"]);
  assertEquals(params("list(map(string, int))"), ["map(string, int)"]);
  assertEquals([isList("list(int)"), isList("map(int, int)"), isMap("map(int, int)")], [true, false, true]);
  assertEquals([common([]), common(["int", "int"]), common(["int", "string"]), common(["dyn", "int"])], [
    "dyn",
    "int",
    "dyn",
    "int",
  ]);
  assertEquals(["int64Value", "uint64Value", "nullValue", undefined].map(constType), [
    "int",
    "uint",
    "null_type",
    "dyn",
  ]);
});
