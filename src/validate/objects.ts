/**
 * Offline validation of MCP gateway manifests: what the API server would say (schema, metadata, CEL
 * on the defaulted object, transition rules against old objects) plus the plugin's own cross-object
 * rules. Every finding is reported at once.
 *
 * Order follows the API server for custom resources under server-side apply (what `kubectl mcp apply`
 * and `kubectl apply --server-side` send): defaulting, then schema and metadata validation, then CEL
 * rules, which are skipped when a blocking schema error (type, required, enum, maxLength, maxItems)
 * exists anywhere in the object, because the API server skips them too (`hasBlockingErr` in the
 * apiextensions registry strategy).
 *
 * Nulls: a null field with a default gets the default; a null field without one is a type error under
 * server-side apply (the apply patch is not pruned), although `kubectl create` and client-side apply
 * drop it. We report it, since a manifest that passes server-side apply passes the others too.
 *
 * Where the API server's answer differs in form, not verdict:
 * - unknown fields fail strict decoding before validation, so the server reports only those; we
 *   report them together with everything else;
 * - `status` is dropped on create (status subresource), so only its unknown fields count;
 * - `v1alpha1` is not served (`served: false`): the server answers "no matches for kind"; we also
 *   check the object against the v1alpha1 schema so every problem shows at once.
 * Of other kinds' schemas only what MCP users trip over in HTTPRoutes is checked: `spec.rules` must
 * have 1..16 items, and a backendRef to a Service needs a port.
 * Not modelled: validation ratcheting of unchanged invalid fields on update, int32 range of
 * `format: int32` integers, CEL cost limits, the rest of the Gateway API and Kuadrant schemas.
 *
 * @module
 */

import type { FieldPath, ManifestDocument } from "../manifest/load.ts";
import { crdForKind, DEPRECATED_VERSION, GROUP, KIND_SERVER_REGISTRATION, VERSION } from "../model/crds.ts";
import type { ObjectSchema } from "../model/schema.ts";
import { cloneJson, defaultInPlace, pruneNullsInPlace } from "../model/defaults.ts";
import { GATEWAY_API_GROUP } from "../model/crds.ts";
import { foreignCrd } from "../model/vendored.ts";
import type { CelIssue } from "./cel_rules.ts";
import { crossObjectFindings, type PolicyChecks } from "./cross.ts";
import { CLUSTER_SOURCE, type Entry } from "./entries.ts";
import { isBase64 } from "./secret_rules.ts";
import { checkMetadata, secretKeyError } from "./metadata.ts";
import { formatPath, isObject, valueAt } from "./path.ts";
import { checkSchema, type SchemaIssue } from "./schema_check.ts";
import type { Finding, Severity, ValidateOptions, ValidationReport } from "./types.ts";

/** Builds findings for one document. */
export class FindingSink {
  /** Findings collected so far. */
  readonly findings: Finding[] = [];

  /** Adds a finding located at `path` of `entry`'s document. */
  add(
    entry: Pick<Entry, "doc" | "kind" | "namespace" | "name" | "prefix">,
    severity: Severity,
    code: string,
    message: string,
    path: FieldPath,
    extra: { atKey?: boolean; hint?: string; apiserver?: boolean } = {},
  ): void {
    const fullPath = [...entry.prefix, ...path];
    const position = entry.doc.positionOf(fullPath, { key: extra.atKey });
    const finding: Finding = {
      severity,
      code,
      message,
      source: entry.doc.source,
      line: position.line,
      column: position.column,
    };
    if (entry.kind) finding.kind = entry.kind;
    if (entry.namespace) finding.namespace = entry.namespace;
    if (entry.name) finding.name = entry.name;
    if (path.length > 0) finding.field = formatPath(path);
    if (extra.hint) finding.hint = extra.hint;
    if (extra.apiserver) finding.apiserver = true;
    this.findings.push(finding);
  }
}

/**
 * The checks that need a CEL engine (CRD rules, AuthPolicy and RateLimitPolicy predicates), given by
 * the caller: `validate.ts` gives the real ones; a caller that can tell no document needs them loads
 * no engine (see `without_cel.ts`).
 */
export interface EngineChecks extends PolicyChecks {
  /** Evaluates the `x-kubernetes-validations` rules of `schema` against `value` (and `old`). */
  evaluateRules(value: unknown, schema: ObjectSchema, old: unknown, hasOld: boolean): CelIssue[];
}

/** Options as they travel inside this module: the caller's, with the engine checks. */
type CheckOptions = ValidateOptions & { checks: EngineChecks };

/** Validates documents with `checks`; see the module documentation for what is checked. */
export function validateManifestsWith(
  checks: EngineChecks,
  docs: ManifestDocument[],
  given: ValidateOptions = {},
): ValidationReport {
  const options: CheckOptions = { ...given, checks };
  const sink = new FindingSink();
  const defaultNamespace = options.defaultNamespace ?? "default";
  const entries: Entry[] = [];

  for (const doc of docs) {
    for (const problem of doc.problems) {
      sink.findings.push({
        severity: "error",
        code: problem.code,
        message: problem.message,
        source: doc.source,
        line: problem.line,
        column: problem.column,
        apiserver: true,
      });
    }
    if (doc.problems.length > 0) continue;
    const entry = makeEntry(doc, defaultNamespace);
    if (!entry) {
      sink.add(
        { doc, kind: "", namespace: "", name: "", prefix: [] },
        "error",
        "object.invalid",
        "The document is not a Kubernetes object: expected a mapping with apiVersion, kind and metadata",
        [],
        {
          apiserver: true,
        },
      );
      continue;
    }
    entries.push(entry);
    validateObject(entry, sink, options, defaultNamespace);
  }

  // A live object that the files hold too is the old version of one of them: the files' version counts.
  const inFiles = new Set(entries.map(identity));
  const liveEntries = (options.live?.objects ?? [])
    .map((object, i) =>
      makeEntry({
        source: CLUSTER_SOURCE,
        index: i,
        object,
        problems: [],
        positionOf: () => ({ line: 0, column: 0 }),
      }, defaultNamespace)
    )
    .filter((e): e is Entry => e !== undefined && !inFiles.has(identity(e)))
    .map(defaultLive);
  crossObjectFindings(entries, liveEntries, sink, options, checks);

  // Findings go in the order of the first document of their source; a map, since a search of the
  // documents per comparison is quadratic in their number.
  const sourceOrder = new Map<string, number>();
  docs.forEach((doc, i) => {
    if (!sourceOrder.has(doc.source)) sourceOrder.set(doc.source, i);
  });
  const docOrder = (finding: Finding) => sourceOrder.get(finding.source) ?? Number.MAX_SAFE_INTEGER;
  const findings = sink.findings.sort((a, b) =>
    (docOrder(a) - docOrder(b)) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code)
  );
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.length - errors;
  return {
    findings,
    errors,
    warnings,
    objects: entries.length,
    ok: errors === 0 && (!options.strict || warnings === 0),
  };
}

function identity(entry: Entry): string {
  return `${entry.group}/${entry.kind}/${entry.namespace}/${entry.name}`;
}

/** Objects read from a cluster are already defaulted, except under an older CRD; default them anyway. */
function defaultLive(entry: Entry): Entry {
  const crd = entry.group === GROUP ? crdForKind(entry.kind) : foreignCrd(entry.group, entry.kind);
  const schema = crd?.versions.find((v) => v.name === entry.version)?.schema;
  if (!schema) return entry;
  const defaulted = cloneJson(entry.object);
  defaultInPlace(defaulted, schema);
  return { ...entry, defaulted };
}

function makeEntry(doc: ManifestDocument, defaultNamespace: string): Entry | undefined {
  const object = doc.object;
  if (!isObject(object)) return undefined;
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const apiVersion = typeof object.apiVersion === "string" ? object.apiVersion : "";
  const kind = typeof object.kind === "string" ? object.kind : "";
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) : ["", apiVersion];
  return {
    doc,
    prefix: [],
    object,
    defaulted: object,
    apiVersion,
    group,
    version,
    kind,
    namespace: typeof metadata.namespace === "string" && metadata.namespace !== ""
      ? metadata.namespace
      : defaultNamespace,
    name: typeof metadata.name === "string" ? metadata.name : "",
    valid: true,
  };
}

const MIGRATE_HINT = (source: string) => `Run: kubectl mcp migrate -f ${source === "-" ? "FILE" : source}`;

function validateObject(entry: Entry, sink: FindingSink, options: CheckOptions, defaultNamespace: string) {
  const { object } = entry;
  const apiserver = { apiserver: true };
  if (!entry.apiVersion) {
    sink.add(entry, "error", "schema.required", 'Missing required field "apiVersion"', [], apiserver);
  }
  if (!entry.kind) {
    sink.add(entry, "error", "schema.required", 'Missing required field "kind"', [], apiserver);
  }
  if (entry.group === GATEWAY_API_GROUP && entry.kind === "HTTPRoute") httpRouteRules(entry, sink);
  if (entry.group === "" && entry.version === "v1" && entry.kind === "Secret") secretObjectRules(entry, sink);
  if (!entry.kind) return;
  const foreign = foreignCrd(entry.group, entry.kind);
  if (foreign) {
    const version = foreign.versions.find((v) => v.name === entry.version && v.served);
    if (!version) {
      const served = foreign.versions.filter((v) => v.served).map((v) => `${foreign.group}/${v.name}`);
      sink.add(
        entry,
        "error",
        "apiversion.unknown",
        `apiVersion "${entry.apiVersion}" is not served for ${entry.kind}; use ${served.join(" or ")}`,
        ["apiVersion"],
        apiserver,
      );
      entry.valid = false;
      return;
    }
    checkCustomResource(entry, version.schema, sink, options, defaultNamespace);
    return;
  }
  if (entry.group !== GROUP) return;

  const crd = crdForKind(entry.kind);
  if (!crd) {
    sink.add(
      entry,
      "error",
      "kind.unknown",
      `Kind "${entry.kind}" is not a kind of ${GROUP}; expected one of MCPServerRegistration, ` +
        `MCPGatewayExtension, MCPVirtualServer`,
      ["kind"],
      apiserver,
    );
    entry.valid = false;
    return;
  }
  const version = crd.versions.find((v) => v.name === entry.version);
  const ignoreUnknown = new Set<string>();
  if (entry.version === DEPRECATED_VERSION) {
    sink.add(
      entry,
      "error",
      "apiversion.deprecated",
      `apiVersion "${entry.apiVersion}" is no longer served; ${entry.kind} uses ${GROUP}/${VERSION}`,
      ["apiVersion"],
      { apiserver: true, hint: MIGRATE_HINT(entry.doc.source) },
    );
    const spec = object.spec;
    if (isObject(spec) && "toolPrefix" in spec) {
      sink.add(entry, "error", "field.renamed", `Field "spec.toolPrefix" was renamed to "spec.prefix"`, [
        "spec",
        "toolPrefix",
      ], {
        atKey: true,
        apiserver: true,
        hint: MIGRATE_HINT(entry.doc.source),
      });
      ignoreUnknown.add("spec.toolPrefix");
    }
  } else if (!version || !version.served) {
    sink.add(
      entry,
      "error",
      "apiversion.unknown",
      `apiVersion "${entry.apiVersion}" is not served for ${entry.kind}; use ${GROUP}/${VERSION}`,
      ["apiVersion"],
      apiserver,
    );
    entry.valid = false;
    return;
  }
  checkCustomResource(
    entry,
    (version ?? crd.versions[0]).schema,
    sink,
    options,
    defaultNamespace,
    ignoreUnknown,
  );
}

/**
 * What the API server checks of a custom resource against its CRD's schema: defaulting, metadata,
 * the schema (status only for unknown fields: the status subresource drops it on create), then the
 * CEL rules unless a blocking schema error exists.
 */
function checkCustomResource(
  entry: Entry,
  schema: ObjectSchema,
  sink: FindingSink,
  options: CheckOptions,
  defaultNamespace: string,
  ignoreUnknown: ReadonlySet<string> = new Set(),
) {
  // Server-side apply defaults nulls that have a default and keeps the others (a type error below).
  const defaulted = cloneJson(entry.object);
  defaultInPlace(defaulted, schema);
  entry.defaulted = defaulted;

  // Concatenated, not spread into push(): an object with a huge invalid list has more issues than
  // a call takes arguments.
  let issues: SchemaIssue[] = checkMetadata(defaulted.metadata);
  const { status, metadata: _metadata, ...rest } = defaulted;
  const rootWithoutStatus: ObjectSchema = {
    ...schema,
    properties: Object.fromEntries(Object.entries(schema.properties ?? {}).filter(([k]) => k !== "status")),
  };
  issues = issues.concat(checkSchema({ ...rest, metadata: {} }, rootWithoutStatus, [], { ignoreUnknown }));
  if (status !== undefined && schema.properties?.status) {
    issues = issues.concat(
      checkSchema(status, schema.properties.status, ["status"], { unknownFieldsOnly: true }),
    );
  }
  for (const issue of issues) {
    const hint = issue.code === "schema.type" && valueAt(defaulted, issue.path) === null
      ? "Remove the field: server-side apply (kubectl mcp apply, kubectl apply --server-side) rejects a null " +
        "without a default; only kubectl create and client-side apply drop it."
      : undefined;
    sink.add(entry, "error", issue.code, issue.message, issue.path, {
      atKey: issue.atKey,
      apiserver: true,
      hint,
    });
  }
  if (issues.length > 0) entry.valid = false;

  const blocking = issues.some((i) => i.blocking);
  if (!blocking) {
    const old = findOld(entry, options, defaultNamespace);
    let oldDefaulted: unknown;
    if (old !== undefined) {
      oldDefaulted = cloneJson(old);
      pruneNullsInPlace(oldDefaulted, schema);
      defaultInPlace(oldDefaulted, schema);
    }
    const { status: _s, ...withoutStatus } = defaulted;
    for (
      const issue of options.checks.evaluateRules(withoutStatus, schema, oldDefaulted, old !== undefined)
    ) {
      sink.add(entry, "error", issue.code, issue.message, issue.path, { apiserver: true });
      entry.valid = false;
    }
  }
}

/**
 * What the API server checks of a Secret that credentials go in: its metadata like every object's
 * (a name such as `Bad_Name` is refused), its `data` and `stringData` keys, and that `data` values
 * are base64.
 */
function secretObjectRules(entry: Entry, sink: FindingSink) {
  const apiserver = { apiserver: true };
  const issues = checkMetadata(entry.object.metadata);
  for (const issue of issues) {
    sink.add(entry, "error", issue.code, issue.message, issue.path, { ...apiserver, atKey: issue.atKey });
  }
  for (const field of ["data", "stringData"]) {
    const values = entry.object[field];
    if (!isObject(values)) continue;
    for (const [key, value] of Object.entries(values)) {
      const keyError = secretKeyError(key);
      if (keyError) {
        sink.add(
          entry,
          "error",
          "secret.key-invalid",
          `Key ${JSON.stringify(key)} in "${field}" is invalid: ${keyError}`,
          [field, key],
          { ...apiserver, atKey: true },
        );
        entry.valid = false;
      }
      if (field === "data" && typeof value === "string" && !isBase64(value)) {
        sink.add(
          entry,
          "error",
          "secret.data-invalid",
          `Field "${formatPath([field, key])}" must be base64 (the value is not shown)`,
          [field, key],
          apiserver,
        );
        entry.valid = false;
      }
    }
  }
  if (issues.length > 0) entry.valid = false;
}

/**
 * The HTTPRoute schema rules of the Gateway API CRD that MCP users meet: 1..16 rules (an explicitly
 * empty list is rejected; a missing one is defaulted), and a port on every backendRef to a Service.
 */
function httpRouteRules(entry: Entry, sink: FindingSink) {
  const spec = entry.object.spec;
  if (!isObject(spec)) return;
  const apiserver = { apiserver: true };
  const rules = spec.rules;
  if (!Array.isArray(rules)) return;
  if (rules.length === 0) {
    sink.add(entry, "error", "schema.min-items", 'Field "spec.rules" must have at least 1 item', [
      "spec",
      "rules",
    ], apiserver);
  } else if (rules.length > 16) {
    sink.add(
      entry,
      "error",
      "schema.max-items",
      `Field "spec.rules" must have at most 16 items, not ${rules.length}`,
      ["spec", "rules"],
      apiserver,
    );
  }
  rules.forEach((rule, i) => {
    const backendRefs = isObject(rule) ? rule.backendRefs : undefined;
    if (!Array.isArray(backendRefs)) return;
    backendRefs.forEach((ref, j) => {
      if (!isObject(ref)) return;
      const group = typeof ref.group === "string" ? ref.group : "";
      const kind = typeof ref.kind === "string" ? ref.kind : "Service";
      if (group === "" && kind === "Service" && ref.port === undefined) {
        sink.add(
          entry,
          "error",
          "cel",
          `Field "spec.rules[${i}].backendRefs[${j}]" must have a port: a backendRef to a Service needs one`,
          ["spec", "rules", i, "backendRefs", j],
          apiserver,
        );
      }
    });
  });
}

function findOld(entry: Entry, options: ValidateOptions, defaultNamespace: string): unknown {
  const candidates = [
    ...(options.old ?? []).map((d) => d.object),
    ...(options.live?.objects ?? []),
  ];
  for (const candidate of candidates) {
    if (!isObject(candidate) || candidate.kind !== entry.kind) continue;
    const metadata = isObject(candidate.metadata) ? candidate.metadata : {};
    const namespace = typeof metadata.namespace === "string" && metadata.namespace !== ""
      ? metadata.namespace
      : defaultNamespace;
    if (metadata.name === entry.name && namespace === entry.namespace) return candidate;
  }
  return undefined;
}

/** Whether an object is an MCPServerRegistration (any served or deprecated version). */
export function isServerRegistration(object: unknown): boolean {
  return isObject(object) && object.kind === KIND_SERVER_REGISTRATION &&
    typeof object.apiVersion === "string" && object.apiVersion.startsWith(`${GROUP}/`);
}
