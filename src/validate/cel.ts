/**
 * Evaluates `x-kubernetes-validations` rules with a real CEL engine (`@bufbuild/cel`); the walk over
 * the object and its schema is `cel_rules.ts`.
 *
 * @module
 */

import { celEnv, celError, isCelError, parse, plan } from "@bufbuild/cel";
import type { CelEnv, CelInput, CelResult } from "@bufbuild/cel";
import type { Schema } from "../model/schema.ts";
import { type CelIssue, evaluateRulesWith, type RuleInput, type RuleOutcome, toCel } from "./cel_rules.ts";

export { type CelIssue, isTransitionRule, toCel } from "./cel_rules.ts";

/** A planned rule, or what parsing or planning it threw. */
type Program = ((bindings: Record<string, CelInput>) => CelResult) | { thrown: unknown };

let env: CelEnv | undefined;
const programs = new Map<string, Program>();

/**
 * `run(rule, bindings)` of `@bufbuild/cel` with the environment and each rule's plan made once: `run`
 * builds the standard library's function tables and parses the rule on every call, which was most
 * of the CEL time when a thousand objects share the same few rules.
 */
function runRule(rule: string, bindings: Record<string, CelInput>): CelResult {
  let program = programs.get(rule);
  if (!program) {
    try {
      program = plan(env ??= celEnv(), parse(rule));
    } catch (error) {
      program = { thrown: error };
    }
    programs.set(rule, program);
  }
  if (typeof program !== "function") return celError(program.thrown);
  try {
    return program(bindings);
  } catch (error) {
    return celError(error);
  }
}

/** What the engine gave for a rule, as `cel_rules.ts` reads it. */
function runWithCel({ rule, self, transition, oldSelf, schema }: RuleInput): RuleOutcome {
  const bindings: Record<string, CelInput> = { self: toCel(self, schema) };
  if (transition) bindings.oldSelf = toCel(oldSelf, schema);
  const result = runRule(rule, bindings);
  if (result === true) return true;
  return isCelError(result) ? { error: result.message } : false;
}

/** Evaluates every rule in `schema` against `value` (and `old`, for transition rules). */
export function evaluateRules(value: unknown, schema: Schema, old: unknown, hasOld: boolean): CelIssue[] {
  return evaluateRulesWith(runWithCel, value, schema, old, hasOld);
}
