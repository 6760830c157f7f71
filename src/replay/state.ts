/**
 * The objects a replay reads, from files, a cluster or both, and how they are narrowed to one
 * gateway: the MCPGatewayExtension in use, the registrations whose HTTPRoutes attach to its Gateway,
 * the virtual servers, and the Secrets and routes they refer to.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import {
  API_VERSION,
  applyDefaults,
  crdForKind,
  type MCPServerRegistrationSpec,
  serverRegistrationSpec,
  toZod,
} from "../model/mod.ts";

/** A Kubernetes object as the replay reads it. */
export interface ReplayObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

/** `namespace/name` of an object, with `default` for objects that set no namespace. */
export function keyOf(object: ReplayObject, defaultNamespace = "default"): string {
  return `${object.metadata?.namespace ?? defaultNamespace}/${object.metadata?.name ?? ""}`;
}

/** Whether an object is of a kind in a group (any version). */
export function isKind(object: ReplayObject, group: string, kind: string): boolean {
  const apiVersion = object.apiVersion ?? "";
  const objectGroup = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  return object.kind === kind && objectGroup === group;
}

const MCP = "mcp.kuadrant.io";
const GATEWAY_API = "gateway.networking.k8s.io";

/**
 * Merges object sets: later sets replace objects of the same kind, namespace and name. This is how
 * `simulate -f DIR --overlay` lays files over the cluster's state.
 */
export function overlay(...sets: readonly ReplayObject[][]): ReplayObject[] {
  const merged = new Map<string, ReplayObject>();
  for (const set of sets) {
    for (const object of set) {
      merged.set(`${object.apiVersion?.split("/")[0]}|${object.kind}|${keyOf(object)}`, object);
    }
  }
  return [...merged.values()];
}

/** The extension a replay follows, chosen explicitly or because it is the only one. */
export function selectExtension(objects: readonly ReplayObject[], wanted?: string): ReplayObject | undefined {
  const extensions = objects.filter((object) => isKind(object, MCP, "MCPGatewayExtension"));
  if (wanted) {
    const found = extensions.find((extension) => keyOf(extension) === wanted);
    if (!found) {
      const known = extensions.map((extension) => keyOf(extension)).join(", ") || "none";
      throw new UsageError(`MCPGatewayExtension ${wanted} not found (found: ${known})`);
    }
    return found;
  }
  if (extensions.length > 1) {
    throw new UsageError(
      `found ${extensions.length} MCPGatewayExtensions (${
        extensions.map((e) => keyOf(e)).join(", ")
      }); choose one with --gateway-extension NAMESPACE/NAME`,
    );
  }
  return extensions[0];
}

/**
 * Narrows the objects to what one gateway serves. With an extension, a registration belongs to it
 * when its HTTPRoute attaches to the extension's Gateway; registrations whose route is unknown are
 * kept, since nothing says they belong elsewhere.
 */
export function objectsForGateway(
  objects: readonly ReplayObject[],
  extension?: ReplayObject,
): ReplayObject[] {
  const others = objects.filter((object) => !isKind(object, MCP, "MCPGatewayExtension"));
  if (!extension) return [...others];
  const target = extension.spec?.targetRef as { name?: string; namespace?: string } | undefined;
  const gatewayKey = `${target?.namespace ?? extension.metadata?.namespace ?? "default"}/${
    target?.name ?? ""
  }`;
  const routes = new Map(
    objects.filter((object) => isKind(object, GATEWAY_API, "HTTPRoute")).map((
      route,
    ) => [keyOf(route), route]),
  );
  const kept = others.filter((object) => {
    if (!isKind(object, MCP, "MCPServerRegistration")) return true;
    const route = routes.get(routeKeyOf(object));
    if (!route) return true;
    const parents = (route.spec?.parentRefs ?? []) as { name?: string; namespace?: string; kind?: string }[];
    return parents.some((parent) =>
      (parent.kind ?? "Gateway") === "Gateway" &&
      `${parent.namespace ?? route.metadata?.namespace ?? "default"}/${parent.name}` === gatewayKey
    );
  });
  return [extension, ...kept];
}

/** `namespace/name` of the HTTPRoute a registration targets. */
export function routeKeyOf(registration: ReplayObject): string {
  const ref = registration.spec?.targetRef as { name?: string; namespace?: string } | undefined;
  return `${ref?.namespace ?? registration.metadata?.namespace ?? "default"}/${ref?.name ?? ""}`;
}

/** The registrations among objects. */
export function registrationsOf(objects: readonly ReplayObject[]): ReplayObject[] {
  return objects.filter((object) => isKind(object, MCP, "MCPServerRegistration"));
}

/**
 * MCP objects as the API server stores them: the model's defaults applied (`path: /mcp`,
 * `state: Enabled`, `category`, ...), so the replay reads what the cluster's gateway would read
 * whether the objects came from files or from a cluster. Other objects pass through unchanged.
 */
export function withModelDefaults(objects: readonly ReplayObject[]): ReplayObject[] {
  return objects.map((object) =>
    object.apiVersion === API_VERSION && object.kind && crdForKind(object.kind)
      ? applyDefaults(object)
      : object
  );
}

const RegistrationSpecModel = toZod(serverRegistrationSpec);

/**
 * A registration's spec through the typed model. Objects reach the replay validated (files) or
 * admitted by the API server (cluster), so a spec the model rejects is an internal error worth
 * naming rather than a value to guess at.
 */
export function registrationSpec(registration: ReplayObject): MCPServerRegistrationSpec {
  const parsed = RegistrationSpecModel.safeParse(registration.spec);
  if (!parsed.success) {
    throw new UsageError(
      `MCPServerRegistration ${keyOf(registration)} has an invalid spec: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}
