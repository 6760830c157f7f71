/**
 * Types shared by the validator: findings, reports, options.
 *
 * @module
 */

import type { ManifestDocument } from "../manifest/load.ts";

/** How bad a finding is: errors fail validation, warnings only with `strict`. */
export type Severity = "error" | "warning";

/** One problem found in the manifests. */
export interface Finding {
  /** error or warning. */
  severity: Severity;
  /** Stable code, e.g. `schema.pattern`; see {@linkcode FINDING_CODES}. */
  code: string;
  /** Sentence-case message that names the field. */
  message: string;
  /** File path, or `-` for stdin. */
  source: string;
  /** 1-based line of the field (or its nearest existing parent). */
  line: number;
  /** 1-based column. */
  column: number;
  /** Kind of the object, when known. */
  kind?: string;
  /** Namespace of the object, when known. */
  namespace?: string;
  /** Name of the object, when known. */
  name?: string;
  /** JSONPath-like field, e.g. `spec.targetRef.name` or `spec.tools[2]`. */
  field?: string;
  /** A hint that tells the user how to fix it, e.g. a command. */
  hint?: string;
  /** True when the Kubernetes API server itself would reject the object for this reason. */
  apiserver?: boolean;
}

/** The result of validating a set of manifests. */
export interface ValidationReport {
  /** Every finding, ordered by source, document, line and column. */
  findings: Finding[];
  /** Number of error findings. */
  errors: number;
  /** Number of warning findings. */
  warnings: number;
  /** Number of objects checked. */
  objects: number;
  /** True when there are no errors (and, with `strict`, no warnings). */
  ok: boolean;
}

/** A part of a cluster that was read completely: every object in it is among {@link LiveFacts.objects}. */
export interface LiveScope {
  /** API group, "" for the core group. */
  group: string;
  /** Kind. */
  kind: string;
  /** Namespace; undefined for all namespaces. */
  namespace?: string;
  /** Name, when one object was looked up (a get rather than a list). */
  name?: string;
}

/** Objects that exist in a cluster, for references the files do not contain. */
export interface LiveFacts {
  /** Existing objects (any kind); used to resolve references and as old objects for transition rules. */
  objects: unknown[];
  /**
   * What was read completely: a reference into one of these scopes to an object not in `objects`
   * does not exist, an error; elsewhere it only may exist, a warning.
   */
  listed?: LiveScope[];
  /**
   * The namespace of Authorino, where Kuadrant puts the AuthConfigs and Authorino reads wristband
   * signing keys (`signingKeyRefs`); default `kuadrant-system`.
   */
  authorinoNamespace?: string;
}

/** Options of `validateManifests`. */
export interface ValidateOptions {
  /** Warnings fail validation too. */
  strict?: boolean;
  /** Tool name length to stay under (default 64; the MCP specification allows 128). */
  maxToolName?: number;
  /** Old versions of the objects: CEL transition rules (`oldSelf`) run against them. */
  old?: ManifestDocument[];
  /** Upstream tool names per registration, keyed `namespace/name`, for checks on real prefixed names. */
  toolNames?: Record<string, string[]>;
  /** Objects from a live cluster. */
  live?: LiveFacts;
  /** Namespace of objects that set none (default `default`). */
  defaultNamespace?: string;
}

/** Every finding code the validator emits, with what it means. */
export const FINDING_CODES: Readonly<Record<string, string>> = {
  "yaml.syntax": "The document is not valid YAML or JSON.",
  "yaml.limit":
    "The document was not read: it resolves too many aliases (an alias bomb) or nests too deeply.",
  "object.invalid": "The document is not a Kubernetes object (not a mapping).",
  "schema.required": "A required field is missing.",
  "schema.type": "A field has the wrong JSON type.",
  "schema.enum": "A field has a value outside its enum.",
  "schema.pattern": "A string does not match its pattern.",
  "schema.min-length": "A string is shorter than its minLength.",
  "schema.max-length": "A string is longer than its maxLength.",
  "schema.min-items": "An array has fewer items than minItems.",
  "schema.max-items": "An array has more items than maxItems.",
  "schema.minimum": "A number is below its minimum.",
  "schema.maximum": "A number is above its maximum.",
  "schema.duplicate": "A set or map list has a duplicate entry.",
  "schema.unknown-field": "A field the schema does not declare (strict field validation).",
  "metadata.name": "metadata.name is missing or not a DNS-1123 subdomain.",
  "metadata.namespace": "metadata.namespace is not a DNS-1123 label.",
  "metadata.labels": "A label key or value is invalid.",
  "metadata.annotations": "An annotation key is invalid or annotations are too large.",
  "apiversion.deprecated": "mcp.kuadrant.io/v1alpha1 is no longer served; migrate to v1.",
  "apiversion.unknown": "The apiVersion is not served for this kind.",
  "kind.unknown": "The kind is not a kind of the mcp.kuadrant.io group.",
  "field.renamed": "A field was renamed (toolPrefix became prefix).",
  "cel": "An x-kubernetes-validations rule evaluated to false or failed.",
  "cel.transition": "A transition rule (oldSelf) failed against the old object.",
  "ref.route-missing": "The HTTPRoute a registration targets is not among the files.",
  "ref.gateway-missing": "The Gateway an extension targets is not among the files.",
  "ref.secret-missing": "A referenced Secret is not among the files.",
  "route.shape": "The target HTTPRoute does not have exactly one rule, one backendRef and a hostname.",
  "secret.label": "A referenced Secret lacks the label mcp.kuadrant.io/secret=true.",
  "secret.key-missing": "A referenced Secret lacks the referenced key.",
  "secret.key-invalid":
    "A Secret data or stringData key is not [-._a-zA-Z0-9]+ (or is '.', or starts with '..').",
  "secret.data-invalid": "A Secret data value is not base64.",
  "ref.secret-invalid":
    "A reference names a Secret or key that no Secret can have (not a DNS-1123 subdomain, or an invalid key).",
  "credential.invalid":
    "A registration's credential (its credentialRef Secret's value) cannot be an HTTP header value (CR, LF, NUL, control characters, beyond Latin-1).",
  "prefix.duplicate": "Two registrations on one gateway use the same prefix.",
  "tool.duplicate": "Two registrations on one gateway expose the same prefixed tool name.",
  "tool-name.budget": "A prefix or prefixed tool name is too long for maxToolName or the 128 limit.",
  "tool-name.invalid": "A prefixed tool name uses characters outside [A-Za-z0-9._-].",
  "gateway.duplicate-namespace": "More than one MCPGatewayExtension in a namespace.",
  "gateway.duplicate-listener": "Two MCPGatewayExtensions target the same Gateway listener (port).",
  "gateway.listener-missing": "The targeted Gateway has no listener named sectionName.",
  "policy.target-missing": "A policy targets an object that is not among the files.",
  "policy.section-missing":
    "A policy's targetRef.sectionName names no listener of the Gateway (or no rule of the HTTPRoute).",
  "policy.cel":
    "An AuthPolicy or RateLimitPolicy CEL predicate or expression does not compile (Authorino would not " +
    "reconcile the policy; the wasm-shim would not apply the limit).",
  "policy.header":
    "An AuthPolicy or RateLimitPolicy predicate, counter or selector reads a request header the gateway never sets (x-mcp-tool for " +
    "x-mcp-toolname), or a header name with upper case (Authorino sees them in lower case).",
  "policy.limit":
    "A RateLimitPolicy rate's limit is negative (Limitador gets 0: every request the limit applies to is refused).",
  "policy.window":
    "A RateLimitPolicy rate's window is not whole seconds (Limitador gets it truncated; under 1s it is 0).",
  "policy.wristband":
    "The x-mcp-authorized success header is not a wristband the broker can verify: ES256, with the " +
    "allowed-capabilities claim.",
  "policy.wristband-key":
    "The wristband's signing key Secret (signingKeyRefs, in Authorino's namespace) is missing, unusable, or " +
    "does not pair with the public key in the extension's trustedHeadersKey Secret.",
  "virtualserver.tool-missing": "A virtual server lists a tool no registration provides.",
  "broker.tags-hang": "A registration sets spec.tags, which makes the cluster's broker v0.9.0 hang.",
  "elicitation.disabled":
    "A registration sets tokenURLElicitation but its gateway's extension does not enable it.",
  "ref.virtualserver-missing":
    "An HTTPRoute sets the X-Mcp-Virtualserver header to a name no MCPVirtualServer has (--live).",
  "ref.service-missing": "A Service the target HTTPRoute sends to does not exist in the cluster (--live).",
  "live.forbidden": "A cluster check was skipped: RBAC forbids reading what it needs (--live).",
  "apiserver.rejected": "The API server rejected the object in a server-side dry run (--live).",
  "apiserver.unchecked": "The server-side dry run could not be made, e.g. RBAC forbids patch (--live).",
};
