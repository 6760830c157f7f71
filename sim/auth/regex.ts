/**
 * Regular expressions as Authorino's Go code and cel-go run them: RE2 syntax (no backreferences or
 * lookaround; `(?i)`, `[[:alpha:]]`, `\pL` allowed), compiled once per pattern. Used by CEL's
 * `matches` and by the `matches` operator of selector patterns.
 *
 * @module
 */

import { RE2JS } from "@bufbuild/re2";

/** A compiled regular expression. */
export interface RegexMatcher {
  /** The pattern as written. */
  readonly pattern: string;
  /** Whether the pattern matches anywhere in `text` (Go's `MatchString`, CEL's `matches`). */
  test(text: string): boolean;
}

/** A pattern RE2 rejects; the message is RE2's (`error parsing regexp: missing closing ): ...`). */
export class RegexSyntaxError extends Error {
  /** The pattern as written. */
  readonly pattern: string;
  /** An error for `pattern`. */
  constructor(pattern: string, message: string) {
    super(message);
    this.name = "RegexSyntaxError";
    this.pattern = pattern;
  }
}

// Patterns come from policies (a bounded set), but a CEL `matches` whose pattern is computed per request
// could grow the cache without end: it is cleared when full.
const MAX_CACHED = 512;
const cache = new Map<string, RegexMatcher>();

/** Compiles `pattern` with RE2 semantics, cached; throws {@linkcode RegexSyntaxError}. */
export function compileRegex(pattern: string): RegexMatcher {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let re: ReturnType<typeof RE2JS.compile>;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new RegexSyntaxError(pattern, (e as Error).message);
  }
  const matcher: RegexMatcher = { pattern, test: (text) => re.test(text) };
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(pattern, matcher);
  return matcher;
}
