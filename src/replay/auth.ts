/**
 * The AuthPolicy side of the replay's objects: which AuthPolicies a replay reads, the Secrets they
 * name (apiKey identities by label selector, wristband signing keys by name), the issuers they
 * fetch keys from, and `--issuer-override OLD=NEW`. Pure functions over objects, shared by the file
 * source, the cluster source (what to list and watch) and the replay (what to hand the gate).
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { isKind, keyOf, type ReplayObject } from "./state.ts";
import type { SecretObject } from "../../sim/auth/types.ts";

/** The API group of AuthPolicy. */
export const KUADRANT_GROUP = "kuadrant.io";

/** Where Kuadrant creates AuthConfigs when no Kuadrant object says otherwise (its default install). */
export const DEFAULT_AUTHCONFIG_NAMESPACE = "kuadrant-system";

/**
 * The namespace Kuadrant creates AuthConfigs in: the Kuadrant object's (`kuadrant.io` Kind `Kuadrant`),
 * else `kuadrant-system`. Authorino reads apiKey Secrets (without `allNamespaces`) and wristband
 * signing keys there, not in the AuthPolicy's namespace.
 */
export function authConfigNamespace(objects: readonly ReplayObject[]): string {
  const kuadrant = objects.find((object) => isKind(object, KUADRANT_GROUP, "Kuadrant"));
  return kuadrant?.metadata?.namespace ?? DEFAULT_AUTHCONFIG_NAMESPACE;
}

/** The AuthPolicies among objects (`kuadrant.io`, any version). */
export function authPoliciesOf(objects: readonly ReplayObject[]): ReplayObject[] {
  return objects.filter((object) => isKind(object, KUADRANT_GROUP, "AuthPolicy"));
}

/** The RateLimitPolicies among objects (`kuadrant.io`, any version). */
export function rateLimitPoliciesOf(objects: readonly ReplayObject[]): ReplayObject[] {
  return objects.filter((object) => isKind(object, KUADRANT_GROUP, "RateLimitPolicy"));
}

/** A policy's rule sets with where they sit: `spec.rules`, `spec.defaults.rules`, `spec.overrides.rules`. */
export function ruleSetsOf(policy: ReplayObject): { path: string; rules: Record<string, unknown> }[] {
  const spec = policy.spec ?? {};
  const sets: { path: string; rules: Record<string, unknown> }[] = [];
  if (isRecord(spec.rules)) sets.push({ path: "spec.rules", rules: spec.rules });
  for (const section of ["defaults", "overrides"] as const) {
    const rules = isRecord(spec[section]) ? (spec[section] as Record<string, unknown>).rules : undefined;
    if (isRecord(rules)) sets.push({ path: `spec.${section}.rules`, rules });
  }
  return sets;
}

/** The entries of one rules section (`authentication`, `authorization`, ...) by name. */
function entries(rules: Record<string, unknown>, section: string): [string, Record<string, unknown>][] {
  const value = rules[section];
  if (!isRecord(value)) return [];
  return Object.entries(value).filter((entry): entry is [string, Record<string, unknown>] =>
    isRecord(entry[1])
  );
}

/**
 * A label selector in the API server's query syntax (`a=b,c in (d,e),!f`); `""` selects everything,
 * as an empty selector does in Kubernetes. Undefined when the selector is malformed (an unknown
 * operator): Authorino refuses such a policy, and the replay then reads no Secret for it.
 */
export function labelSelectorQuery(selector: unknown): string | undefined {
  if (selector === undefined || selector === null) return "";
  if (!isRecord(selector)) return undefined;
  const parts: string[] = [];
  const labels = selector.matchLabels;
  if (labels !== undefined) {
    if (!isRecord(labels)) return undefined;
    for (const [key, value] of Object.entries(labels)) parts.push(`${key}=${value}`);
  }
  const expressions = selector.matchExpressions;
  if (expressions !== undefined) {
    if (!Array.isArray(expressions)) return undefined;
    for (const expression of expressions) {
      if (!isRecord(expression) || typeof expression.key !== "string") return undefined;
      const values = Array.isArray(expression.values) ? expression.values.map(String) : [];
      switch (expression.operator) {
        case "In":
          parts.push(`${expression.key} in (${values.join(",")})`);
          break;
        case "NotIn":
          parts.push(`${expression.key} notin (${values.join(",")})`);
          break;
        case "Exists":
          parts.push(expression.key);
          break;
        case "DoesNotExist":
          parts.push(`!${expression.key}`);
          break;
        default:
          return undefined;
      }
    }
  }
  return parts.join(",");
}

/**
 * The label Authorino requires on the Secrets it reads (its `secretLabelSelector`, as Kuadrant
 * deploys it): an apiKey Secret without it is invisible to Authorino, whatever the policy selects.
 */
export const AUTHORINO_SECRET_LABEL = "authorino.kuadrant.io/managed-by";
/** The value of {@link AUTHORINO_SECRET_LABEL}. */
export const AUTHORINO_SECRET_LABEL_VALUE = "authorino";

/** Whether labels satisfy a label selector, as the API server decides it (malformed: never). */
export function matchesLabelSelector(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (labelSelectorQuery(selector) === undefined) return false;
  if (!isRecord(selector)) return true;
  for (const [key, value] of Object.entries(isRecord(selector.matchLabels) ? selector.matchLabels : {})) {
    if (labels[key] !== String(value)) return false;
  }
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  return expressions.every(({ key, operator, values = [] }) => {
    const has = Object.hasOwn(labels, key);
    if (operator === "In") return has && values.includes(labels[key]);
    if (operator === "NotIn") return !has || !values.includes(labels[key]);
    if (operator === "Exists") return has;
    return !has;
  });
}

/** Secrets the AuthPolicies read, as the cluster source lists and watches them. */
export interface AuthSecretRefs {
  /**
   * apiKey identities: Secrets matching `labelSelector` in `namespace` (`null`: `allNamespaces`);
   * the query includes Authorino's own label ({@link AUTHORINO_SECRET_LABEL}).
   */
  selectors: { namespace: string | null; labelSelector: string; selector: unknown }[];
  /** Wristband `signingKeyRefs`: Secrets by name in the AuthConfig namespace. */
  named: { namespace: string; name: string }[];
}

/**
 * The Secrets a set of AuthPolicies reads, each once; `namespace` is where their AuthConfigs live
 * ({@link authConfigNamespace}), which is where Authorino looks.
 */
export function authSecretRefs(
  policies: readonly ReplayObject[],
  namespace: string = DEFAULT_AUTHCONFIG_NAMESPACE,
): AuthSecretRefs {
  const selectors = new Map<string, AuthSecretRefs["selectors"][number]>();
  const named = new Map<string, AuthSecretRefs["named"][number]>();
  for (const policy of policies) {
    for (const { rules } of ruleSetsOf(policy)) {
      for (const [, method] of entries(rules, "authentication")) {
        if (!isRecord(method.apiKey)) continue;
        const query = labelSelectorQuery(method.apiKey.selector);
        if (query === undefined) continue;
        const labelSelector = [`${AUTHORINO_SECRET_LABEL}=${AUTHORINO_SECRET_LABEL_VALUE}`, query]
          .filter(Boolean).join(",");
        const scope = method.apiKey.allNamespaces === true ? null : namespace;
        selectors.set(`${scope}|${labelSelector}`, {
          namespace: scope,
          labelSelector,
          selector: method.apiKey.selector,
        });
      }
      const response = isRecord(rules.response) ? rules.response : {};
      const success = isRecord(response.success) ? response.success : {};
      for (const section of ["headers", "filters", "dynamicMetadata"]) {
        for (const [, header] of entries(success, section)) {
          const refs = isRecord(header.wristband) ? header.wristband.signingKeyRefs : undefined;
          for (const ref of Array.isArray(refs) ? refs : []) {
            if (isRecord(ref) && typeof ref.name === "string" && ref.name) {
              named.set(`${namespace}/${ref.name}`, { namespace, name: ref.name });
            }
          }
        }
      }
    }
  }
  return { selectors: [...selectors.values()], named: [...named.values()] };
}

/**
 * Secrets as the auth stages read them: `data` decoded from base64, `stringData` over it (as the
 * API server merges them). A value that is not valid base64 is left out, never quoted.
 */
export function secretObjectsOf(objects: readonly ReplayObject[]): SecretObject[] {
  return objects.filter((object) => isKind(object, "", "Secret")).map((object) => {
    const data: Record<string, string> = {};
    const raw = isRecord(object.data) ? object.data : {};
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value !== "string") continue;
      try {
        data[key] = new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
      } catch {
        // Not base64: the API server would have refused it; nothing sensible to read.
      }
    }
    const stringData = isRecord(object.stringData) ? object.stringData : {};
    for (const [key, value] of Object.entries(stringData)) if (typeof value === "string") data[key] = value;
    return {
      namespace: object.metadata?.namespace ?? "default",
      name: object.metadata?.name ?? "",
      labels: { ...object.metadata?.labels },
      annotations: { ...object.metadata?.annotations },
      data,
    };
  });
}

/** An issuer (or JWKS) URL a policy fetches keys from. */
export interface IssuerUse {
  /** `namespace/name` of the policy. */
  policy: string;
  /** Dotted path of the field, e.g. `spec.rules.authentication.keycloak.jwt.issuerUrl`. */
  path: string;
  /** The URL as written. */
  url: string;
}

/** Every `jwt.issuerUrl` (and `jwt.jwksUrl`, which Authorino's own AuthConfig has) of the policies. */
export function issuerUrlsOf(policies: readonly ReplayObject[]): IssuerUse[] {
  const uses: IssuerUse[] = [];
  for (const policy of policies) {
    for (const { path, rules } of ruleSetsOf(policy)) {
      for (const [name, method] of entries(rules, "authentication")) {
        if (!isRecord(method.jwt)) continue;
        for (const field of ["issuerUrl", "jwksUrl"]) {
          const url = method.jwt[field];
          if (typeof url === "string" && url) {
            uses.push({ policy: keyOf(policy), path: `${path}.authentication.${name}.jwt.${field}`, url });
          }
        }
      }
    }
  }
  return uses;
}

/**
 * Parses `--issuer-override OLD=NEW`: policies whose jwt `issuerUrl` is OLD fetch their discovery
 * document and keys from NEW (tokens are still checked against OLD as their `iss`).
 */
export function parseIssuerOverrides(values: readonly string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const value of values) {
    // The split is at the first "=" followed by a scheme: URLs may carry "=" in their query.
    const match = /^(https?:\/\/.+?)=(https?:\/\/.+)$/.exec(value);
    if (!match || !URL.canParse(match[1]) || !URL.canParse(match[2])) {
      throw new UsageError(
        `invalid value "${value}" for --issuer-override: expected OLD=NEW, two http(s) URLs, e.g. ` +
          "https://idp.example.com/realms/mcp=http://127.0.0.1:8081/realms/mcp",
      );
    }
    overrides[match[1]] = match[2];
  }
  return overrides;
}

/** A cluster Service named by a URL's host, with the port the URL uses. */
export interface ServiceRef {
  namespace: string;
  service: string;
  port: number;
  /** Whether the name is unambiguously a Service (`*.svc`, `*.svc.cluster.local`), not just `a.b`. */
  certain: boolean;
}

/**
 * The cluster Service a URL's host names: `svc.ns.svc.cluster.local`, `svc.ns.svc` or `svc.ns` (with
 * any port; 80/443 by scheme when none), as cluster DNS resolves them from a Pod. A bare `svc` is
 * read in `namespace` (the policy's, as DNS search paths do). Undefined for IP addresses, `localhost`
 * and names with more labels.
 */
export function serviceOfUrl(url: string, namespace: string): ServiceRef | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const host = parsed.hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(host) || host === "localhost") return undefined;
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
  const labels = host.split(".");
  const svcAt = labels.indexOf("svc");
  if (svcAt === 2 && (labels.length === 3 || labels.slice(3).join(".") === "cluster.local")) {
    return { service: labels[0], namespace: labels[1], port, certain: true };
  }
  if (labels.length === 2) return { service: labels[0], namespace: labels[1], port, certain: false };
  if (labels.length === 1) return { service: labels[0], namespace, port, certain: true };
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
