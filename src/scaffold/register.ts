/**
 * Scaffolding for `kubectl mcp register`: an MCPServerRegistration, the HTTPRoute in front of the
 * server when given a Service, and the credential Secret when given a literal value.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { PREFIX_PATTERN, prefixFromName } from "./names.ts";
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain, secretKeyError } from "../validate/metadata.ts";
import { invalidHeaderValue } from "../../sim/redact.ts";
import type { MCPServerRegistrationSpec } from "../model/mod.ts";

/** A Kubernetes object as the scaffolding produces it. */
export interface KubeObject {
  /** `group/version`, or `v1` for the core group. */
  apiVersion: string;
  /** The object's kind. */
  kind: string;
  /** Name, namespace and labels. */
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The label the gateway requires on credential Secrets. */
export const SECRET_LABEL = "mcp.kuadrant.io/secret";

/** What `register` was asked to create. */
export interface RegisterOptions {
  /** The registration's name. */
  name: string;
  /** Namespace of every object created. */
  namespace: string;
  /** An existing HTTPRoute to point at (`name` or `namespace/name`). Excludes `service`. */
  route?: { name: string; namespace?: string };
  /** A Service to route to; an HTTPRoute is created for it. Excludes `route`. */
  service?: { name: string; port: number; hostname: string };
  /** The Gateway the created HTTPRoute attaches to. */
  gateway?: GatewayRef;
  /** Tool prefix; derived from the name when absent, "" for none. */
  prefix?: string;
  /** MCP endpoint path on the server. */
  path?: string;
  /** Secret holding the credential sent to the server as Authorization, and its key. */
  credential?: { name: string; key?: string };
  /** A literal credential value: a labelled Secret is created to hold it. */
  credentialLiteral?: string;
  /** Categories for discovery (at most 3). */
  categories?: string[];
  /** Tags for discovery (at most 10). */
  tags?: string[];
  /** A short description of what the server offers. */
  hint?: string;
  /** Register it disabled. */
  disabled?: boolean;
}

/** A reference to a Gateway, optionally to one of its listeners. */
export interface GatewayRef {
  /** The Gateway's name. */
  name: string;
  /** Its namespace, when not the referring object's. */
  namespace?: string;
  /** The listener. */
  sectionName?: string;
}

/** The default Gateway a scaffolded HTTPRoute attaches to, as in upstream's guides. */
export const DEFAULT_GATEWAY: GatewayRef = { name: "mcp-gateway", namespace: "gateway-system" };

/** Builds the objects `register` creates, in the order they should be applied. */
export function scaffoldRegistration(options: RegisterOptions): KubeObject[] {
  if (options.route && options.service) {
    throw new UsageError(
      "--route and --service cannot be used together: give an existing HTTPRoute or a Service",
    );
  }
  if (!options.route && !options.service) {
    throw new UsageError("one of --route or --service is required", {
      hint:
        "Use --route ROUTE for an existing HTTPRoute, or --service SVC:PORT --hostname HOST to create one.",
    });
  }
  const prefix = options.prefix ?? prefixFromName(options.name);
  if (prefix !== "" && !PREFIX_PATTERN.test(prefix)) {
    throw new UsageError(
      `invalid value "${prefix}" for --prefix: must match ${PREFIX_PATTERN.source} (lower-case letters, digits and _)`,
    );
  }
  if (options.credentialLiteral !== undefined && options.credential === undefined) {
    throw new UsageError("--credential-from-literal needs --credential SECRET[:KEY] to name the Secret");
  }
  // The gateway sends it as the Authorization header: one fetch would refuse (and quote) is refused here.
  const invalid = options.credentialLiteral === undefined
    ? undefined
    : invalidHeaderValue(options.credentialLiteral);
  if (invalid) throw new UsageError(`invalid value for --credential-from-literal: ${invalid}`);
  const objects: KubeObject[] = [];
  const metadata = { name: options.name, namespace: options.namespace };
  let routeRef: { name: string; namespace?: string };
  if (options.service) {
    const routeName = `${options.name}-route`;
    const gateway = options.gateway ?? DEFAULT_GATEWAY;
    objects.push({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: routeName, namespace: options.namespace },
      spec: {
        parentRefs: [{
          name: gateway.name,
          ...(gateway.namespace ? { namespace: gateway.namespace } : {}),
          ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
        }],
        hostnames: [options.service.hostname],
        rules: [{
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [{ name: options.service.name, port: options.service.port }],
        }],
      },
    });
    routeRef = { name: routeName };
  } else {
    routeRef = options.route!;
  }
  if (options.credentialLiteral !== undefined && options.credential) {
    objects.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: options.credential.name,
        namespace: options.namespace,
        labels: { [SECRET_LABEL]: "true" },
      },
      type: "Opaque",
      stringData: { [options.credential.key ?? "token"]: options.credentialLiteral },
    });
  }
  const spec: MCPServerRegistrationSpec = {
    targetRef: {
      group: "gateway.networking.k8s.io",
      kind: "HTTPRoute",
      name: routeRef.name,
      ...(routeRef.namespace && routeRef.namespace !== options.namespace
        ? { namespace: routeRef.namespace }
        : {}),
    },
  };
  if (prefix !== "") spec.prefix = prefix;
  if (options.path !== undefined) spec.path = options.path;
  if (options.credential) {
    spec.credentialRef = {
      name: options.credential.name,
      ...(options.credential.key ? { key: options.credential.key } : {}),
    };
  }
  if (options.categories?.length) spec.category = options.categories;
  if (options.tags?.length) spec.tags = options.tags;
  if (options.hint !== undefined) spec.hint = options.hint;
  if (options.disabled) spec.state = "Disabled";
  objects.push({ apiVersion: "mcp.kuadrant.io/v1", kind: "MCPServerRegistration", metadata, spec });
  return objects;
}

/** Parses `SVC:PORT` for `--service`. */
export function parseServicePort(value: string): { name: string; port: number } {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(`invalid value "${value}" for --service: expected SERVICE:PORT, e.g. weather:8080`);
  }
  return { name: match[1], port };
}

/**
 * Parses `SECRET[:KEY]` for `--credential`. The name must be one a Secret can have (a DNS-1123
 * subdomain) and the key one its data can hold, or the API server refuses the Secret.
 */
export function parseSecretKey(value: string, flag: string): { name: string; key?: string } {
  const [name, key, ...extra] = value.split(":");
  if (!name || extra.length > 0 || key === "") {
    throw new UsageError(`invalid value "${value}" for --${flag}: expected SECRET or SECRET:KEY`);
  }
  if (!isDnsSubdomain(name)) {
    throw new UsageError(
      `invalid value "${value}" for --${flag}: the Secret name "${name}" must be a ${DNS_SUBDOMAIN_RULE}`,
    );
  }
  const keyError = key === undefined ? undefined : secretKeyError(key);
  if (keyError) {
    throw new UsageError(`invalid value "${value}" for --${flag}: the key "${key}" is invalid: ${keyError}`);
  }
  return key ? { name, key } : { name };
}
