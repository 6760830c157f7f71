import { assertEquals } from "../../test/helpers/assert.ts";
import { compileCel } from "./cel.ts";
import type { AuthorizationJson } from "./types.ts";

/** The answer, or the reason of the error, of `source` over `input`. */
function answer(source: string, kind: "predicate" | "expression", input: AuthorizationJson): unknown {
  try {
    return { value: compileCel(source, { kind }).evaluate(input) };
  } catch (error) {
    return { error: (error as Error).message.replace(/^CEL expression ".*" failed: /, "") };
  }
}

const json = (request: Record<string, unknown>): AuthorizationJson => ({
  request,
  source: {},
  destination: {},
  context: {},
  auth: { metadata: {}, authorization: {} },
});

const inputs = [
  json({ headers: { "x-mcp-toolname": "echo", "mcp-session-id": "s-1" } }),
  json({ headers: { "x-mcp-toolname": "other" } }),
  json({ headers: {} }),
  json({ headers: { "x-mcp-toolname": 7 } }),
  json({ headers: { "x-mcp-toolname": ["echo"] } }),
  json({ headers: null }),
  json({}),
  json({ headers: { "x-mcp-toolname": "" } }),
];

Deno.test("header fast path: the same answers and errors as the full evaluator", () => {
  // Each pair: a shape the fast path takes, and the same meaning in a shape it does not.
  const pairs: [string, string, "predicate" | "expression"][] = [
    [
      "request.headers['x-mcp-toolname'] == 'echo'",
      "(request.headers['x-mcp-toolname'] == 'echo') && true",
      "predicate",
    ],
    [
      "'echo' == request.headers['x-mcp-toolname']",
      "('echo' == request.headers['x-mcp-toolname']) && true",
      "predicate",
    ],
    [
      "request.headers['x-mcp-toolname'] != 'echo'",
      "(request.headers['x-mcp-toolname'] != 'echo') && true",
      "predicate",
    ],
    [
      "request.headers['x-mcp-toolname'] == ''",
      "(request.headers['x-mcp-toolname'] == '') && true",
      "predicate",
    ],
    ["request.headers['x-mcp-toolname']", "request.headers['x-mcp-toolname'] + ''", "expression"],
    ["request.headers['mcp-session-id']", "request.headers['mcp-session-id'] + ''", "expression"],
  ];
  for (const [fast, full, kind] of pairs) {
    for (const [i, input] of inputs.entries()) {
      const expected = answer(full, kind, input);
      // `+ ''` on a non-string is an overload error where the plain read gives the value: compare
      // the plain read only where the full form can answer.
      if (
        kind === "expression" && "error" in (expected as object) &&
        !/no such key/.test(String((expected as { error: string }).error))
      ) continue;
      assertEquals(answer(fast, kind, input), expected, `${fast} over input ${i}`);
    }
  }
});
