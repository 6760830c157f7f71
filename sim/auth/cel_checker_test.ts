import { assert, assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { parse } from "@bufbuild/cel";
import { Checker } from "./cel_checker.ts";
import { CelCompileError } from "./types.ts";

function checker(source: string): { checker: Checker; type: () => string } {
  const parsed = parse(source);
  const checker = new Checker(source, parsed.sourceInfo?.positions ?? {});
  return { checker, type: () => checker.check(parsed.expr, new Map()) };
}

Deno.test("cel: checker errors carry the 1-based position of the problem", () => {
  const cases: [string, string, number, number][] = [
    ["request.path == '/mcp' &&\n  foo.bar", "Undeclared reference to 'foo'", 2, 3],
    ["request.path.nosuch()", "Undeclared reference to method 'nosuch'", 1, 14],
    ["1 + 'a' == 'b'", "no matching overload for '+' applied to '(int, string)'", 1, 3],
    ["1 == 1.0", "no matching overload for '==' applied to '(int, double)'", 1, 3],
    ["'x' in [1, 2]", "no matching overload for 'in' applied to '(string, list(int))'", 1, 5],
    ["true ? 1 : 'a'", "no matching overload for '?:' applied to '(bool, int, string)'", 1, 6],
    ["'a'.size(1)", "No method 'size' takes 1 argument", 1, 5],
    ["'ab'.startsWith(1)", "no matching overload for 'startsWith'", 1, 6],
    ["!1", "no matching overload for '!'", 1, 1],
    ["'x'.exists(c, true)", "cannot be the range of a comprehension", 1, 1],
  ];
  for (const [source, text, line, column] of cases) {
    const err = assertThrows(() => checker(source).type(), CelCompileError, text);
    assertEquals(err.position, { line, column }, `${source}: ${err.message}`);
    assertEquals(err.source, source);
    assert(/^[A-Z]/.test(err.message), err.message);
  }
});

Deno.test("cel checker: the static types of what it accepts", () => {
  const cases: [string, string][] = [
    ["request.path", "dyn"],
    ["size(request.path)", "int"],
    ["[1, 2]", "list(int)"],
    ["[1, 'a']", "list(dyn)"],
    ["{'a': 1}", "map(string, int)"],
    ["{'a': 1}.a", "int"],
    ["has(request.x)", "bool"],
    // Looser than cel-go (`list(int)`): a macro's result is its accumulator, which starts as `[]`.
    ["[1].map(x, x * 2)", "list(dyn)"],
    ["duration('1h')", "duration"],
    ["type(request.path) == string", "bool"],
  ];
  for (const [source, type] of cases) assertEquals(checker(source).type(), type, source);
});

Deno.test("cel checker: a bad literal pattern is a warning with its position, not an error", () => {
  const bad = checker("request.path.matches('(a')");
  assertEquals(bad.type(), "bool");
  assertEquals(bad.checker.warnings.length, 1);
  assertEquals(bad.checker.warnings[0].position, { line: 1, column: 22 });
  const good = checker("request.path.matches('^/m')");
  good.type();
  assertEquals(good.checker.warnings, []);
});
