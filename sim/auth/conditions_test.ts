import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { requestJson } from "../../test/helpers/auth_guides.ts";
import { compileConditions, holds } from "./conditions.ts";
import { CelCompileError } from "./types.ts";

Deno.test("compileConditions: an unknown patternRef and an empty all/any add nothing, as Authorino's builder", () => {
  assertEquals(compileConditions([{ patternRef: "nope" }]).matches(requestJson()), true);
  assertEquals(compileConditions([{ any: [] }, { all: [] }]).matches(requestJson()), true);
  assertEquals(
    compileConditions([{ any: [{ predicate: "false" }, { predicate: "true" }] }]).matches(requestJson()),
    true,
  );
  assertEquals(compileConditions([]).matches(requestJson()), true);
  assertThrows(() => compileConditions([{ predicate: "request.method ==" }]), CelCompileError);
});

Deno.test("compileConditions: an item's predicate and its all/any all count, and named patterns join them", () => {
  const patterns = { "mcp-path": { allOf: [{ selector: "request.path", operator: "eq", value: "/mcp" }] } };
  // One item with a predicate and an `all` beside it: both must hold (not the predicate alone).
  const both = compileConditions([{
    predicate: "request.method == 'POST'",
    all: [{ patternRef: "mcp-path" }],
  }], patterns);
  assertEquals(both.matches(requestJson()), true);
  assertEquals(both.matches(requestJson({ path: "/other" })), false);
  assertEquals(both.matches(requestJson({ method: "GET" })), false);
  // The AuthConfig's own shape of named patterns: the list itself.
  const listed = compileConditions([{ patternRef: "p" }], {
    p: [{ selector: "request.method", operator: "neq", value: "GET" }],
  });
  assertEquals([listed.matches(requestJson()), listed.matches(requestJson({ method: "GET" }))], [
    true,
    false,
  ]);
});

Deno.test("holds: a condition that fails to evaluate does not hold; a non-boolean predicate fails", () => {
  const failing = compileConditions([{ predicate: "int(request.headers['x-n']) > 0" }]);
  assertThrows(() => failing.matches(requestJson({ headers: { "x-n": "seven" } })));
  assertEquals(holds(failing, requestJson({ headers: { "x-n": "seven" } })), false);
  assertEquals(holds(failing, requestJson({ headers: { "x-n": "7" } })), true);
  const text = compileConditions([{ predicate: "request.method" }]);
  assertEquals(holds(text, requestJson()), false);
});
