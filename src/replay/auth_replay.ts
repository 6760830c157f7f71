/**
 * AuthPolicies in the replay: which policies concern the replayed gateway, the Secrets handed to
 * the gate, and how the issuers they fetch keys from are reached from this machine
 * (`--issuer-override`, or a port-forward when an issuer is a cluster Service).
 *
 * @module
 */

import {
  authConfigNamespace,
  AUTHORINO_SECRET_LABEL,
  AUTHORINO_SECRET_LABEL_VALUE,
  authPoliciesOf,
  authSecretRefs,
  issuerUrlsOf,
  matchesLabelSelector,
  rateLimitPoliciesOf,
  ruleSetsOf,
  secretObjectsOf,
  serviceOfUrl,
} from "./auth.ts";
import { isKind, keyOf, type ReplayObject } from "./state.ts";
import { serviceForwardKey, type UpstreamResolver } from "./resolve.ts";
import type { SecretObject } from "../../sim/auth/types.ts";

/** How `simulate` evaluates AuthPolicies (its flags). */
export interface AuthReplayOptions {
  /** What a rule the simulator cannot evaluate here decides (`--unsupported-rules`, default deny). */
  unsupportedRules?: "allow" | "deny";
  /** `--issuer-override OLD=NEW`: the issuer OLD's discovery and keys are fetched from NEW. */
  issuerOverrides?: Readonly<Record<string, string>>;
  /** The opa binary (`--opa`); default `opa` on PATH. */
  opaPath?: string;
  /**
   * What-if claims (`--claims FILE`): every `jwt` method takes them as verified, whatever token the
   * client presents (see `sim/auth/what_if.ts`).
   */
  whatIfClaims?: Record<string, unknown>;
  /**
   * `simulate --dev-idp`: the issuer of the dev identity provider, which serves every jwt issuer
   * the policies name (but those `issuerOverrides` name), and which the gateway's protected-resource
   * metadata and the policies' 401s point clients at (see {@linkcode pointDenialsAtGateway}).
   */
  devIdp?: { issuer: string; jwksUri?: string };
}

/** What the gate gets from one load of the objects. */
export interface AuthPlan {
  /** The AuthPolicies that concern the replayed gateway. */
  policies: ReplayObject[];
  /** Every Secret the replay read (the gate picks apiKey and signing key Secrets among them). */
  secrets: SecretObject[];
  /** Where Kuadrant creates the AuthConfigs (see `authConfigNamespace`). */
  namespace: string;
  /** The command line's overrides and, for issuers that are cluster Services, their port-forwards. */
  issuerOverrides: Record<string, string>;
  /** Port-forwards the plan uses ({@link serviceForwardKey}), to keep across the refresh. */
  forwards: string[];
  /** How issuers are reached, and what could not be read, one sentence each. */
  notes: string[];
}

const GATEWAY_API = "gateway.networking.k8s.io";

/**
 * The AuthPolicies (or, with `kind`, RateLimitPolicies) that concern the gateway an extension
 * targets: those on its Gateway, and those on an HTTPRoute that is not known to attach elsewhere. A
 * policy whose target does not exist is kept so that it is reported; one whose target exists and
 * belongs to another Gateway (another extension's, in a shared cluster) is left out.
 */
export function policiesForGateway(
  objects: readonly ReplayObject[],
  extension?: ReplayObject,
  options: { kind?: "AuthPolicy" | "RateLimitPolicy" } = {},
): ReplayObject[] {
  const target = extension?.spec?.targetRef as { name?: string; namespace?: string } | undefined;
  const gatewayKey = extension
    ? `${target?.namespace ?? extension.metadata?.namespace ?? "default"}/${target?.name ?? ""}`
    : undefined;
  const known = (kind: string, key: string) =>
    objects.find((object) => isKind(object, GATEWAY_API, kind) && keyOf(object) === key);
  const policies = options.kind === "RateLimitPolicy"
    ? rateLimitPoliciesOf(objects)
    : authPoliciesOf(objects);
  return policies.filter((policy) => {
    if (!gatewayKey) return true;
    const ref = (policy.spec?.targetRef ?? {}) as { kind?: string; name?: string };
    const key = `${policy.metadata?.namespace ?? "default"}/${ref.name ?? ""}`;
    if (ref.kind === "Gateway") return key === gatewayKey || !known("Gateway", key);
    if (ref.kind !== "HTTPRoute") return true;
    const route = known("HTTPRoute", key);
    if (!route) return true;
    const parents = (route.spec?.parentRefs ?? []) as { name?: string; namespace?: string; kind?: string }[];
    return parents.some((parent) =>
      (parent.kind ?? "Gateway") === "Gateway" &&
      `${parent.namespace ?? route.metadata?.namespace ?? "default"}/${parent.name}` === gatewayKey
    );
  });
}

/**
 * The gate's inputs from the replayed objects. Each issuer (or JWKS) URL that names a cluster Service
 * (`svc.ns.svc.cluster.local`, `svc.ns`, ...) and has no `--issuer-override` is port-forwarded
 * through `resolver`, and overridden to the local address: keys are fetched there while tokens are
 * still checked against the issuer as written. Without a cluster (files), such an issuer is noted.
 */
export async function planAuth(
  objects: readonly ReplayObject[],
  extension: ReplayObject | undefined,
  resolver: UpstreamResolver,
  options: AuthReplayOptions = {},
): Promise<AuthPlan> {
  const policies = policiesForGateway(objects, extension);
  const namespace = authConfigNamespace(objects);
  const issuerOverrides: Record<string, string> = { ...options.issuerOverrides };
  const forwards: string[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  const devIdp = options.devIdp;
  const replaced = new Map<string, string[]>();
  for (const use of issuerUrlsOf(policies)) {
    if (devIdp && options.issuerOverrides?.[use.url] === undefined) {
      // A jwksUrl names the key set itself; an issuerUrl the issuer whose discovery names it.
      issuerOverrides[use.url] = use.path.endsWith(".jwksUrl")
        ? devIdp.jwksUri ?? `${devIdp.issuer}/jwks`
        : devIdp.issuer;
      const users = replaced.get(use.url) ?? [];
      if (!users.includes(use.policy)) users.push(use.policy);
      replaced.set(use.url, users);
      continue;
    }
    if (seen.has(use.url) || options.issuerOverrides?.[use.url] !== undefined) continue;
    seen.add(use.url);
    // A bare Service name resolves where Authorino runs, beside its AuthConfigs.
    const service = serviceOfUrl(use.url, namespace);
    if (!service) continue;
    const name = `Service ${service.namespace}/${service.service}:${service.port}`;
    if (!resolver.forwardService) {
      if (service.certain) {
        notes.push(
          `${use.policy}: the issuer ${use.url} is the cluster's ${name}, which files alone cannot reach; ` +
            "its tokens get 401 unless --issuer-override points it at a reachable issuer",
        );
      }
      continue;
    }
    const reached = await resolver.forwardService(service);
    if (!reached.url) {
      // `svc.ns` may as well be a public name (`idp.example`): only a Service that exists is one.
      if (!service.certain && /not found/i.test(reached.reason ?? "")) continue;
      notes.push(
        `${use.policy}: the issuer ${use.url} is the cluster's ${name}, which cannot be reached ` +
          `(${reached.reason}); its tokens get 401 unless --issuer-override points it at a reachable issuer`,
      );
      continue;
    }
    forwards.push(serviceForwardKey(service));
    const local = new URL(use.url);
    const forwarded = new URL(reached.url);
    local.host = forwarded.host;
    issuerOverrides[use.url] = local.href.replace(/\/$/, use.url.endsWith("/") ? "/" : "");
    notes.push(
      `${use.policy}: the issuer ${use.url} is reached through a port-forward to ${name}` +
        (reached.pod ? ` (pod ${reached.pod})` : ""),
    );
  }
  for (const [url, users] of replaced) {
    notes.push(
      `the issuer ${url} (${users.join(", ")}) is replaced by the dev identity provider ${devIdp!.issuer}`,
    );
  }
  const served = devIdp ? policies.map((policy) => pointDenialsAtGateway(policy, notes)) : policies;
  return {
    policies: served,
    secrets: visibleSecrets(objects, policies, namespace, notes),
    namespace,
    issuerOverrides,
    forwards,
    notes,
  };
}

/** `resource_metadata=URL` in a `WWW-Authenticate` value (RFC 9728 section 5.1), quoted or not. */
const RESOURCE_METADATA = /(resource_metadata="?)(https?:\/\/[^\s",/]+)([^\s",]*)/;

/**
 * `policy` with each denial header that points clients at protected-resource metadata
 * (`WWW-Authenticate: Bearer resource_metadata=https://mcp.example.com/.well-known/...`) pointing
 * at this gateway instead: the same path on the host the request named, so the client's OAuth flow
 * goes through the simulator's metadata, which names the dev identity provider. The value becomes a
 * CEL `expression` over `request.host`; a header already given by `selector` or `expression` is
 * kept. Each header changed is said in `notes`.
 */
export function pointDenialsAtGateway(policy: ReplayObject, notes: string[]): ReplayObject {
  let copy: ReplayObject | undefined;
  for (const { path, rules } of ruleSetsOf(policy)) {
    const response = rules.response;
    if (typeof response !== "object" || response === null) continue;
    for (const denial of ["unauthenticated", "unauthorized"]) {
      const headers = (response as Record<string, { headers?: Record<string, unknown> }>)[denial]?.headers;
      if (typeof headers !== "object" || headers === null) continue;
      for (const [name, header] of Object.entries(headers)) {
        const value = (header as { value?: unknown } | null)?.value;
        if (typeof value !== "string" || (header as { expression?: unknown }).expression !== undefined) {
          continue;
        }
        const match = RESOURCE_METADATA.exec(value);
        if (!match) continue;
        const before = value.slice(0, match.index) + match[1] + "http://";
        const after = match[3] + value.slice(match.index + match[0].length);
        const expression = `${JSON.stringify(before)} + request.host + ${JSON.stringify(after)}`;
        copy ??= structuredClone(policy);
        const target = ruleSetsOf(copy).find((set) => set.path === path)!.rules.response as Record<
          string,
          { headers: Record<string, Record<string, unknown>> }
        >;
        target[denial].headers[name] = { expression };
        notes.push(
          `${keyOf(policy)}: ${path}.response.${denial}.headers.${name} points clients at ${match[2]}${
            match[3]
          }; served as this gateway's ${match[3] || "/"} so they log in at the dev identity provider`,
        );
      }
    }
  }
  return copy ?? policy;
}

/**
 * The Secrets Authorino can read: those with its label, and the wristband signing keys it reads by
 * name. A Secret an apiKey selector matches but that lacks the label is left out, and said: in the
 * cluster that key is refused.
 */
function visibleSecrets(
  objects: readonly ReplayObject[],
  policies: readonly ReplayObject[],
  namespace: string,
  notes: string[],
): SecretObject[] {
  const refs = authSecretRefs(policies, namespace);
  return secretObjectsOf(objects).filter((secret) => {
    if (secret.labels[AUTHORINO_SECRET_LABEL] === AUTHORINO_SECRET_LABEL_VALUE) return true;
    if (refs.named.some((ref) => ref.namespace === secret.namespace && ref.name === secret.name)) return true;
    const selected = refs.selectors.some((ref) =>
      (ref.namespace === null || ref.namespace === secret.namespace) &&
      matchesLabelSelector(ref.selector, secret.labels)
    );
    if (selected) {
      notes.push(
        `Secret ${secret.namespace}/${secret.name} matches an apiKey selector but lacks the label ` +
          `${AUTHORINO_SECRET_LABEL}=${AUTHORINO_SECRET_LABEL_VALUE}, so Authorino does not see it; left out`,
      );
    }
    return false;
  });
}
