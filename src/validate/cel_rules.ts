/**
 * Evaluates `x-kubernetes-validations` rules the way the API server does: on the defaulted object,
 * `self` bound to the value at the rule's node, transition rules (those that use `oldSelf`) only when
 * an old value exists at the same path. An evaluation error (e.g. `no such key`) rejects the object
 * just like a false result. The engine is the caller's (`cel.ts` binds the real one), so this module
 * loads none.
 *
 * @module
 */

import type { CelInput } from "@bufbuild/cel";
import type { FieldPath } from "../manifest/load.ts";
import type { Schema, XValidation } from "../model/schema.ts";
import { formatPath, isObject } from "./path.ts";

/** One failed rule. */
export interface CelIssue {
  /** `cel` or `cel.transition`. */
  code: string;
  /** Sentence-case message naming the field. */
  message: string;
  /** The node the rule is attached to. */
  path: FieldPath;
  /** The rule that failed. */
  rule: XValidation;
}

/** Whether a rule is a transition rule (refers to `oldSelf`). */
export function isTransitionRule(rule: XValidation): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

/** Converts a JSON value to a CEL input, typed by its schema (integers become CEL ints). */
export function toCel(value: unknown, given: Schema | undefined): CelInput {
  // An untyped node (preserve-unknown-fields) types its values by what they are, like no schema.
  const schema = given?.type === "any" ? undefined : given;
  if (Array.isArray(value)) {
    const items = schema?.type === "array" ? schema.items : undefined;
    return value.map((item) => toCel(item, items)) as CelInput;
  }
  if (isObject(value)) {
    const child = (key: string) =>
      schema?.type === "object" ? schema.properties?.[key] ?? schema.additionalProperties : undefined;
    return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v, child(k))])) as unknown as CelInput;
  }
  if (typeof value === "number" && (schema?.type === "integer" || (!schema && Number.isInteger(value)))) {
    return BigInt(value);
  }
  return value as CelInput;
}

/**
 * What a rule gave: true, false, or the reason it could not be evaluated (the engine's message).
 * Throwing is left to a runner that cannot evaluate a rule at all.
 */
export type RuleOutcome = boolean | { error: string };

/** A rule to evaluate, with the JSON values `self` and (transition rules) `oldSelf` and their schema. */
export interface RuleInput {
  /** The rule's expression. */
  rule: string;
  /** The value at the rule's node. */
  self: unknown;
  /** Whether the rule uses `oldSelf`. */
  transition: boolean;
  /** The old value at the same path, for transition rules. */
  oldSelf?: unknown;
  /** The schema of the node, which types the values (integers are CEL ints). */
  schema: Schema;
}

/** Evaluates one rule. The runner converts the values for its engine (`toCel`), if it needs them converted. */
export type RuleRunner = (input: RuleInput) => RuleOutcome;

/** Evaluates every rule in `schema` against `value` (and `old`, for transition rules) with `run`. */
export function evaluateRulesWith(
  run: RuleRunner,
  value: unknown,
  schema: Schema,
  old: unknown,
  hasOld: boolean,
): CelIssue[] {
  const issues: CelIssue[] = [];
  walk(run, value, schema, old, hasOld, [], issues);
  return issues;
}

function walk(
  run: RuleRunner,
  value: unknown,
  schema: Schema,
  old: unknown,
  hasOld: boolean,
  path: FieldPath,
  issues: CelIssue[],
) {
  if (value === undefined || value === null) return;
  for (const rule of schema.xValidations ?? []) {
    const transition = isTransitionRule(rule);
    if (transition && (!hasOld || old === undefined || old === null)) continue;
    const result = run({ rule: rule.rule, self: value, transition, oldSelf: old, schema });
    if (result === true) continue;
    const field = formatPath(path) || "<root>";
    if (result !== false) {
      const reason = result.error.replace(/^field not found: /, "no such key: ");
      issues.push({
        code: transition ? "cel.transition" : "cel",
        message: `Rule ${JSON.stringify(rule.rule.trim())} on "${field}" could not be evaluated: ${reason}`,
        path,
        rule,
      });
    } else {
      issues.push({
        code: transition ? "cel.transition" : "cel",
        message: `Field "${field}": ${rule.message ?? `failed rule: ${rule.rule.trim()}`}`,
        path,
        rule,
      });
    }
  }
  if (schema.type === "object" && isObject(value)) {
    const oldObject = isObject(old) ? old : undefined;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = schema.properties?.[key] ?? schema.additionalProperties;
      if (childSchema) {
        walk(
          run,
          child,
          childSchema,
          oldObject?.[key],
          hasOld && oldObject !== undefined,
          [...path, key],
          issues,
        );
      }
    }
  } else if (schema.type === "array" && Array.isArray(value)) {
    // Items of atomic and set lists do not correlate with old items; map lists correlate by key.
    value.forEach((item, i) => {
      let oldItem: unknown;
      if (schema.listType === "map" && schema.listMapKeys && Array.isArray(old) && isObject(item)) {
        oldItem = old.find((o) => isObject(o) && schema.listMapKeys!.every((k) => o[k] === item[k]));
      }
      walk(run, item, schema.items, oldItem, hasOld && oldItem !== undefined, [...path, i], issues);
    });
  }
}
