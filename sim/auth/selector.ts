/**
 * Authorino's JSON selectors (the deprecated but still common `selector` fields): GJSON paths
 * (github.com/tidwall/gjson v1.14, which Authorino uses) over the authorization JSON, with Authorino's
 * string modifiers (`@extract`, `@replace`, `@case`, `@base64`, `@strip`) and GJSON's own (`@this`,
 * `@tostr`, `@fromstr`, `@reverse`, `@keys`, `@values`, `@flatten`, `@join`, `@valid`, `@ugly`,
 * `@pretty`, `@group`), and the selector/operator/value patterns of `patternMatching` and `when`.
 *
 * Values are rendered as Go renders them: JSON text with map keys sorted and `<`, `>`, `&` escaped
 * (Authorino marshals the authorization JSON with Go's encoder), which is what `@tostr` and a selected
 * object in a header or wristband claim carry.
 *
 * This module is the entry point; the stages live beside it: `selector_parse.ts` (paths into
 * components), `selector_path.ts` (lookup), `selector_modifiers.ts` (`@` modifiers),
 * `selector_text.ts` (Go's JSON text) and `selector_pattern.ts` (patterns).
 *
 * @module
 */

export { select, selectString } from "./selector_path.ts";
export { goJson, toGjsonString } from "./selector_text.ts";
export {
  type CompiledPattern,
  compilePattern,
  matchPattern,
  type Pattern,
  PatternError,
} from "./selector_pattern.ts";
