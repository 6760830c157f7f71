/**
 * Authorino's `ValueOrSelector` (a static `value`, a JSON `selector` or string template, or a CEL
 * `expression`), compiled once and resolved per request against the authorization JSON. Authorino turns
 * a resolved value into text with `json.StringifyJSON`, which is GJSON's `String()` of Go's JSON
 * (`toGjsonString` in selector.ts).
 *
 * @module
 */
import { compileCel, evaluateExpression } from "./cel.ts";
import { select, selectString } from "./selector.ts";
import type { AuthorizationJson } from "./types.ts";

/** A value as an AuthPolicy writes it: exactly one of `value`, `selector`, `expression` is meaningful. */
export interface ValueSpec {
  /** Static value (any JSON). */
  value?: unknown;
  /** JSON selector (`auth.identity.sub`, with modifiers) or template (`Hello, {auth.identity.name}!`). */
  selector?: string;
  /** CEL expression. */
  expression?: string;
}

/** A value compiled once. */
export interface CompiledValue {
  /** Resolves against one request's authorization JSON; throws `AuthEvalError` on a CEL runtime error. */
  resolve(json: AuthorizationJson): unknown;
}

/**
 * Compiles `spec` as Authorino's controller does: an `expression` wins, else the `selector` (a
 * template when it has placeholders), else the static `value` (null when none). Throws
 * `CelCompileError` for an expression that does not compile.
 */
export function compileValue(spec: ValueSpec | undefined): CompiledValue {
  const expression = typeof spec?.expression === "string" ? spec.expression : "";
  if (expression !== "") {
    const program = compileCel(expression, { kind: "expression" });
    return { resolve: (json) => evaluateExpression(program, json) };
  }
  const selector = typeof spec?.selector === "string" ? spec.selector : "";
  if (selector !== "") {
    if (isTemplate(selector)) return { resolve: (json) => replacePlaceholders(selector, json) };
    return { resolve: (json) => select(json, selector) ?? null };
  }
  const value = spec?.value ?? null;
  return { resolve: () => value };
}

const ALL_CURLY_BRACES = /\{/g;
const MODIFIER_ARGUMENT_BRACES = /[^@]+@\w+:\{/g;

/**
 * Whether a selector is a template: Authorino counts it one when some `{` does not open a modifier's
 * argument (`@extract:{...}`).
 */
export function isTemplate(pattern: string): boolean {
  return (pattern.match(MODIFIER_ARGUMENT_BRACES)?.length ?? 0) !==
    (pattern.match(ALL_CURLY_BRACES)?.length ?? 0);
}

/**
 * Authorino's `ReplaceJSONPlaceholders`: each `{selector}` becomes the selected value as text; `\{`
 * and `\}` escape braces; braces nest inside a placeholder.
 */
export function replacePlaceholders(source: string, json: AuthorizationJson): string {
  let replaced = "";
  let buffer = "";
  let escaping = false;
  let inside = false;
  let nested = 0;
  for (const ch of source) {
    switch (ch) {
      case "{":
        if (escaping) replaced += ch;
        else if (inside) {
          buffer += ch;
          nested++;
        } else inside = true;
        escaping = false;
        break;
      case "}":
        if (inside) {
          if (nested > 0) {
            buffer += ch;
            nested--;
          } else {
            if (buffer.length > 0) {
              replaced += selectString(json, buffer);
              buffer = "";
            }
            inside = false;
          }
        } else replaced += ch;
        escaping = false;
        break;
      case "\\":
        if (inside) buffer += ch;
        else {
          if (escaping) replaced += ch;
          escaping = !escaping;
        }
        break;
      default:
        if (inside) buffer += ch;
        else replaced += ch;
        escaping = false;
    }
  }
  return replaced;
}
