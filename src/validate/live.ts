/**
 * Validation against a live cluster (`kubectl mcp validate --live`): reads what the files refer to
 * (registrations and extensions everywhere, HTTPRoutes, Gateways, the Services behind routes, the
 * referenced Secrets' labels and keys, the old versions of the objects for transition rules), runs the
 * offline rules with those facts, and then asks the API server itself with a server-side dry run
 * (`dryRun=All`, `fieldValidation=Strict`), whose rejections become `apiserver.rejected` findings.
 *
 * With AuthPolicies whose `x-mcp-authorized` wristband names signing keys, also Authorino's namespace
 * (from the Authorino or Kuadrant object), the signing key Secrets there and the extensions'
 * `trustedHeadersKey` Secrets, so the key pairs can be compared.
 *
 * What RBAC forbids to read is reported as a `live.forbidden` warning that names the request, and the
 * checks that needed it fall back to their offline form. Secret values are never kept: only their
 * keys are, and of PEM keys their kind and the SHA-256 of their public key.
 *
 * @module
 */

import { KubeApiError } from "../errors.ts";
import { applyObject } from "../kube/apply.ts";
import type { KubeClient, KubeObject, ResourceInfo } from "../kube/client.ts";
import type { ManifestDocument } from "../manifest/load.ts";
import {
  GATEWAY_API_GROUP,
  GROUP,
  KIND_GATEWAY_EXTENSION,
  KIND_SERVER_REGISTRATION,
  KIND_VIRTUAL_SERVER,
} from "../model/crds.ts";
import { CLUSTER_SOURCE } from "./entries.ts";
import { HEADER_VALUE_PROBLEMS, secretHeaderValueProblem } from "./secret_rules.ts";
import { allPemKeyFacts, PEM_KEY_FACTS } from "./signing_keys.ts";
import { DEFAULT_AUTHORINO_NAMESPACE, wristbandSigningSecrets } from "./wristband_rules.ts";
import { isObject } from "./path.ts";
import type { Finding, LiveFacts, LiveScope, ValidateOptions, ValidationReport } from "./types.ts";
import { validateManifests } from "./validate.ts";

/** Options of {@link gatherLiveFacts} and {@link validateLive}. */
export interface LiveOptions {
  /** Namespace of objects that set none (default: the client's namespace). */
  defaultNamespace?: string;
  /** Abort signal. */
  signal?: AbortSignal;
}

/** What {@link gatherLiveFacts} found: the facts, and warnings about what could not be read. */
export interface LiveGathering {
  /** Objects and the scopes read completely. */
  facts: LiveFacts;
  /** `live.forbidden` warnings, one per request RBAC refused. */
  findings: Finding[];
}

interface Want {
  group: string;
  version: string;
  kind: string;
}

const HTTP_ROUTE: Want = { group: GATEWAY_API_GROUP, version: "v1", kind: "HTTPRoute" };
const GATEWAY: Want = { group: GATEWAY_API_GROUP, version: "v1", kind: "Gateway" };
const SECRET: Want = { group: "", version: "v1", kind: "Secret" };
const SERVICE: Want = { group: "", version: "v1", kind: "Service" };
/** Authorino's own custom resource: Kuadrant creates one where Authorino (and the AuthConfigs) live. */
const AUTHORINO: Want = { group: "operator.authorino.kuadrant.io", version: "v1beta1", kind: "Authorino" };
/** The Kuadrant custom resource: its namespace is Authorino's when no Authorino object can be read. */
const KUADRANT: Want = { group: "kuadrant.io", version: "v1beta1", kind: "Kuadrant" };
const MCP_KINDS: Want[] = [KIND_SERVER_REGISTRATION, KIND_GATEWAY_EXTENSION, KIND_VIRTUAL_SERVER].map((
  kind,
) => ({
  group: GROUP,
  version: "v1",
  kind,
}));

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function objectsOf(docs: readonly ManifestDocument[]): KubeObject[] {
  return docs.map((doc) => doc.object).filter((o): o is KubeObject => isObject(o));
}

function groupOf(object: KubeObject): string {
  const apiVersion = object.apiVersion ?? "";
  return apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
}

function namespaceOf(object: KubeObject, fallback: string): string {
  return str(object.metadata?.namespace) ?? fallback;
}

/**
 * A Secret reduced to what the rules read: metadata, the names of its keys, for each key whose value
 * cannot be an HTTP header value why not (in {@link HEADER_VALUE_PROBLEMS}), and for each PEM key its
 * kind and public-key hash (in {@link PEM_KEY_FACTS}); never the values.
 */
function withoutValues(secret: KubeObject): KubeObject {
  const keys = [
    ...Object.keys(isObject(secret.data) ? secret.data : {}),
    ...Object.keys(isObject(secret.stringData) ? secret.stringData : {}),
  ];
  const problems: Record<string, string> = {};
  for (const key of keys) {
    const invalid = secretHeaderValueProblem(secret, key);
    if (invalid) problems[key] = invalid.problem;
  }
  const pemKeys = allPemKeyFacts(secret);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: secret.metadata?.name,
      namespace: secret.metadata?.namespace,
      labels: secret.metadata?.labels,
    },
    type: secret.type,
    data: Object.fromEntries(keys.map((key) => [key, ""])),
    ...(Object.keys(problems).length > 0 ? { [HEADER_VALUE_PROBLEMS]: problems } : {}),
    ...(Object.keys(pemKeys).length > 0 ? { [PEM_KEY_FACTS]: pemKeys } : {}),
  };
}

/** The Secrets an MCP object names: `[namespace, name]`. */
function secretNames(object: KubeObject, namespace: string): [string, string][] {
  const spec = object.spec;
  if (!isObject(spec) || groupOf(object) !== GROUP) return [];
  const names: (string | undefined)[] = [];
  for (const field of ["credentialRef", "caCertSecretRef", "caCertBundleRef"]) {
    const ref = spec[field];
    if (isObject(ref)) names.push(str(ref.name));
  }
  for (const field of ["sessionStore", "trustedHeadersKey"]) {
    const ref = spec[field];
    if (isObject(ref)) names.push(str(ref.secretName));
  }
  return names.filter((n): n is string => n !== undefined).map((name) => [namespace, name]);
}

class Gatherer {
  readonly objects: KubeObject[] = [];
  readonly listed: LiveScope[] = [];
  readonly findings: Finding[] = [];
  #resources = new Map<string, Promise<ResourceInfo | undefined>>();

  constructor(readonly client: KubeClient, readonly signal?: AbortSignal) {}

  /** Adds listed objects one by one: a list can be longer than a spread into push() can take. */
  #add(items: KubeObject[]): void {
    for (const item of items) this.objects.push(item);
  }

  forbidden(error: KubeApiError, what: string, consequence: string): void {
    this.findings.push({
      severity: "warning",
      code: "live.forbidden",
      message: `Cannot read ${what} in the cluster, so ${consequence}: ${error.message}`,
      source: CLUSTER_SOURCE,
      line: 0,
      column: 0,
      hint: error.hint,
    });
  }

  /** The resource of a kind, or undefined when the cluster does not serve it (then nothing of it exists). */
  resource(want: Want): Promise<ResourceInfo | undefined> {
    const key = `${want.group}/${want.kind}`;
    let found = this.#resources.get(key);
    if (!found) {
      const apiVersion = want.group ? `${want.group}/${want.version}` : want.version;
      found = this.client.resourceFor(apiVersion, want.kind).catch((error) => {
        if (error instanceof KubeApiError && error.status === 404) return undefined;
        throw error;
      });
      this.#resources.set(key, found);
    }
    return found;
  }

  /** Lists a kind in every namespace; where that is forbidden, in each of `namespaces`. */
  async list(want: Want, namespaces: Iterable<string>, consequence: string): Promise<void> {
    const info = await this.resource(want);
    if (!info) {
      this.listed.push({ group: want.group, kind: want.kind });
      return;
    }
    try {
      const list = await this.client.list(info, { namespace: null, signal: this.signal });
      this.#add(list.items);
      this.listed.push({ group: want.group, kind: want.kind });
      return;
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 403)) throw error;
    }
    for (const namespace of new Set(namespaces)) {
      try {
        const list = await this.client.list(info, { namespace, signal: this.signal });
        this.#add(list.items);
        this.listed.push({ group: want.group, kind: want.kind, namespace });
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 403)) throw error;
        this.forbidden(error, `${info.plural} in namespace ${namespace}`, consequence);
      }
    }
  }

  /** Reads named objects one by one (a get needs no list permission). */
  async get(
    want: Want,
    names: Iterable<[string, string]>,
    consequence: string,
    keep: (object: KubeObject) => KubeObject = (o) => o,
  ): Promise<void> {
    const info = await this.resource(want);
    const seen = new Set<string>();
    for (const [namespace, name] of names) {
      const key = `${namespace}/${name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const scope = { group: want.group, kind: want.kind, namespace, name };
      if (!info) {
        this.listed.push(scope);
        continue;
      }
      try {
        const object = await this.client.get(info, name, { namespace, signal: this.signal });
        object.apiVersion ??= want.group ? `${want.group}/${want.version}` : want.version;
        object.kind ??= want.kind;
        this.objects.push(keep(object));
        this.listed.push(scope);
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 404) {
          this.listed.push(scope);
        } else if (error instanceof KubeApiError && error.status === 403) {
          this.forbidden(error, `${info.plural} ${key}`, consequence);
        } else {
          throw error;
        }
      }
    }
  }

  /**
   * The namespace of Authorino: that of an Authorino object, else of the Kuadrant object, else
   * Kuadrant's default. Objects RBAC forbids to list count as absent, with a warning.
   */
  async authorinoNamespace(): Promise<string> {
    for (const want of [AUTHORINO, KUADRANT]) {
      const info = await this.resource(want);
      if (!info) continue;
      try {
        const list = await this.client.list(info, { namespace: null, signal: this.signal });
        const namespace = str(list.items[0]?.metadata?.namespace);
        if (namespace) return namespace;
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 403)) throw error;
        this.forbidden(
          error,
          `${info.plural} in all namespaces`,
          `Authorino is assumed in namespace ${DEFAULT_AUTHORINO_NAMESPACE}`,
        );
      }
    }
    return DEFAULT_AUTHORINO_NAMESPACE;
  }

  find(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.find((o) =>
      o.kind === kind && o.metadata?.name === name && o.metadata?.namespace === namespace
    );
  }
}

/**
 * Reads from the cluster what the rules need to judge `docs`. Requests RBAC refuses become
 * `live.forbidden` warnings; any other API error (an unreachable server) is thrown.
 */
export async function gatherLiveFacts(
  client: KubeClient,
  docs: readonly ManifestDocument[],
  options: LiveOptions = {},
): Promise<LiveGathering> {
  const fallback = options.defaultNamespace ?? client.namespace;
  const files = objectsOf(docs);
  const gatherer = new Gatherer(client, options.signal);
  const namespaces = new Set(files.map((o) => namespaceOf(o, fallback)));

  for (const want of MCP_KINDS) {
    await gatherer.list(
      want,
      namespaces,
      `prefixes, listeners and transition rules are checked against the files only`,
    );
  }
  const all = () => [...files, ...gatherer.objects];
  const routeNamespaces = new Set(namespaces);
  for (const object of all()) {
    const targetRef = isObject(object.spec) ? object.spec.targetRef : undefined;
    if (object.kind === KIND_SERVER_REGISTRATION && isObject(targetRef)) {
      routeNamespaces.add(str(targetRef.namespace) ?? namespaceOf(object, fallback));
    }
  }
  await gatherer.list(HTTP_ROUTE, routeNamespaces, "whether target HTTPRoutes exist is not known");

  // Gateways the extensions, routes and policies name.
  const gateways: [string, string][] = [];
  for (const object of all()) {
    const namespace = namespaceOf(object, fallback);
    const spec = isObject(object.spec) ? object.spec : {};
    const refs: unknown[] = [];
    if (object.kind === KIND_GATEWAY_EXTENSION || groupOf(object) === "kuadrant.io") {
      refs.push(spec.targetRef);
    }
    if (Array.isArray(spec.targetRefs)) refs.push(...spec.targetRefs);
    if (object.kind === "HTTPRoute" && Array.isArray(spec.parentRefs)) refs.push(...spec.parentRefs);
    for (const ref of refs) {
      if (!isObject(ref) || !str(ref.name)) continue;
      if ((ref.kind ?? "Gateway") !== "Gateway" || (ref.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP) {
        continue;
      }
      gateways.push([str(ref.namespace) ?? namespace, ref.name as string]);
    }
  }
  await gatherer.get(GATEWAY, gateways, "whether target Gateways and their listeners exist is not known");

  // Secrets the objects in the files name: labels and keys only.
  const secrets = files.flatMap((o) => secretNames(o, namespaceOf(o, fallback)));
  // Wristband signing keys (in Authorino's namespace) and the public keys of every extension that may
  // verify them: only their public-key hashes are kept.
  const signing = files.filter((o) => groupOf(o) === "kuadrant.io" && o.kind === "AuthPolicy")
    .flatMap((o) => wristbandSigningSecrets(o));
  let authorinoNamespace: string | undefined;
  if (signing.length > 0) {
    authorinoNamespace = await gatherer.authorinoNamespace();
    for (const name of signing) secrets.push([authorinoNamespace, name]);
    for (const extension of gatherer.objects.filter((o) => o.kind === KIND_GATEWAY_EXTENSION)) {
      const trusted = isObject(extension.spec) ? extension.spec.trustedHeadersKey : undefined;
      const name = isObject(trusted) ? str(trusted.secretName) : undefined;
      if (name) secrets.push([namespaceOf(extension, fallback), name]);
    }
  }
  await gatherer.get(SECRET, secrets, "referenced Secrets are not checked", withoutValues);

  // Services behind the routes the registrations in the files target.
  const services: [string, string][] = [];
  for (const registration of files.filter((o) => o.kind === KIND_SERVER_REGISTRATION)) {
    const targetRef = isObject(registration.spec) ? registration.spec.targetRef : undefined;
    if (!isObject(targetRef) || !str(targetRef.name)) continue;
    const routeNamespace = str(targetRef.namespace) ?? namespaceOf(registration, fallback);
    const route = files.find((o) =>
      o.kind === "HTTPRoute" && o.metadata?.name === targetRef.name &&
      namespaceOf(o, fallback) === routeNamespace
    ) ?? gatherer.find("HTTPRoute", routeNamespace, targetRef.name as string);
    const rules = isObject(route?.spec) ? route.spec.rules : undefined;
    if (!Array.isArray(rules)) {
      continue;
    }
    for (const rule of rules) {
      const backendRefs = isObject(rule) ? rule.backendRefs : undefined;
      if (!Array.isArray(backendRefs)) continue;
      for (const ref of backendRefs) {
        if (
          !isObject(ref) || !str(ref.name) || (ref.group ?? "") !== "" ||
          (ref.kind ?? "Service") !== "Service"
        ) {
          continue;
        }
        services.push([str(ref.namespace) ?? routeNamespace, ref.name as string]);
      }
    }
  }
  await gatherer.get(SERVICE, services, "whether the routes' backend Services exist is not known");

  return {
    facts: {
      objects: gatherer.objects,
      listed: gatherer.listed,
      ...(authorinoNamespace ? { authorinoNamespace } : {}),
    },
    findings: gatherer.findings,
  };
}

/**
 * Server-side dry run of every object in `docs` (`dryRun=All`, strict field validation): the API
 * server's own rejections become `apiserver.rejected` errors at the object; a dry run RBAC refuses
 * becomes an `apiserver.unchecked` warning.
 */
export async function serverDryRun(
  client: KubeClient,
  docs: readonly ManifestDocument[],
  options: LiveOptions & { fieldManager?: string } = {},
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const doc of docs) {
    if (doc.problems.length > 0 || !isObject(doc.object)) continue;
    const object = doc.object as KubeObject;
    if (!object.apiVersion || !object.kind || !str(object.metadata?.name)) continue;
    const position = doc.positionOf([]);
    const where = {
      source: doc.source,
      line: position.line,
      column: position.column,
      kind: object.kind,
      namespace: str(object.metadata?.namespace),
      name: object.metadata?.name,
    };
    try {
      await applyObject(client, object, {
        dryRun: "server",
        // The verdict is about the object, not about who owns its fields.
        force: true,
        fieldManager: options.fieldManager,
        namespace: options.defaultNamespace,
        signal: options.signal,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (
        error instanceof KubeApiError && (error.status === 403 || error.status === 401 || error.status === 0)
      ) {
        findings.push({
          ...where,
          severity: "warning",
          code: "apiserver.unchecked",
          message:
            `The server-side dry run could not be made, so the API server's verdict is unknown: ${message}`,
          hint: error.hint,
        });
      } else {
        findings.push({
          ...where,
          severity: "error",
          code: "apiserver.rejected",
          message: `The API server rejects ${object.kind} ${
            where.namespace ? `${where.namespace}/` : ""
          }${where.name} in a server-side dry run: ${message}`,
          hint: error instanceof KubeApiError ? error.hint : undefined,
          apiserver: true,
        });
      }
    }
  }
  return findings;
}

/**
 * `validate --live`: the offline rules with facts read from the cluster, plus the API server's own
 * verdict from a server-side dry run, in one report.
 */
export async function validateLive(
  client: KubeClient,
  docs: ManifestDocument[],
  options: Omit<ValidateOptions, "live"> & LiveOptions = {},
): Promise<ValidationReport> {
  const defaultNamespace = options.defaultNamespace ?? client.namespace;
  const gathering = await gatherLiveFacts(client, docs, { ...options, defaultNamespace });
  const report = validateManifests(docs, { ...options, defaultNamespace, live: gathering.facts });
  const dryRun = await serverDryRun(client, docs, { ...options, defaultNamespace });
  return mergeFindings(report, [...gathering.findings, ...dryRun], {
    strict: options.strict,
    sources: docs.map((doc) => doc.source),
  });
}

/**
 * Adds findings to a report and recounts: cluster-wide findings first, then by file (in `sources`
 * order), line and column.
 */
export function mergeFindings(
  report: ValidationReport,
  extra: Finding[],
  options: { strict?: boolean; sources?: string[] } = {},
): ValidationReport {
  const sources = [...new Set([...(options.sources ?? []), ...report.findings.map((f) => f.source)])];
  const strict = options.strict ?? false;
  const rank = (f: Finding) => {
    if (f.source === CLUSTER_SOURCE) return -1;
    const i = sources.indexOf(f.source);
    return i < 0 ? sources.length : i;
  };
  const findings = [...report.findings, ...extra].sort((a, b) =>
    rank(a) - rank(b) || (a.source === b.source ? a.line - b.line || a.column - b.column : 0)
  );
  const errors = findings.filter((f) => f.severity === "error").length;
  const warnings = findings.length - errors;
  return { ...report, findings, errors, warnings, ok: errors === 0 && (!strict || warnings === 0) };
}
