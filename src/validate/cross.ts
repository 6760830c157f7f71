/**
 * The plugin's own rules across objects: references between registrations, routes, gateways, secrets
 * and policies, prefix and tool-name conflicts per gateway, the tool-name length budget, virtual
 * server tools. A reference to an object that is not in the files may exist in the cluster, so it is a
 * warning; a reference to an object in the files that does not fit is an error. With live facts
 * (`validate --live`), objects in the cluster count as well: a reference into a part of the cluster
 * that was read completely and that finds nothing is an error, and registrations, extensions, routes
 * and Secrets in the cluster are held to the same rules (findings land on the objects in the files).
 *
 * @module
 */

import type { FieldPath, ManifestDocument } from "../manifest/load.ts";
import {
  GATEWAY_API_GROUP,
  GROUP,
  KIND_GATEWAY_EXTENSION,
  KIND_SERVER_REGISTRATION,
  KIND_VIRTUAL_SERVER,
  SECRET_LABEL,
  SECRET_LABEL_VALUE,
  TOOL_NAME_CLIENT_LIMIT,
  TOOL_NAME_MAX,
} from "../model/mod.ts";
import { CONFLICT_RACE, hasTags, TAGS_HANG, TAGS_HANG_HINT, tagsHangMessage } from "./broker_defects.ts";
import { isObject, valueAt } from "./path.ts";
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain, secretKeyError } from "./metadata.ts";
import { invalidHeaderValue } from "../../sim/redact.ts";
import type { LiveScope, Severity, ValidateOptions } from "./types.ts";

/** An object under validation with what the rules need to know about it. */
export interface Entry {
  /** The document it came from. */
  doc: ManifestDocument;
  /** Path prefix of the object inside its document (always empty: list items carry their own positions). */
  prefix: FieldPath;
  /** The object as written. */
  object: Record<string, unknown>;
  /** The object after API-server defaulting (MCP kinds), else the object as written. */
  defaulted: Record<string, unknown>;
  /** apiVersion as written. */
  apiVersion: string;
  /** API group (empty for core). */
  group: string;
  /** API version. */
  version: string;
  /** Kind. */
  kind: string;
  /** Namespace (the default namespace when unset). */
  namespace: string;
  /** Name. */
  name: string;
  /** False when schema checks failed. */
  valid: boolean;
}

/** Where findings go. */
export interface Sink {
  /** Adds a finding at `path` of `entry`. */
  add(
    entry: Entry,
    severity: Severity,
    code: string,
    message: string,
    path: FieldPath,
    extra?: { atKey?: boolean; hint?: string },
  ): void;
}

/**
 * A prefix that leaves fewer characters than this under `maxToolName` gets a warning when the
 * server's tool names are unknown: most tool names are longer than 20 characters.
 */
export const MIN_TOOL_NAME_ROOM = 20;

const KUADRANT_POLICY_KINDS = new Set(["AuthPolicy", "RateLimitPolicy", "TokenRateLimitPolicy"]);
const TOOL_NAME_CHARS = /^[A-Za-z0-9._-]+$/;

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function label(entry: Entry): string {
  return `${entry.kind} ${entry.namespace}/${entry.name}`;
}

/** Whether an entry came from the cluster rather than from the files. */
export function isLive(entry: Entry): boolean {
  return entry.doc.source === CLUSTER_SOURCE;
}

/** The `source` of entries made from live objects. */
export const CLUSTER_SOURCE = "<cluster>";

class Index {
  constructor(
    readonly entries: Entry[],
    readonly live: Entry[],
    readonly listed: readonly LiveScope[] = [],
  ) {}

  /** Whether the cluster was read where this object would be: its absence from the index is a fact. */
  known(kind: string, group: string, namespace: string, name: string): boolean {
    return this.listed.some((scope) =>
      scope.kind === kind && scope.group === group &&
      (scope.namespace === undefined || scope.namespace === namespace) &&
      (scope.name === undefined || scope.name === name)
    );
  }

  liveOfKind(kind: string, group?: string): Entry[] {
    return this.live.filter((e) => e.kind === kind && (group === undefined || e.group === group));
  }

  find(kind: string, namespace: string, name: string, group?: string): Entry | undefined {
    const match = (e: Entry) =>
      e.kind === kind && e.namespace === namespace && e.name === name &&
      (group === undefined || e.group === group);
    return this.entries.find(match) ?? this.live.find(match);
  }

  ofKind(kind: string, group?: string): Entry[] {
    return this.entries.filter((e) => e.kind === kind && (group === undefined || e.group === group));
  }

  allOfKind(kind: string, group?: string): Entry[] {
    const match = (e: Entry) => e.kind === kind && (group === undefined || e.group === group);
    return [...this.entries.filter(match), ...this.live.filter(match)];
  }
}

function isMcp(entry: Entry, kind: string): boolean {
  return entry.group === GROUP && entry.kind === kind;
}

/** Runs every cross-object rule over `entries` (from the files) with `live` objects as extra context. */
export function crossObjectFindings(
  entries: Entry[],
  live: Entry[],
  sink: Sink,
  options: ValidateOptions,
): void {
  const index = new Index(entries, live, options.live?.listed);
  registrationRules(index, sink, options);
  elicitationRules(index, sink);
  secretRules(index, sink);
  extensionRules(index, sink);
  policyRules(index, sink);
  virtualServerRules(index, sink, options);
  virtualServerHeaderRules(index, sink);
  brokerDefectRules(index, sink);
}

/** The header that selects a virtual server (upstream's broker reads it case-insensitively). */
const VIRTUAL_SERVER_HEADER = "x-mcp-virtualserver";

/**
 * HTTPRoutes that set the virtual-server header (a RequestHeaderModifier filter) to a name that
 * matches no MCPVirtualServer. The broker then serves the unfiltered list, every tool, and tells the
 * client nothing; only a cluster read completely can show the name is missing, so this needs `--live`.
 */
function virtualServerHeaderRules(index: Index, sink: Sink) {
  for (const route of index.ofKind("HTTPRoute", GATEWAY_API_GROUP)) {
    const rules = valueAt(route.object, ["spec", "rules"]);
    if (!Array.isArray(rules)) continue;
    const filterLists: FieldPath[] = [];
    rules.forEach((rule, i) => {
      if (!isObject(rule)) return;
      filterLists.push(["spec", "rules", i, "filters"]);
      if (Array.isArray(rule.backendRefs)) {
        rule.backendRefs.forEach((_, j) =>
          filterLists.push(["spec", "rules", i, "backendRefs", j, "filters"])
        );
      }
    });
    for (const listPath of filterLists) {
      const filters = valueAt(route.object, listPath);
      if (!Array.isArray(filters)) continue;
      filters.forEach((filter, f) => {
        const modifier = isObject(filter) ? filter.requestHeaderModifier : undefined;
        if (!isObject(modifier)) return;
        for (const op of ["set", "add"]) {
          const headers = modifier[op];
          if (!Array.isArray(headers)) continue;
          headers.forEach((header, h) => {
            if (!isObject(header) || str(header.name)?.toLowerCase() !== VIRTUAL_SERVER_HEADER) return;
            const value = str(header.value) ?? "";
            const parts = value.split("/");
            // The broker looks virtual servers up by `namespace/name` exactly.
            const wellFormed = parts.length === 2 && parts[0] !== "" && parts[1] !== "";
            if (wellFormed) {
              const [namespace, name] = parts;
              if (index.find(KIND_VIRTUAL_SERVER, namespace, name, GROUP)) return;
              // Without a complete read of the cluster there, it may exist: only --live can tell.
              if (!index.known(KIND_VIRTUAL_SERVER, GROUP, namespace, name)) return;
            }
            const why = wellFormed
              ? "names no MCPVirtualServer (neither among the files nor in the cluster)"
              : "is not NAMESPACE/NAME, so it names no MCPVirtualServer";
            sink.add(
              route,
              "warning",
              "ref.virtualserver-missing",
              `Header ${header.name}: ${value} ${why}; the gateway then serves the unfiltered list, every ` +
                `tool, to these requests`,
              [...listPath, f, "requestHeaderModifier", op, h, "value"],
              { hint: "Give the namespace/name of an existing MCPVirtualServer (kubectl get mcpvs -A)." },
            );
          });
        }
      });
    }
  }
}

/**
 * Manifests that trigger a defect of the cluster's broker v0.9.0. The simulator serves them anyway,
 * so only `validate` (and the replay's start-up warnings) can say what the cluster will do.
 */
function brokerDefectRules(index: Index, sink: Sink) {
  for (const registration of index.ofKind(KIND_SERVER_REGISTRATION, GROUP)) {
    // Objects the API server rejects never reach the broker.
    if (!registration.valid || !hasTags(valueAt(registration.defaulted, ["spec"]))) continue;
    sink.add(
      registration,
      "warning",
      TAGS_HANG,
      tagsHangMessage(`${registration.namespace}/${registration.name}`),
      ["spec", "tags"],
      { atKey: true, hint: TAGS_HANG_HINT },
    );
  }
}

/**
 * A registration asking for URL elicitation on a gateway whose MCPGatewayExtension (among the files
 * or in the cluster) does not enable it: the broker never elicits, and calls reach the server with
 * the registration's own credential only.
 */
function elicitationRules(index: Index, sink: Sink) {
  const extensions = index.allOfKind(KIND_GATEWAY_EXTENSION, GROUP);
  const gatewayOf = (extension: Entry) => {
    const targetRef = valueAt(extension.defaulted, ["spec", "targetRef"]);
    return isObject(targetRef)
      ? `${str(targetRef.namespace) || extension.namespace}/${str(targetRef.name)}`
      : "";
  };
  for (const registration of index.ofKind(KIND_SERVER_REGISTRATION, GROUP)) {
    if (!isObject(valueAt(registration.defaulted, ["spec", "tokenURLElicitation"]))) continue;
    for (const gateway of gatewaysOf(index, registration).gateways) {
      const serving = extensions.filter((extension) => gatewayOf(extension) === gateway);
      if (!serving.length) continue;
      if (
        serving.some((extension) => valueAt(extension.defaulted, ["spec", "urlElicitation"]) === "Enabled")
      ) continue;
      sink.add(
        registration,
        "warning",
        "elicitation.disabled",
        `Field "spec.tokenURLElicitation" has no effect: ${
          serving.map(label).join(", ")
        } for Gateway ${gateway} ` +
          `does not set "spec.urlElicitation: Enabled"`,
        ["spec", "tokenURLElicitation"],
        {
          atKey: true,
          hint:
            "Set spec.urlElicitation: Enabled on the extension, after an AuthPolicy protects the gateway: " +
            "the token page relies on it to check who submits a token.",
        },
      );
    }
  }
}

/** The gateways (`ns/name`) a registration's route attaches to; `?` when the route is not known. */
function gatewaysOf(index: Index, registration: Entry): { route?: Entry; gateways: string[] } {
  const targetRef = valueAt(registration.defaulted, ["spec", "targetRef"]);
  if (!isObject(targetRef) || !str(targetRef.name)) return { gateways: ["?"] };
  const routeNamespace = str(targetRef.namespace) || registration.namespace;
  const route = index.find("HTTPRoute", routeNamespace, targetRef.name as string, GATEWAY_API_GROUP);
  if (!route) return { gateways: ["?"] };
  const parentRefs = valueAt(route.object, ["spec", "parentRefs"]);
  const gateways = Array.isArray(parentRefs)
    ? parentRefs.filter(isObject)
      .filter((p) =>
        (p.kind ?? "Gateway") === "Gateway" && (p.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP
      )
      .map((p) => `${str(p.namespace) || route.namespace}/${str(p.name) ?? ""}`)
    : [];
  return { route, gateways: gateways.length > 0 ? [...new Set(gateways)] : ["?"] };
}

function registrationRules(index: Index, sink: Sink, options: ValidateOptions) {
  const maxToolName = options.maxToolName ?? TOOL_NAME_CLIENT_LIMIT;
  const registrations = index.ofKind(KIND_SERVER_REGISTRATION, GROUP);
  const checkedRoutes = new Set<Entry>();
  const byGateway = new Map<string, { entry: Entry; prefix: string; tools?: string[] }[]>();
  // Registrations already in the cluster come first, so the ones in the files are reported against them.
  for (const registration of index.liveOfKind(KIND_SERVER_REGISTRATION, GROUP)) {
    const spec = registration.defaulted.spec;
    if (!isObject(spec) || spec.state === "Disabled") continue;
    const prefix = str(spec.prefix) ?? "";
    for (const gateway of gatewaysOf(index, registration).gateways) {
      if (gateway === "?") continue;
      const list = byGateway.get(gateway) ?? [];
      list.push({
        entry: registration,
        prefix,
        tools: options.toolNames?.[`${registration.namespace}/${registration.name}`],
      });
      byGateway.set(gateway, list);
    }
  }

  for (const registration of registrations) {
    const spec = registration.defaulted.spec;
    if (!isObject(spec)) continue;
    const targetRef = spec.targetRef;
    const { route, gateways } = gatewaysOf(index, registration);
    if (isObject(targetRef) && str(targetRef.name)) {
      const routeNamespace = str(targetRef.namespace) || registration.namespace;
      if (!route) {
        const known = index.known("HTTPRoute", GATEWAY_API_GROUP, routeNamespace, targetRef.name as string);
        sink.add(
          registration,
          known ? "error" : "warning",
          "ref.route-missing",
          known
            ? `HTTPRoute ${routeNamespace}/${targetRef.name} in "spec.targetRef" is neither among the files ` +
              `nor in the cluster`
            : `HTTPRoute ${routeNamespace}/${targetRef.name} in "spec.targetRef" is not among the files; ` +
              `it must exist in the cluster`,
          ["spec", "targetRef", "name"],
        );
      } else if (!checkedRoutes.has(route)) {
        checkedRoutes.add(route);
        routeShape(route, registration, sink);
        routeServices(index, route, registration, sink);
      }
    }

    const prefix = str(spec.prefix) ?? "";
    const key = `${registration.namespace}/${registration.name}`;
    const tools = options.toolNames?.[key];
    const prefixPath = "prefix" in spec ? ["spec", "prefix"] : ["spec"];
    if (spec.state !== "Disabled") {
      for (const gateway of gateways) {
        const list = byGateway.get(gateway) ?? [];
        list.push({ entry: registration, prefix, tools });
        byGateway.set(gateway, list);
      }
    }

    if (tools) {
      for (const tool of tools) {
        const name = prefix + tool;
        if ([...name].length > TOOL_NAME_MAX) {
          sink.add(
            registration,
            "error",
            "tool-name.budget",
            `Tool name "${name}" (prefix "${prefix}" + "${tool}") is ${name.length} characters; ` +
              `MCP allows at most ${TOOL_NAME_MAX}`,
            prefixPath,
          );
        } else if (!TOOL_NAME_CHARS.test(name)) {
          sink.add(
            registration,
            "error",
            "tool-name.invalid",
            `Tool name "${name}" (prefix "${prefix}" + "${tool}") may only use A-Z, a-z, 0-9, '.', '_' and '-'`,
            prefixPath,
          );
        } else if (name.length > maxToolName) {
          sink.add(
            registration,
            "warning",
            "tool-name.budget",
            `Tool name "${name}" (prefix "${prefix}" + "${tool}") is ${name.length} characters, ` +
              `over the ${maxToolName} many clients accept`,
            prefixPath,
          );
        }
      }
    } else if (prefix !== "") {
      if (prefix.length >= TOOL_NAME_MAX) {
        sink.add(
          registration,
          "error",
          "tool-name.budget",
          `Field "spec.prefix" is ${prefix.length} characters, so every tool name exceeds the MCP limit of ` +
            `${TOOL_NAME_MAX}`,
          prefixPath,
        );
      } else if (maxToolName - prefix.length < MIN_TOOL_NAME_ROOM) {
        sink.add(
          registration,
          "warning",
          "tool-name.budget",
          `Field "spec.prefix" is ${prefix.length} characters, leaving ${
            Math.max(0, maxToolName - prefix.length)
          } for tool names under the ${maxToolName}-character limit many clients apply`,
          prefixPath,
        );
      }
    }
  }

  for (const [gateway, list] of byGateway) {
    const where = gateway === "?" ? "on the same gateway" : `on gateway ${gateway}`;
    const prefixes = new Map<string, Entry>();
    const toolOwners = new Map<string, Entry>();
    for (const { entry, prefix, tools } of list) {
      if (prefix !== "") {
        const first = prefixes.get(prefix);
        if (first && first !== entry && !isLive(entry)) {
          sink.add(
            entry,
            "error",
            "prefix.duplicate",
            `Field "spec.prefix" value "${prefix}" is already used by ${label(first)}${
              isLive(first) ? " in the cluster" : ""
            } ${where}; where their tool names meet, ${CONFLICT_RACE}`,
            ["spec", "prefix"],
          );
        } else {
          prefixes.set(prefix, entry);
        }
      }
      for (const tool of tools ?? []) {
        const name = prefix + tool;
        const first = toolOwners.get(name);
        if (first && first !== entry && !isLive(entry)) {
          sink.add(
            entry,
            "error",
            "tool.duplicate",
            `Tool "${name}" is also exposed by ${label(first)}${
              isLive(first) ? " in the cluster" : ""
            } ${where}; ${CONFLICT_RACE}; give one of them a different prefix`,
            "prefix" in (entry.defaulted.spec as Record<string, unknown>) ? ["spec", "prefix"] : ["spec"],
          );
        } else {
          toolOwners.set(name, entry);
        }
      }
    }
  }
}

/** A route in the cluster has no place in the files: its findings go on the registration's targetRef. */
function routeFindingPlace(route: Entry, registration: Entry, path: FieldPath): [Entry, FieldPath, string] {
  return isLive(route)
    ? [
      registration,
      ["spec", "targetRef", "name"],
      `HTTPRoute ${route.namespace}/${route.name} in the cluster`,
    ]
    : [route, path, `HTTPRoute ${route.namespace}/${route.name}`];
}

function routeShape(route: Entry, registration: Entry, sink: Sink) {
  const by = `targeted by ${label(registration)}`;
  const rules = valueAt(route.object, ["spec", "rules"]);
  const ruleCount = Array.isArray(rules) ? rules.length : 0;
  if (ruleCount !== 1) {
    const [at, path, what] = routeFindingPlace(route, registration, ["spec", "rules"]);
    sink.add(
      at,
      "error",
      "route.shape",
      `${what} (${by}) must have exactly one rule in "spec.rules", not ${ruleCount}`,
      path,
    );
  } else {
    const backendRefs = valueAt(rules, [0, "backendRefs"]);
    const count = Array.isArray(backendRefs) ? backendRefs.length : 0;
    if (count !== 1) {
      const [at, path, what] = routeFindingPlace(route, registration, ["spec", "rules", 0, "backendRefs"]);
      sink.add(
        at,
        "error",
        "route.shape",
        `${what} (${by}) must have exactly one backendRef in "spec.rules[0].backendRefs", not ${count}`,
        path,
      );
    }
  }
  const hostnames = valueAt(route.object, ["spec", "hostnames"]);
  if (!Array.isArray(hostnames) || hostnames.length === 0) {
    const [at, path, what] = routeFindingPlace(route, registration, ["spec", "hostnames"]);
    sink.add(
      at,
      "error",
      "route.shape",
      `${what} (${by}) must have at least one hostname in "spec.hostnames"`,
      path,
    );
  }
}

/** With live facts: the Services a registration's route sends to must exist. */
function routeServices(index: Index, route: Entry, registration: Entry, sink: Sink) {
  const rules = valueAt(route.object, ["spec", "rules"]);
  if (!Array.isArray(rules)) return;
  rules.forEach((rule, i) => {
    const backendRefs = isObject(rule) ? rule.backendRefs : undefined;
    if (!Array.isArray(backendRefs)) return;
    backendRefs.forEach((ref, j) => {
      if (
        !isObject(ref) || !str(ref.name) || (ref.group ?? "") !== "" || (ref.kind ?? "Service") !== "Service"
      ) {
        return;
      }
      const namespace = str(ref.namespace) || route.namespace;
      const name = ref.name as string;
      if (!index.known("Service", "", namespace, name) || index.find("Service", namespace, name, "")) return;
      const [at, path, what] = routeFindingPlace(route, registration, [
        "spec",
        "rules",
        i,
        "backendRefs",
        j,
        "name",
      ]);
      sink.add(
        at,
        "error",
        "ref.service-missing",
        `Service ${namespace}/${name} that ${what} (targeted by ${label(registration)}) sends to does not ` +
          `exist in the cluster`,
        path,
      );
    });
  });
}

interface SecretRef {
  owner: Entry;
  name: string;
  key: string;
  path: FieldPath;
  needsLabel: boolean;
  /** The value is sent as an HTTP header (a registration's credential), so it must be a valid one. */
  header: boolean;
}

/**
 * The field of a Secret read from the cluster (`validate --live`) that says, per data key, why its
 * value cannot be an HTTP header value: the reduced Secret keeps no values, only this.
 */
export const HEADER_VALUE_PROBLEMS = "headerValueProblems";

/** Whether a Secret `data` value is base64 the API server decodes (Go's standard encoding; CR and LF skipped). */
export function isBase64(value: string): boolean {
  const text = value.replace(/[\r\n]/g, "");
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

/**
 * Why the value under `key` of a Secret cannot be an HTTP header value (see `invalidHeaderValue`),
 * with the field it is in; undefined when it can, or when there is no such value. `stringData`
 * wins over `data`, as the API server merges it; `data` is judged by its bytes.
 */
export function secretHeaderValueProblem(
  secret: Record<string, unknown>,
  key: string,
): { field: "data" | "stringData"; problem: string } | undefined {
  const stringData = secret.stringData;
  const data = secret.data;
  if (isObject(stringData) && typeof stringData[key] === "string") {
    const problem = invalidHeaderValue(stringData[key] as string);
    return problem ? { field: "stringData", problem } : undefined;
  }
  if (isObject(data) && typeof data[key] === "string" && isBase64(data[key] as string)) {
    const problem = invalidHeaderValue(atob((data[key] as string).replace(/[\r\n]/g, "")));
    return problem ? { field: "data", problem } : undefined;
  }
  return undefined;
}

function secretRefs(entry: Entry): SecretRef[] {
  const spec = entry.defaulted.spec;
  if (!isObject(spec)) return [];
  const refs: SecretRef[] = [];
  const ref = (field: string, defaultKey: string, header = false) => {
    const value = spec[field];
    if (isObject(value) && str(value.name)) {
      refs.push({
        owner: entry,
        name: value.name as string,
        key: str(value.key) ?? defaultKey,
        path: ["spec", field, "name"],
        needsLabel: true,
        header,
      });
    }
  };
  if (isMcp(entry, KIND_SERVER_REGISTRATION)) {
    ref("credentialRef", "token", true);
    ref("caCertSecretRef", "ca.crt");
  } else if (isMcp(entry, KIND_GATEWAY_EXTENSION)) {
    ref("caCertBundleRef", "ca.crt");
    const store = spec.sessionStore;
    if (isObject(store) && str(store.secretName)) {
      refs.push({
        owner: entry,
        name: store.secretName as string,
        key: "CACHE_CONNECTION_STRING",
        path: ["spec", "sessionStore", "secretName"],
        needsLabel: true,
        header: false,
      });
    }
    const trusted = spec.trustedHeadersKey;
    if (isObject(trusted) && str(trusted.secretName) && trusted.generate !== "Enabled") {
      refs.push({
        owner: entry,
        name: trusted.secretName as string,
        key: "key",
        path: ["spec", "trustedHeadersKey", "secretName"],
        needsLabel: false,
        header: false,
      });
    }
  }
  return refs;
}

function secretRules(index: Index, sink: Sink) {
  const reported = new Set<string>();
  for (const entry of index.entries) {
    for (const ref of secretRefs(entry)) {
      const field = ref.path.slice(0, -1).join(".");
      if (!isDnsSubdomain(ref.name)) {
        sink.add(
          entry,
          "error",
          "ref.secret-invalid",
          `Secret name ${
            JSON.stringify(ref.name)
          } in "${field}" can name no Secret: a Secret name must be a ` +
            DNS_SUBDOMAIN_RULE,
          ref.path,
        );
        continue;
      }
      const keyError = secretKeyError(ref.key);
      if (keyError) {
        sink.add(
          entry,
          "error",
          "ref.secret-invalid",
          `Key ${JSON.stringify(ref.key)} in "${field}" can be in no Secret: ${keyError}`,
          [...ref.path.slice(0, -1), "key"],
        );
        continue;
      }
      const secret = index.find("Secret", entry.namespace, ref.name, "");
      if (!secret) {
        const known = index.known("Secret", "", entry.namespace, ref.name);
        sink.add(
          entry,
          known ? "error" : "warning",
          "ref.secret-missing",
          known
            ? `Secret ${entry.namespace}/${ref.name} in "${field}" is neither among the files nor in the cluster`
            : `Secret ${entry.namespace}/${ref.name} in "${field}" is not among the files; it must exist in the cluster`,
          ref.path,
        );
        continue;
      }
      if (isLive(secret)) {
        liveSecretRules(secret, ref, entry, field, sink);
        continue;
      }
      const labels = valueAt(secret.object, ["metadata", "labels"]);
      const labelKey = `${secret.namespace}/${secret.name}#label`;
      if (
        ref.needsLabel && !reported.has(labelKey) &&
        (!isObject(labels) || labels[SECRET_LABEL] !== SECRET_LABEL_VALUE)
      ) {
        reported.add(labelKey);
        sink.add(
          secret,
          "error",
          "secret.label",
          `Secret ${secret.namespace}/${secret.name} (used by ${label(entry)} "${field}") needs the label ` +
            `${SECRET_LABEL}: "${SECRET_LABEL_VALUE}" or the controller ignores it`,
          isObject(labels) ? ["metadata", "labels"] : ["metadata"],
        );
      }
      const data = valueAt(secret.object, ["data"]);
      const stringData = valueAt(secret.object, ["stringData"]);
      const has = (isObject(data) && ref.key in data) || (isObject(stringData) && ref.key in stringData);
      const keyKey = `${secret.namespace}/${secret.name}#${ref.key}`;
      if (!has && !reported.has(keyKey)) {
        reported.add(keyKey);
        sink.add(
          secret,
          "error",
          "secret.key-missing",
          `Secret ${secret.namespace}/${secret.name} has no key "${ref.key}" in data or stringData, which ` +
            `${label(entry)} "${field}" reads`,
          isObject(data) ? ["data"] : isObject(stringData) ? ["stringData"] : [],
        );
      }
      const invalid = ref.header ? secretHeaderValueProblem(secret.object, ref.key) : undefined;
      if (invalid && !reported.has(`${keyKey}#header`)) {
        reported.add(`${keyKey}#header`);
        sink.add(
          secret,
          "error",
          "credential.invalid",
          `Secret ${secret.namespace}/${secret.name} key "${ref.key}", which ${label(entry)} "${field}" ` +
            `sends as the Authorization header, is ${invalid.problem}`,
          [invalid.field, ref.key],
        );
      }
    }
  }
}

/** A Secret in the cluster cannot carry findings: they go on the reference in the files. */
function liveSecretRules(secret: Entry, ref: SecretRef, entry: Entry, field: string, sink: Sink) {
  const labels = valueAt(secret.object, ["metadata", "labels"]);
  if (ref.needsLabel && (!isObject(labels) || labels[SECRET_LABEL] !== SECRET_LABEL_VALUE)) {
    sink.add(
      entry,
      "error",
      "secret.label",
      `Secret ${secret.namespace}/${secret.name} in the cluster (used by "${field}") lacks the label ` +
        `${SECRET_LABEL}: "${SECRET_LABEL_VALUE}", so the controller ignores it`,
      ref.path,
      {
        hint:
          `kubectl label secret ${secret.name} -n ${secret.namespace} ${SECRET_LABEL}=${SECRET_LABEL_VALUE}`,
      },
    );
  }
  const data = valueAt(secret.object, ["data"]);
  if (!isObject(data) || !(ref.key in data)) {
    sink.add(
      entry,
      "error",
      "secret.key-missing",
      `Secret ${secret.namespace}/${secret.name} in the cluster has no key "${ref.key}", which "${field}" reads`,
      ref.path,
    );
  }
  const problems = valueAt(secret.object, [HEADER_VALUE_PROBLEMS]);
  const problem = ref.header && isObject(problems) ? problems[ref.key] : undefined;
  if (typeof problem === "string") {
    sink.add(
      entry,
      "error",
      "credential.invalid",
      `Secret ${secret.namespace}/${secret.name} in the cluster, key "${ref.key}", which "${field}" sends as ` +
        `the Authorization header, is ${problem}`,
      ref.path,
    );
  }
}

function listenerOf(gateway: Entry, sectionName: string): Record<string, unknown> | undefined {
  const listeners = valueAt(gateway.object, ["spec", "listeners"]);
  if (!Array.isArray(listeners)) return undefined;
  return listeners.find((l) => isObject(l) && l.name === sectionName) as Record<string, unknown> | undefined;
}

function extensionRules(index: Index, sink: Sink) {
  // Extensions in the cluster come first, so the ones in the files are reported against them.
  const extensions = [
    ...index.liveOfKind(KIND_GATEWAY_EXTENSION, GROUP),
    ...index.ofKind(KIND_GATEWAY_EXTENSION, GROUP),
  ];
  const byNamespace = new Map<string, Entry>();
  const byListener = new Map<string, { entry: Entry; sectionName: string }>();
  for (const extension of extensions) {
    const live = isLive(extension);
    const first = byNamespace.get(extension.namespace);
    if (first && !live) {
      sink.add(
        extension,
        "error",
        "gateway.duplicate-namespace",
        `Namespace ${extension.namespace} already has ${label(first)}${
          isLive(first) ? " in the cluster" : ""
        }; only one MCPGatewayExtension per namespace is allowed`,
        ["metadata", "name"],
      );
    } else if (!first) {
      byNamespace.set(extension.namespace, extension);
    }
    const targetRef = valueAt(extension.defaulted, ["spec", "targetRef"]);
    if (!isObject(targetRef) || !str(targetRef.name) || !str(targetRef.sectionName)) continue;
    const gatewayNamespace = str(targetRef.namespace) || extension.namespace;
    const sectionName = targetRef.sectionName as string;
    const gateway = index.find("Gateway", gatewayNamespace, targetRef.name as string, GATEWAY_API_GROUP);
    let listenerKey = `section:${sectionName}`;
    if (live) {
      const listener = gateway ? listenerOf(gateway, sectionName) : undefined;
      if (listener && typeof listener.port === "number") listenerKey = `port:${listener.port}`;
    } else if (!gateway) {
      const known = index.known("Gateway", GATEWAY_API_GROUP, gatewayNamespace, targetRef.name as string);
      sink.add(
        extension,
        known ? "error" : "warning",
        "ref.gateway-missing",
        known
          ? `Gateway ${gatewayNamespace}/${targetRef.name} in "spec.targetRef" is neither among the files nor ` +
            `in the cluster`
          : `Gateway ${gatewayNamespace}/${targetRef.name} in "spec.targetRef" is not among the files; it must ` +
            `exist in the cluster`,
        ["spec", "targetRef", "name"],
      );
    } else {
      const listener = listenerOf(gateway, sectionName);
      if (!listener) {
        sink.add(
          extension,
          "error",
          "gateway.listener-missing",
          `Gateway ${gatewayNamespace}/${targetRef.name} has no listener named "${sectionName}" ` +
            `("spec.targetRef.sectionName")`,
          ["spec", "targetRef", "sectionName"],
        );
      } else if (typeof listener.port === "number") {
        listenerKey = `port:${listener.port}`;
      }
    }
    const key = `${gatewayNamespace}/${targetRef.name}#${listenerKey}`;
    const other = byListener.get(key);
    if (other && !live) {
      sink.add(
        extension,
        "error",
        "gateway.duplicate-listener",
        `Listener "${sectionName}" of Gateway ${gatewayNamespace}/${targetRef.name} is already extended by ` +
          `${label(other.entry)}${
            isLive(other.entry) ? " in the cluster" : ""
          } (listener "${other.sectionName}"${
            listenerKey.startsWith("port:") ? `, same port ${listenerKey.slice(5)}` : ""
          })`,
        ["spec", "targetRef", "sectionName"],
      );
    } else if (!other) {
      byListener.set(key, { entry: extension, sectionName });
    }
  }
}

function policyRules(index: Index, sink: Sink) {
  for (const policy of index.entries) {
    if (policy.group !== "kuadrant.io" || !KUADRANT_POLICY_KINDS.has(policy.kind)) continue;
    const spec = policy.object.spec;
    if (!isObject(spec)) continue;
    const refs: { ref: Record<string, unknown>; path: FieldPath }[] = [];
    if (isObject(spec.targetRef)) refs.push({ ref: spec.targetRef, path: ["spec", "targetRef"] });
    if (Array.isArray(spec.targetRefs)) {
      spec.targetRefs.forEach((ref, i) => {
        if (isObject(ref)) refs.push({ ref, path: ["spec", "targetRefs", i] });
      });
    }
    for (const { ref, path } of refs) {
      const kind = str(ref.kind);
      const name = str(ref.name);
      if (!kind || !name) continue;
      const target = index.find(kind, policy.namespace, name);
      if (!target) {
        const known = index.known(kind, str(ref.group) ?? GATEWAY_API_GROUP, policy.namespace, name);
        sink.add(
          policy,
          known ? "error" : "warning",
          "policy.target-missing",
          known
            ? `${kind} ${policy.namespace}/${name} targeted by "${
              path.join(".")
            }" is neither among the files ` +
              `nor in the cluster`
            : `${kind} ${policy.namespace}/${name} targeted by "${
              path.join(".")
            }" is not among the files; it ` +
              `must exist in the cluster`,
          [...path, "name"],
        );
        continue;
      }
      const sectionName = str(ref.sectionName);
      if (sectionName && kind === "Gateway" && !listenerOf(target, sectionName)) {
        sink.add(
          policy,
          "error",
          "policy.section-missing",
          `Gateway ${policy.namespace}/${name} has no listener named "${sectionName}" ("${
            path.join(".")
          }.sectionName")`,
          [...path, "sectionName"],
        );
      }
    }
  }
}

function virtualServerRules(index: Index, sink: Sink, options: ValidateOptions) {
  const registrations = index.allOfKind(KIND_SERVER_REGISTRATION, GROUP).filter((r) =>
    isObject(r.defaulted.spec)
  );
  const known = new Set<string>();
  const unknownPrefixes: string[] = [];
  for (const registration of registrations) {
    const prefix = str((registration.defaulted.spec as Record<string, unknown>).prefix) ?? "";
    const tools = options.toolNames?.[`${registration.namespace}/${registration.name}`];
    if (tools) { for (const tool of tools) known.add(prefix + tool); }
    else unknownPrefixes.push(prefix);
  }
  for (const server of index.ofKind(KIND_VIRTUAL_SERVER, GROUP)) {
    const tools = valueAt(server.defaulted, ["spec", "tools"]);
    if (!Array.isArray(tools)) continue;
    tools.forEach((tool, i) => {
      if (typeof tool !== "string" || known.has(tool)) return;
      if (unknownPrefixes.some((prefix) => tool.startsWith(prefix) && tool.length > prefix.length)) return;
      const allKnown = registrations.length > 0 && unknownPrefixes.length === 0;
      const message = allKnown
        ? `Tool "${tool}" in "spec.tools" is not provided by any MCPServerRegistration`
        : `Tool "${tool}" in "spec.tools" cannot come from any MCPServerRegistration in the files ` +
          `(no registration's prefix matches it)`;
      sink.add(server, allKnown ? "error" : "warning", "virtualserver.tool-missing", message, [
        "spec",
        "tools",
        i,
      ]);
    });
  }
}
