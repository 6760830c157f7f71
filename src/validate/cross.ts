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

import type { FieldPath } from "../manifest/load.ts";
import {
  GATEWAY_API_GROUP,
  GROUP,
  KIND_GATEWAY_EXTENSION,
  KIND_SERVER_REGISTRATION,
  KIND_VIRTUAL_SERVER,
  TOOL_NAME_CLIENT_LIMIT,
  TOOL_NAME_MAX,
} from "../model/crds.ts";
import { brokerDefectRules, CONFLICT_RACE } from "./broker_defects.ts";
import { type Entry, Index, isLive, label, type Sink, str } from "./entries.ts";
import { secretRules } from "./secret_rules.ts";
import { virtualServerHeaderRules } from "./virtual_server_header.ts";
import { formatPath, isObject, valueAt } from "./path.ts";
import type { ValidateOptions } from "./types.ts";

/**
 * A prefix that leaves fewer characters than this under `maxToolName` gets a warning when the
 * server's tool names are unknown: most tool names are longer than 20 characters.
 */
export const MIN_TOOL_NAME_ROOM = 20;

const KUADRANT_POLICY_KINDS = new Set(["AuthPolicy", "RateLimitPolicy", "TokenRateLimitPolicy"]);
const TOOL_NAME_CHARS = /^[A-Za-z0-9._-]+$/;

/**
 * The AuthPolicy and RateLimitPolicy rules (`auth_policy.ts`, `rate_limit_policy.ts`), given by the
 * caller: they load the CEL engine, which a file with no policy need not load.
 */
export interface PolicyChecks {
  /** The AuthPolicy rules. */
  authPolicyRules(index: Index, sink: Sink, options: { authorinoNamespace?: string }): void;
  /** The RateLimitPolicy rules. */
  rateLimitPolicyRules(index: Index, sink: Sink): void;
}

/** Runs every cross-object rule over `entries` (from the files) with `live` objects as extra context. */
export function crossObjectFindings(
  entries: Entry[],
  live: Entry[],
  sink: Sink,
  options: ValidateOptions,
  { authPolicyRules, rateLimitPolicyRules }: PolicyChecks,
): void {
  const index = new Index(entries, live, options.live?.listed);
  registrationRules(index, sink, options);
  elicitationRules(index, sink);
  secretRules(index, sink);
  extensionRules(index, sink);
  policyRules(index, sink);
  authPolicyRules(index, sink, { authorinoNamespace: options.live?.authorinoNamespace });
  rateLimitPolicyRules(index, sink);
  virtualServerRules(index, sink, options);
  virtualServerHeaderRules(index, sink);
  brokerDefectRules(index, sink);
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

/** The kinds a Kuadrant policy can target (`targetRef.kind`, enforced by the CRDs' CEL rules). */
const POLICY_TARGET_KINDS = new Set(["Gateway", "HTTPRoute"]);

/**
 * Kuadrant policies' targets: the Gateway or HTTPRoute must exist (a warning when it is only not among
 * the files, as for every reference), and a `sectionName` must name one of its listeners (Gateway) or
 * rules (HTTPRoute); otherwise Kuadrant does not attach the policy and nothing is enforced.
 */
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
      if (!kind || !name || !POLICY_TARGET_KINDS.has(kind)) continue;
      const field = formatPath(path);
      const target = index.find(kind, policy.namespace, name, GATEWAY_API_GROUP);
      if (!target) {
        const known = index.known(kind, GATEWAY_API_GROUP, policy.namespace, name);
        const others = index.ofKind(kind, GATEWAY_API_GROUP).filter((e) => e.namespace === policy.namespace);
        sink.add(
          policy,
          known ? "error" : "warning",
          "policy.target-missing",
          known
            ? `${kind} ${policy.namespace}/${name} targeted by "${field}" is neither among the files nor in the ` +
              `cluster, so the policy attaches to nothing`
            : `${kind} ${policy.namespace}/${name} targeted by "${field}" is not among the files; it must exist ` +
              `in the cluster`,
          [...path, "name"],
          others.length > 0
            ? {
              hint: `The files hold ${kind}${others.length === 1 ? "" : "s"} ${
                others.map((e) => e.name).join(", ")
              } in namespace ${policy.namespace}.`,
            }
            : undefined,
        );
        continue;
      }
      const sectionName = str(ref.sectionName);
      if (!sectionName) continue;
      const sections = kind === "Gateway" ? sectionNames(target, "listeners") : sectionNames(target, "rules");
      if (sections.includes(sectionName)) continue;
      const what = kind === "Gateway" ? "listener" : "rule";
      sink.add(
        policy,
        "error",
        "policy.section-missing",
        `${kind} ${policy.namespace}/${name}${
          isLive(target) ? " in the cluster" : ""
        } has no ${what} named ` +
          `"${sectionName}" ("${field}.sectionName")`,
        [...path, "sectionName"],
        sections.length > 0
          ? { hint: `Its ${what}s are named ${sections.map((s) => `"${s}"`).join(", ")}.` }
          : undefined,
      );
    }
  }
}

/** The names of a Gateway's listeners or an HTTPRoute's rules (unnamed ones left out). */
function sectionNames(target: Entry, list: "listeners" | "rules"): string[] {
  const items = valueAt(target.object, ["spec", list]);
  return Array.isArray(items)
    ? items.filter(isObject).map((item) => str(item.name)).filter((n): n is string => n !== undefined)
    : [];
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
