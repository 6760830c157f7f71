/**
 * Authorino's conditions, compiled once: the `when` of an AuthConfig, of an identity method, of an
 * authorization rule or of a response item, and the `patterns` of `patternMatching`. Each list is
 * built as Authorino's controller builds it (`buildPredicates`): an item is a `patternRef` to the
 * policy's named patterns (when the name is known), else a selector/operator/value pattern (when it
 * has an operator), else a CEL `predicate`; its nested `all` and `any` are added beside it.
 *
 * @module
 */
import { compileCel, evaluatePredicate } from "./cel.ts";
import { compilePattern } from "./selector.ts";
import type { AuthorizationJson } from "./types.ts";

/** A compiled `when` list or pattern tree; `matches` throws on an evaluation error. */
export interface Condition {
  /** Whether the conditions hold for this request. */
  matches(json: AuthorizationJson): boolean;
}

/** One selector/operator/value pattern as written. */
export interface PatternSpec {
  selector?: string;
  operator?: string;
  value?: string;
}

/**
 * Named patterns (AuthPolicy `spec.patterns`, or its `defaults`/`overrides`): each name maps to
 * `{ allOf: [...] }` as the AuthPolicy writes it, or to the list itself as the AuthConfig does.
 */
export type NamedPatterns = Record<string, { allOf?: PatternSpec[] } | PatternSpec[]>;

/**
 * Compiles the conditions of a `when` list or a `patterns` list, as Authorino's `buildPredicates`:
 * each item is a `patternRef` (when the name is known), else a selector/operator/value pattern (when
 * it has an operator), else a CEL `predicate`, plus its nested `all` (every one) and `any` (at least
 * one). The list holds when all items hold; an empty list holds. Throws `CelCompileError`.
 */
export function compileConditions(list: unknown, patterns: NamedPatterns = {}): Condition {
  return allOf(buildPredicates(Array.isArray(list) ? list : [], patterns));
}

function buildPredicates(list: unknown[], patterns: NamedPatterns): Condition[] {
  const out: Condition[] = [];
  for (const raw of list) {
    const item = (raw ?? {}) as Record<string, unknown>;
    const ref = typeof item.patternRef === "string" ? item.patternRef : "";
    const named = Object.hasOwn(patterns, ref) ? patterns[ref] : undefined;
    if (named !== undefined) {
      const specs = Array.isArray(named) ? named : named.allOf ?? [];
      for (const spec of specs) out.push(pattern(spec));
    } else if (typeof item.operator === "string" && item.operator !== "") {
      out.push(pattern(item as PatternSpec));
    } else if (typeof item.predicate === "string" && item.predicate !== "") {
      const program = compileCel(item.predicate, { kind: "predicate" });
      out.push({ matches: (json) => evaluatePredicate(program, json) });
    }
    if (Array.isArray(item.all) && item.all.length > 0) out.push(allOf(buildPredicates(item.all, patterns)));
    if (Array.isArray(item.any) && item.any.length > 0) out.push(anyOf(buildPredicates(item.any, patterns)));
  }
  return out;
}

function pattern(spec: PatternSpec): Condition {
  const compiled = compilePattern(
    {
      selector: spec.selector ?? "",
      operator: spec.operator ?? "",
      value: spec.value ?? "",
    } as Parameters<typeof compilePattern>[0],
  );
  return { matches: (json) => compiled.matches(json) };
}

function allOf(conditions: Condition[]): Condition {
  if (conditions.length === 1) return conditions[0];
  return { matches: (json) => conditions.every((c) => c.matches(json)) };
}

function anyOf(conditions: Condition[]): Condition {
  return { matches: (json) => conditions.some((c) => c.matches(json)) };
}

/** Whether `condition` holds; one that fails to evaluate does not (Authorino's `when`). */
export function holds(condition: Condition, json: AuthorizationJson): boolean {
  try {
    return condition.matches(json);
  } catch {
    return false;
  }
}
