/**
 * Offline validation of MCP gateway manifests with every check (`objects.ts` holds what is checked
 * and in which order; this binds the checks that need the CEL engine).
 *
 * @module
 */

import type { ManifestDocument } from "../manifest/load.ts";
import { authPolicyRules } from "./auth_policy.ts";
import { evaluateRules } from "./cel.ts";
import { type EngineChecks, validateManifestsWith } from "./objects.ts";
import { rateLimitPolicyRules } from "./rate_limit_policy.ts";
import type { ValidateOptions, ValidationReport } from "./types.ts";

export { FindingSink, isServerRegistration } from "./objects.ts";

/** The checks with the CEL engine: CRD rules, AuthPolicy and RateLimitPolicy rules. */
export const ENGINE_CHECKS: EngineChecks = { evaluateRules, authPolicyRules, rateLimitPolicyRules };

/** Validates documents; see `objects.ts` for what is checked. */
export function validateManifests(docs: ManifestDocument[], options: ValidateOptions = {}): ValidationReport {
  return validateManifestsWith(ENGINE_CHECKS, docs, options);
}
