import { assert, assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { compileCel } from "./cel.ts";
import { locateSyntaxError } from "./cel_syntax.ts";
import { CelCompileError } from "./types.ts";

Deno.test("cel: syntax errors carry the 1-based position of the problem", () => {
  const cases: [string, string, number, number][] = [
    ["request.path ==", "ends after '=='", 1, 14],
    ["request.headers.exists(h,\n  h == 'x-mcp-method'", "'(' is never closed", 1, 23],
    ["request.path == 'x", "unterminated string literal", 1, 17],
    ["request.path = '/mcp'", "did you mean '=='", 1, 14],
    ["request.path == '/mcp')", "unmatched ')'", 1, 23],
    ["request.headers[?'x']", "optional syntax '[?' is not supported", 1, 16],
    ["request.path $ 'x'", "unexpected character '$'", 1, 14],
    ["if request.path", "'if' is a reserved word", 1, 1],
  ];
  for (const [source, text, line, column] of cases) {
    const found = locateSyntaxError(source);
    assert(found?.problem.includes(text), `${source}: ${found?.problem}`);
    assertEquals(found?.position, { line, column }, source);
    const err = assertThrows(() => compileCel(source), CelCompileError, text);
    assertEquals(err.position, { line, column }, `${source}: ${err.message}`);
    assertEquals(err.source, source);
    assert(err.message.startsWith(`Syntax error at line ${line}, column ${column}: `), err.message);
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
