/** Selector/operator/value patterns with Authorino's operators. */
import { assert, assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { compilePattern, matchPattern, PatternError } from "./selector_pattern.ts";

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
