/**
 * Validation that loads the CEL engine only when a document needs it. `@bufbuild/cel` takes about
 * 100 ms to load (it builds the protobuf registry of the well-known types), more than validating a
 * thousand objects; yet the MCP CRDs have one rule that runs on create, whose answer for the usual
 * values is plain string comparison. So {@linkcode validateManifestsLazily} first validates with
 * {@link NATIVE_RULES} in place of the engine and no policy rules; the first rule it cannot answer
 * exactly as the engine would, or the first AuthPolicy or RateLimitPolicy, ends that attempt, and
 * the documents are validated again with every check (`validate.ts`), so the report is always the one
 * `validateManifests` gives.
 *
 * @module
 */

import type { ManifestDocument } from "../manifest/load.ts";
import { KIND_AUTH_POLICY, KIND_RATE_LIMIT_POLICY, KUADRANT_GROUP } from "../model/vendored.ts";
import { evaluateRulesWith, type RuleInput, type RuleOutcome } from "./cel_rules.ts";
import { isObject } from "./path.ts";
import { type EngineChecks, validateManifestsWith } from "./objects.ts";
import type { ValidateOptions, ValidationReport } from "./types.ts";

/**
 * Rules of the MCP CRDs answered without the engine: each gives what CEL gives, or undefined when
 * the values are ones it leaves to the engine (a missing field's error, other types). A test checks
 * the answers against `@bufbuild/cel` and that every rule of the CRDs that runs on create is here.
 */
export const NATIVE_RULES: ReadonlyMap<string, (self: unknown) => boolean | undefined> = new Map([
  // On the JSON value, not its CEL form: an object is a CEL map and a string a CEL string either way.
  ['self.userSpecificList != "Enabled" || self.prefix != "" ', (self: unknown) => {
    if (!isObject(self)) return undefined;
    const list = self.userSpecificList;
    if (typeof list !== "string") return undefined;
    // `true || x` is true in CEL whatever x is, an error included.
    if (list !== "Enabled") return true;
    const prefix = self.prefix;
    return typeof prefix === "string" ? prefix !== "" : undefined;
  }],
]);

/** Ends an attempt without the engine; never leaves this module. */
class EngineNeeded extends Error {}
const ENGINE_NEEDED = new EngineNeeded();

function runNative({ rule, self, transition }: RuleInput): RuleOutcome {
  const answer = transition ? undefined : NATIVE_RULES.get(rule)?.(self);
  if (answer === undefined) throw ENGINE_NEEDED;
  return answer;
}

const WITHOUT_ENGINE: EngineChecks = {
  evaluateRules: (value, schema, old, hasOld) => evaluateRulesWith(runNative, value, schema, old, hasOld),
  // The policy rules look only at the policies in the files: with none, they find nothing.
  authPolicyRules(index) {
    if (index.ofKind(KIND_AUTH_POLICY, KUADRANT_GROUP).length > 0) throw ENGINE_NEEDED;
  },
  rateLimitPolicyRules(index) {
    if (index.ofKind(KIND_RATE_LIMIT_POLICY, KUADRANT_GROUP).length > 0) throw ENGINE_NEEDED;
  },
};

/**
 * The report of `validateManifests(docs, options)` when it needs no CEL engine; undefined when a
 * document needs one.
 */
export function validateWithoutEngine(
  docs: ManifestDocument[],
  options: ValidateOptions = {},
): ValidationReport | undefined {
  try {
    return validateManifestsWith(WITHOUT_ENGINE, docs, options);
  } catch (error) {
    if (error !== ENGINE_NEEDED) throw error;
    return undefined;
  }
}

/**
 * `validateManifests(docs, options)`, loading the CEL engine (and the policy rules) only when a
 * document needs them.
 */
export async function validateManifestsLazily(
  docs: ManifestDocument[],
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  // A policy's rules need the engine: no attempt without it that would be thrown away at the end.
  const withoutEngine = docs.some(isKuadrantPolicy) ? undefined : validateWithoutEngine(docs, options);
  return withoutEngine ?? (await import("./validate.ts")).validateManifests(docs, options);
}

/** Whether `doc` is an AuthPolicy or a RateLimitPolicy of Kuadrant's group. */
function isKuadrantPolicy(doc: ManifestDocument): boolean {
  const o = doc.object;
  if (!isObject(o) || (o.kind !== KIND_AUTH_POLICY && o.kind !== KIND_RATE_LIMIT_POLICY)) return false;
  return typeof o.apiVersion === "string" && o.apiVersion.split("/")[0] === KUADRANT_GROUP;
}
