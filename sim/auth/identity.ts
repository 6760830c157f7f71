/**
 * The authentication stage of an AuthConfig, as Authorino runs it (`pkg/evaluators/identity/*`,
 * `pkg/service/auth_pipeline.go`): each method of `rules.authentication` reads its credential and
 * resolves an identity object, or rejects with Authorino's message.
 *
 * - `jwt`: the claims of a token verified against the issuer's keys ({@linkcode JwksCache});
 * - `apiKey`: the Secret whose `api_key` equals the credential, among the Secrets matching the
 *   label selector in the AuthConfig's namespace (Kuadrant puts AuthConfigs in Authorino's namespace,
 *   usually `kuadrant-system`), or in any namespace with `allNamespaces`;
 * - `kubernetesTokenReview`: the `status` of a TokenReview of the credential by the API server,
 *   audiences defaulting to the request's host;
 * - `plain`: a value of the authorization JSON (selector or CEL expression);
 * - `anonymous`: `{"anonymous": true}`.
 *
 * `authenticate` groups methods by `priority` (lowest first), runs a group concurrently and takes the
 * first success; a method whose `when` does not hold is skipped. When none succeeds, the request is
 * unauthenticated, with one `WWW-Authenticate` challenge per method.
 *
 * @module
 */

import type {
  AuthorizationJson,
  AuthRequest,
  KubeReviewClient,
  SecretObject,
  SecretSource,
} from "./types.ts";
import type { Unsupported } from "./types.ts";
import {
  CREDENTIAL_NOT_FOUND,
  credentialIdentifier,
  type CredentialsSpec,
  extractCredential,
} from "./credentials.ts";
import { JwksCache } from "./jwks.ts";
import { compileConditions, type Condition, holds, type NamedPatterns } from "./conditions.ts";
import { goJson } from "./selector.ts";
import { base64 } from "../base64.ts";
import { type CompiledValue, compileValue, type ValueSpec } from "./value.ts";

/** One authentication method of an AuthConfig, compiled once. */
export interface IdentityMethod {
  /** The method's name (the key under `rules.authentication`). */
  name: string;
  /** Lower runs first; methods of one priority run together. Default 0. */
  priority: number;
  /** The method's `when`: it runs only where this holds (otherwise it is skipped). */
  when: Condition;
  /** Where the credential is read (absent for `plain`). */
  credentials?: CredentialsSpec;
  /** Which method: `jwt`, `apiKey`, `kubernetesTokenReview`, `plain` or `anonymous`. */
  kind: string;
  /** `<identifier> realm="<name>"`, Authorino's `WWW-Authenticate` challenge for this method. */
  challenge: string;
  /**
   * The identity object, with the method's `defaults` and `overrides` applied; rejects with
   * {@linkcode IdentityRejected} (or {@linkcode AuthEvalError}) otherwise. Never resolves for a
   * request it could not verify.
   */
  verify(req: AuthRequest, json: AuthorizationJson, signal?: AbortSignal): Promise<unknown>;
}

/** What identity methods may read: where Secrets, keys and the API server come from. */
export interface IdentityContext {
  /**
   * The namespace of the AuthConfig, where `apiKey` looks for Secrets without `allNamespaces`.
   * Kuadrant creates AuthConfigs in Authorino's namespace (the Kuadrant CR's, usually
   * `kuadrant-system`), not in the AuthPolicy's.
   */
  namespace: string;
  /** Secrets for `apiKey` (none known: every key is invalid). */
  secrets?: SecretSource;
  /** The API server, for `kubernetesTokenReview` (absent: the method is unsupported). */
  kube?: KubeReviewClient;
  /** The shared key cache for `jwt` (absent: one of its own per method). */
  jwks?: JwksCache;
  /** The policy's named `patterns` (for `patternRef` in `when`). */
  patterns?: NamedPatterns;
  /**
   * Whether Authorino watches all namespaces (Kuadrant's default, true); a namespaced Authorino
   * ignores `allNamespaces`.
   */
  clusterWide?: boolean;
}

/** An identity method that rejects the request's credential, with Authorino's message. */
export class IdentityRejected extends Error {
  /** Stable code: `credential_not_found`, `invalid_api_key`, `not_authenticated`, `no_identity`. */
  readonly code: string;
  /** A rejection with `code` and Authorino's `message`. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityRejected";
    this.code = code;
  }
}

const INVALID_API_KEY = "the API Key provided is invalid";

const METHODS = [
  "apiKey",
  "jwt",
  "oauth2Introspection",
  "kubernetesTokenReview",
  "x509",
  "plain",
  "anonymous",
];

/**
 * Compiles one `rules.authentication.<name>` entry. Returns {@linkcode Unsupported} for what the
 * simulator cannot evaluate (x509 client certificates, OAuth2 token introspection, a token review
 * without a cluster), with the reason. Throws `CelCompileError` for a predicate or expression that
 * does not compile.
 */
export function compileIdentity(
  name: string,
  spec: Record<string, unknown>,
  ctx: IdentityContext,
): IdentityMethod | Unsupported {
  const path = `rules.authentication.${name}`;
  const unsupported = (reason: string): Unsupported => ({ path, reason });
  const when = compileConditions(spec.when, ctx.patterns);
  const credentials = asObject(spec.credentials) as CredentialsSpec | undefined;
  const priority = typeof spec.priority === "number" ? spec.priority : 0;
  const kinds = METHODS.filter((m) => spec[m] !== undefined && spec[m] !== null);
  const kind = kinds[0];
  if (!kind) {
    return unsupported(
      "no authentication method (one of apiKey, jwt, kubernetesTokenReview, plain, anonymous)",
    );
  }
  const config = asObject(spec[kind]) ?? {};
  const extend = compileExtensions(spec);

  let identifier = credentialIdentifier(credentials);
  let resolve: IdentityMethod["verify"];
  switch (kind) {
    case "anonymous":
      resolve = () => Promise.resolve({ anonymous: true });
      break;
    case "jwt": {
      const issuerUrl = typeof config.issuerUrl === "string" ? config.issuerUrl : undefined;
      const jwksUrl = typeof config.jwksUrl === "string" ? config.jwksUrl : undefined;
      if (!issuerUrl && !jwksUrl) return unsupported("jwt has neither issuerUrl nor jwksUrl");
      const ttl = typeof config.ttl === "number" ? config.ttl : 0;
      const jwks = ctx.jwks ?? new JwksCache();
      resolve = async (req, _json, signal) => {
        const token = credentialOf(req, credentials);
        return await jwks.verify(token, { issuerUrl, jwksUrl: issuerUrl ? undefined : jwksUrl, ttl, signal });
      };
      break;
    }
    case "apiKey": {
      const matches = compileLabelSelector(config.selector);
      if (typeof matches === "string") return unsupported(`apiKey.selector: ${matches}`);
      const anyNamespace = config.allNamespaces === true && (ctx.clusterWide ?? true);
      resolve = (req) => {
        const key = credentialOf(req, credentials);
        let found: SecretObject | undefined;
        for (const secret of ctx.secrets?.list() ?? []) {
          if (!anyNamespace && secret.namespace !== ctx.namespace) continue;
          const value = secret.data.api_key;
          // Later Secrets with the same key replace earlier ones in Authorino's map.
          if (value && matches(secret.labels) && value === key) found = secret;
        }
        if (!found) return Promise.reject(new IdentityRejected("invalid_api_key", INVALID_API_KEY));
        return Promise.resolve(secretIdentity(found));
      };
      break;
    }
    case "kubernetesTokenReview": {
      const kube = ctx.kube;
      if (!kube) {
        return unsupported(
          "kubernetesTokenReview needs the cluster's API server; without a cluster it is not used",
        );
      }
      const audiences = asArray(config.audiences).filter((a): a is string => typeof a === "string");
      resolve = async (req, _json, signal) => {
        const token = credentialOf(req, credentials);
        const host = req.headers.get("host") ?? new URL(req.request.url).host;
        const status = await kube.tokenReview(token, audiences.length ? audiences : [host], signal);
        if (status.authenticated !== true) {
          throw new IdentityRejected("not_authenticated", "not authenticated");
        }
        return status;
      };
      break;
    }
    case "plain": {
      const expression = typeof config.expression === "string" && config.expression
        ? config.expression
        : undefined;
      const selector = typeof config.selector === "string" ? config.selector : "";
      identifier = expression ?? selector;
      const plain = compileValue({ expression, selector });
      resolve = (_req, json) => {
        const value = plain.resolve(json);
        if (value === undefined || value === null) {
          return Promise.reject(
            new IdentityRejected("no_identity", "could not retrieve identity object or null"),
          );
        }
        return Promise.resolve(value);
      };
      break;
    }
    case "x509":
      return unsupported(
        "x509 client certificate authentication needs the client's TLS certificate; not simulated",
      );
    default:
      return unsupported(
        "oauth2Introspection calls the token introspection endpoint with client credentials; not simulated",
      );
  }
  return {
    name,
    priority,
    when,
    credentials: kind === "plain" ? undefined : credentials,
    kind,
    challenge: `${identifier} realm="${name}"`,
    async verify(req, json, signal) {
      const identity = await resolve(req, json, signal);
      return extend ? extend(identity, json) : identity;
    },
  };
}

/** The credential of `req`, or Authorino's "credential not found". */
function credentialOf(req: AuthRequest, credentials?: CredentialsSpec): string {
  const credential = extractCredential(req, credentials);
  if (credential === undefined) throw new IdentityRejected("credential_not_found", CREDENTIAL_NOT_FOUND);
  return credential;
}

/** A Secret as Authorino exposes it in `auth.identity`: the Kubernetes object, `data` in base64. */
function secretIdentity(secret: SecretObject): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name: secret.name, namespace: secret.namespace };
  if (Object.keys(secret.labels).length) metadata.labels = { ...secret.labels };
  if (Object.keys(secret.annotations).length) metadata.annotations = { ...secret.annotations };
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data)) data[key] = base64(value);
  return { metadata, data, type: "Opaque" };
}

/**
 * A Kubernetes label selector (`matchLabels`, `matchExpressions` with In, NotIn, Exists,
 * DoesNotExist) as a predicate, or why it is invalid. An empty selector matches every Secret.
 */
export function compileLabelSelector(
  selector: unknown,
): ((labels: Record<string, string>) => boolean) | string {
  const spec = asObject(selector);
  if (!spec) return "missing label selector";
  const tests: ((labels: Record<string, string>) => boolean)[] = [];
  for (const [key, value] of Object.entries(asObject(spec.matchLabels) ?? {})) {
    tests.push((labels) => labels[key] === String(value));
  }
  for (const [i, expression] of asArray(spec.matchExpressions).entries()) {
    const { key, operator, values } = (asObject(expression) ?? {}) as {
      key?: unknown;
      operator?: unknown;
      values?: unknown;
    };
    if (typeof key !== "string") return `matchExpressions[${i}] has no key`;
    const list = asArray(values).map(String);
    switch (operator) {
      case "In":
      case "NotIn":
        if (!list.length) return `matchExpressions[${i}]: values must be non-empty for ${operator}`;
        tests.push(
          operator === "In"
            ? (labels) => key in labels && list.includes(labels[key])
            : (labels) => !(key in labels) || !list.includes(labels[key]),
        );
        break;
      case "Exists":
      case "DoesNotExist":
        if (list.length) return `matchExpressions[${i}]: values must be empty for ${operator}`;
        tests.push(operator === "Exists" ? (labels) => key in labels : (labels) => !(key in labels));
        break;
      default:
        return `matchExpressions[${i}] has an unknown operator ${JSON.stringify(operator)}`;
    }
  }
  return (labels) => tests.every((test) => test(labels));
}

/**
 * The method's `defaults` and `overrides` (Authorino's extended properties) as one function, or
 * undefined when it has none. Values (see value.ts) resolve against the authorization JSON with
 * `auth.identity` set to the resolved object; a default does not replace a property the object has.
 */
function compileExtensions(
  spec: Record<string, unknown>,
): ((identity: unknown, json: AuthorizationJson) => unknown) | undefined {
  const properties: { name: string; overwrite: boolean; value: CompiledValue }[] = [];
  for (const [field, overwrite] of [["defaults", false], ["overrides", true]] as const) {
    for (const [name, raw] of Object.entries(asObject(spec[field]) ?? {})) {
      properties.push({ name, overwrite, value: compileValue(asObject(raw) as ValueSpec | undefined) });
    }
  }
  if (!properties.length) return undefined;
  return (identity, json) => {
    if (typeof identity !== "object" || identity === null || Array.isArray(identity)) {
      throw new IdentityRejected("no_identity", "the identity object is not a JSON object; cannot extend it");
    }
    const extended: Record<string, unknown> = structuredClone(identity as Record<string, unknown>);
    const input: AuthorizationJson = { ...json, auth: { ...json.auth, identity: extended } };
    for (const { name, overwrite, value } of properties) {
      if (name in extended && !overwrite) continue;
      extended[name] = value.resolve(input);
    }
    return extended;
  };
}

/** The methods of `rules.authentication`, and what of it the simulator cannot evaluate. */
export interface CompiledAuthentication {
  /** The methods; Authorino's `anonymous` when the AuthConfig has none. */
  methods: IdentityMethod[];
  /** Methods left out, with reasons. */
  unsupported: Unsupported[];
}

/**
 * Compiles every method of `rules.authentication` with {@linkcode compileIdentity}. An AuthConfig
 * without authentication gets Authorino's default: one `anonymous` method.
 */
export function compileAuthentication(authentication: unknown, ctx: IdentityContext): CompiledAuthentication {
  const entries = Object.entries(asObject(authentication) ?? {});
  if (!entries.length) entries.push(["anonymous", { anonymous: {} }]);
  const methods: IdentityMethod[] = [];
  const unsupported: Unsupported[] = [];
  for (const [name, spec] of entries) {
    const compiled = compileIdentity(name, asObject(spec) ?? {}, ctx);
    if ("verify" in compiled) methods.push(compiled);
    else unsupported.push(compiled);
  }
  return { methods, unsupported };
}

/** What {@linkcode authenticate} found. */
export type AuthenticationResult =
  | {
    /** A method accepted the request. */
    authenticated: true;
    /** The identity object (`auth.identity`). */
    identity: unknown;
    /** The method's name. */
    method: string;
  }
  | {
    /** No method accepted the request. */
    authenticated: false;
    /**
     * Authorino's message (`X-Ext-Auth-Reason`): the one method's error when the AuthConfig has a
     * single method, else a JSON object of each evaluated method's error by name (`{}` when every
     * method was skipped by its `when`).
     */
    message: string;
    /** Authorino's default `WWW-Authenticate` challenges, one per method, in order. */
    challenges: string[];
    /** Each evaluated method's error message by name. */
    errors: Record<string, string>;
  };

/**
 * Authorino's identity phase: methods by priority (lower first), the methods of one priority at
 * once, the first success wins (the others are aborted). A method's failure of any kind (a
 * rejection, an unreachable issuer, a CEL error) is that method's error: never an allow. No methods
 * (every one unsupported) is unauthenticated: Authorino's default `anonymous` is added by
 * {@linkcode compileAuthentication} only to an AuthConfig that names no method. `methods` is read as
 * a fixed list (its priorities are kept per array).
 */
export async function authenticate(
  methods: IdentityMethod[],
  req: AuthRequest,
  json: AuthorizationJson,
  signal?: AbortSignal,
): Promise<AuthenticationResult> {
  const errors: Record<string, string> = {};
  for (const priority of prioritiesOf(methods)) {
    const group = methods.filter((m) => m.priority === priority && holds(m.when, json));
    if (!group.length) continue;
    if (group.length === 1) {
      // One method has no sibling to cancel: no AbortController, no AbortSignal.any, no DOMException
      // from abort(), which together cost more than verifying a token seen before.
      const method = group[0];
      try {
        return { authenticated: true, method: method.name, identity: await method.verify(req, json, signal) };
      } catch (error) {
        errors[method.name] = error instanceof Error ? error.message : String(error);
      }
      signal?.throwIfAborted();
      continue;
    }
    const abort = new AbortController();
    const linked = signal ? AbortSignal.any([signal, abort.signal]) : abort.signal;
    try {
      const won = await Promise.any(group.map(async (method) => {
        try {
          return { method: method.name, identity: await method.verify(req, json, linked) };
        } catch (error) {
          errors[method.name] = error instanceof Error ? error.message : String(error);
          throw error;
        }
      }));
      return { authenticated: true, ...won };
    } catch {
      // Every method of this priority failed: on to the next.
    } finally {
      abort.abort();
    }
    signal?.throwIfAborted();
  }
  const message = methods.length === 1 ? errors[methods[0].name] ?? "{}" : goJson(errors);
  return { authenticated: false, message, challenges: methods.map((m) => m.challenge), errors };
}

const PRIORITIES = new WeakMap<IdentityMethod[], number[]>();

/** The distinct priorities of `methods`, lowest first, computed once per compiled list. */
function prioritiesOf(methods: IdentityMethod[]): number[] {
  let priorities = PRIORITIES.get(methods);
  if (!priorities) {
    priorities = [...new Set(methods.map((m) => m.priority))].sort((a, b) => a - b);
    PRIORITIES.set(methods, priorities);
  }
  return priorities;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
