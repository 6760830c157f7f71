/**
 * Where each registration's MCP server is reached from this machine. A resolver turns a
 * registration into a URL: from `--upstream NAME=URL`, or by following its HTTPRoute to a Service
 * and a ready Pod and opening a port-forward through the API server.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { isKind, keyOf, type ReplayObject, routeKeyOf } from "./state.ts";

/** How a registration was resolved, for the summary table and `tools --explain`. */
export interface Resolution {
  /** The URL the gateway connects to, when resolved (path not included unless the override had one). */
  url?: string;
  /** What the registration points at, e.g. `svc/weather:8080` or the override URL. */
  target: string;
  /** The Pod traffic goes to, when port-forwarded. */
  pod?: string;
  /** Why it could not be resolved. */
  reason?: string;
}

/** What a resolver tells the replay between refreshes. */
export interface ResolverEvents {
  /** One line about something that happened, e.g. a port-forward that broke. */
  report(line: string): void;
  /** Asks for a refresh: re-resolve the registrations (the resolver has already waited its backoff). */
  invalidate(): void;
}

/** A port of a cluster Service. */
export interface ServiceBackend {
  namespace: string;
  service: string;
  port: number;
}

/** The name a resolver keeps a Service's port-forward under, for `retain` (`svc:ns/name:port`). */
export function serviceForwardKey(backend: ServiceBackend): string {
  return `svc:${backend.namespace}/${backend.service}:${backend.port}`;
}

/** Resolves registrations to URLs; keeps whatever it opened (port-forwards) until closed. */
export interface UpstreamResolver {
  /** Resolves one registration against the current objects. */
  resolve(registration: ReplayObject, objects: readonly ReplayObject[]): Promise<Resolution>;
  /**
   * Reaches a port of a cluster Service from this machine (an issuer the AuthPolicies fetch keys
   * from); absent when there is no cluster. The URL is `http://127.0.0.1:PORT`.
   */
  forwardService?(backend: ServiceBackend): Promise<Resolution>;
  /**
   * Drops what is no longer used after a refresh: registrations not in `keep`, and Services whose
   * {@link serviceForwardKey} is not in it.
   */
  retain?(keep: ReadonlySet<string>): Promise<void>;
  /** Called once by the replay, so the resolver can report problems and ask for a refresh. */
  listen?(events: ResolverEvents): void;
  /** Closes everything it opened. */
  close(): Promise<void>;
}

/** Parses `--upstream NAME=URL` flags; NAME is a registration name or namespace/name. */
export function parseUpstreams(values: readonly string[]): Record<string, string> {
  const upstreams: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf("=");
    const name = value.slice(0, at);
    const url = value.slice(at + 1);
    if (at <= 0 || !/^https?:\/\//.test(url)) {
      throw new UsageError(
        `invalid value "${value}" for --upstream: expected NAME=URL, e.g. weather=http://127.0.0.1:9001/mcp`,
      );
    }
    try {
      new URL(url);
    } catch {
      throw new UsageError(`invalid URL in --upstream ${value}`);
    }
    upstreams[name] = url;
  }
  return upstreams;
}

/** Annotation carrying a registration's URL when it came from a broker config file. */
export const UPSTREAM_URL_ANNOTATION = "kubectl-mcp.io/upstream-url";

/**
 * The URL given for a registration: `--upstream` by `namespace/name`, then by name, then the URL a
 * broker config file gave it.
 */
export function overrideFor(
  registration: ReplayObject,
  upstreams: Readonly<Record<string, string>>,
): string | undefined {
  return upstreams[keyOf(registration)] ?? upstreams[registration.metadata?.name ?? ""] ??
    registration.metadata?.annotations?.[UPSTREAM_URL_ANNOTATION];
}

/** Describes a registration's route backend as `svc/NAME:PORT`, or why it has none usable. */
export function routeBackend(
  registration: ReplayObject,
  objects: readonly ReplayObject[],
): { namespace: string; service: string; port: number } | { reason: string } {
  const routeKey = routeKeyOf(registration);
  const route = objects.find((object) =>
    isKind(object, "gateway.networking.k8s.io", "HTTPRoute") && keyOf(object) === routeKey
  );
  if (!route) return { reason: `HTTPRoute ${routeKey} not found` };
  const rules = (route.spec?.rules ?? []) as {
    backendRefs?: { name?: string; namespace?: string; port?: number; kind?: string; group?: string }[];
  }[];
  const refs = rules.flatMap((rule) => rule.backendRefs ?? []);
  if (rules.length !== 1 || refs.length !== 1) {
    return {
      reason:
        `HTTPRoute ${routeKey} must have exactly one rule with one backendRef (has ${rules.length} rules, ${refs.length} backendRefs)`,
    };
  }
  const ref = refs[0];
  if ((ref.kind ?? "Service") !== "Service" || (ref.group ?? "") !== "") {
    return {
      reason:
        `HTTPRoute ${routeKey} points at a ${ref.kind} (${ref.group}); only Services can be port-forwarded`,
    };
  }
  if (!ref.name || !ref.port) return { reason: `HTTPRoute ${routeKey} backendRef needs a name and a port` };
  return {
    namespace: ref.namespace ?? route.metadata?.namespace ?? "default",
    service: ref.name,
    port: ref.port,
  };
}

/** Resolves only from `--upstream` overrides: the `-f` mode, which has no cluster to reach servers through. */
export function staticResolver(upstreams: Readonly<Record<string, string>>): UpstreamResolver {
  return {
    resolve(registration, objects) {
      const url = overrideFor(registration, upstreams);
      if (url) return Promise.resolve({ url, target: url });
      const backend = routeBackend(registration, objects);
      const target = "service" in backend
        ? `svc/${backend.service}:${backend.port}`
        : routeKeyOf(registration);
      return Promise.resolve({
        target,
        reason:
          `no --upstream ${registration.metadata?.name}=URL given, and files alone cannot reach ${target}`,
      });
    },
    close: () => Promise.resolve(),
  };
}
