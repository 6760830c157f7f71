/**
 * Offline validation of MCP gateway manifests: schema, metadata and CEL the way the API server checks
 * them, plus cross-object rules.
 *
 * @module
 */

export { validateManifests } from "./validate.ts";
export { MIN_TOOL_NAME_ROOM } from "./cross.ts";
export { FINDING_CODES } from "./types.ts";
export type { Finding, LiveFacts, LiveScope, Severity, ValidateOptions, ValidationReport } from "./types.ts";
export { checkSchema, type SchemaIssue } from "./schema_check.ts";
export { evaluateRules, isTransitionRule, toCel } from "./cel.ts";
export {
  checkMetadata,
  DNS_SUBDOMAIN_RULE,
  isDnsLabel,
  isDnsSubdomain,
  qualifiedNameError,
  SECRET_KEY_RULE,
  secretKeyError,
} from "./metadata.ts";
export { formatPath } from "./path.ts";
export {
  brokerDefectWarnings,
  hasTags,
  TAGS_HANG,
  TAGS_HANG_HINT,
  tagsHangMessage,
} from "./broker_defects.ts";
export {
  gatherLiveFacts,
  type LiveGathering,
  type LiveOptions,
  mergeFindings,
  serverDryRun,
  validateLive,
} from "./live.ts";
