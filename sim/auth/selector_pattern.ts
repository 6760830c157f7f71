/**
 * The selector/operator/value patterns of Authorino's `patternMatching` and `when` (the older form
 * beside CEL predicates): a JSON selector's value compared with `eq`, `neq`, `incl`, `excl` or
 * `matches` (an RE2 regular expression).
 *
 * @module
 */

import { compileRegex, type RegexMatcher, RegexSyntaxError } from "./regex.ts";
import { select, selectString } from "./selector_path.ts";
import { toGjsonString } from "./selector_text.ts";

/** A selector/operator/value pattern (`patternMatching.patterns[]`, `when[]` of the older form). */
export interface Pattern {
  /** The JSON selector. */
  selector: string;
  /** `eq`, `neq`, `incl` (the array includes the value), `excl`, `matches` (regular expression). */
  operator: "eq" | "neq" | "incl" | "excl" | "matches";
  /** The value to compare with (a regular expression for `matches`). */
  value: string;
}

/** A pattern ready to match, its regular expression (if any) compiled once. */
export interface CompiledPattern {
  /** The pattern as written. */
  readonly pattern: Pattern;
  /** Whether the pattern holds for `input` (the authorization JSON). */
  matches(input: unknown): boolean;
}

/** A selector pattern that cannot be used: unknown operator or a bad regular expression. */
export class PatternError extends Error {
  /** Stable code. */
  readonly code = "selector_pattern";
  /** The pattern as written. */
  readonly pattern: Pattern;
  /** An error for `pattern`. */
  constructor(pattern: Pattern, message: string) {
    super(message);
    this.name = "PatternError";
    this.pattern = pattern;
  }
}

/** Compiles `pattern` (its regular expression once); throws {@linkcode PatternError}. */
export function compilePattern(pattern: Pattern): CompiledPattern {
  const { selector, operator, value } = pattern;
  const where = `Pattern "${selector} ${operator} ${value}"`;
  switch (operator) {
    case "eq":
      return { pattern, matches: (input) => selectString(input, selector) === value };
    case "neq":
      return { pattern, matches: (input) => selectString(input, selector) !== value };
    case "incl":
      return {
        pattern,
        matches: (input) => gjsonArray(select(input, selector)).some((v) => toGjsonString(v) === value),
      };
    case "excl":
      return {
        pattern,
        matches: (input) => !gjsonArray(select(input, selector)).some((v) => toGjsonString(v) === value),
      };
    case "matches": {
      let re: RegexMatcher;
      try {
        re = compileRegex(value);
      } catch (e) {
        if (e instanceof RegexSyntaxError) throw new PatternError(pattern, `${where}: ${e.message}`);
        throw e;
      }
      return { pattern, matches: (input) => re.test(selectString(input, selector)) };
    }
    default:
      throw new PatternError(
        pattern,
        `${where}: unknown operator "${operator}" (expected eq, neq, incl, excl or matches)`,
      );
  }
}

/** Whether `pattern` holds for `input`. Compiles the pattern each call: prefer {@linkcode compilePattern}. */
export function matchPattern(input: unknown, pattern: Pattern): boolean {
  return compilePattern(pattern).matches(input);
}

// GJSON's `Result.Array()`: an array's elements, nothing for null or absent, else the value alone.
function gjsonArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}
