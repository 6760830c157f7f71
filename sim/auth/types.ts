/**
 * The contracts between the stages of AuthPolicy evaluation, which follows Authorino's AuthConfig
 * pipeline: conditions (`when`) -> authentication (identity) -> authorization -> response.
 *
 * Each stage lives in its own file of `sim/auth/`:
 * - `cel.ts`: CEL predicates and expressions, compiled once ({@linkcode CelProgram});
 * - `selector.ts`: Authorino's JSON selectors with modifiers, and selector/operator/value patterns;
 * - `authorization_json.ts`: the authorization JSON built from one request ({@linkcode AuthorizationJson});
 * - `credentials.ts`, `jwks.ts`, `identity.ts`: where a credential is read and how it is verified;
 * - `authorization.ts`: patternMatching, opa, kubernetesSubjectAccessReview;
 * - `response.ts`: denyWith answers and success headers (plain, json, wristband);
 * - `auth_policy.ts`: AuthPolicy objects, attachment and merging into one {@linkcode AuthConfigSpec} per target;
 * - `engine.ts`: one AuthConfig evaluated for one request ({@linkcode AuthEngine}).
 *
 * @module
 */

/**
 * Authorino's authorization JSON: what CEL predicates and JSON selectors read. Well-known attributes
 * (`request`, `source`, `destination`, `auth`) as Envoy's and Authorino's docs name them, plus the
 * legacy `context.request.http` tree older selectors use.
 */
export interface AuthorizationJson {
  /** `request.*`: id, time, protocol, scheme, host, method, path, url_path, query, headers (lower case), body, size. */
  request: Record<string, unknown>;
  /** `source.*`: address, port, (service, labels, principal, certificate are empty here). */
  source: Record<string, unknown>;
  /** `destination.*`: address, port. */
  destination: Record<string, unknown>;
  /** `context.request.http.*` (legacy selectors: method, path, host, headers, ...). */
  context: Record<string, unknown>;
  /** What the pipeline resolved so far. */
  auth: {
    /** The resolved identity object (JWT claims, API key Secret, TokenReview status, ...). */
    identity?: unknown;
    /** Metadata by name (not fetched by the simulator; kept for selectors). */
    metadata: Record<string, unknown>;
    /** Each authorization rule's result by name (OPA's whole result when `allValues`). */
    authorization: Record<string, unknown>;
    /** Success headers and metadata already built (`auth.response`). */
    response?: Record<string, unknown>;
  };
}

/** A CEL program compiled once and evaluated per request. */
export interface CelProgram {
  /** The expression as written. */
  readonly source: string;
  /** Evaluates against one authorization JSON; throws {@linkcode AuthEvalError} on a runtime error. */
  evaluate(input: AuthorizationJson): unknown;
}

/** Where and why a policy could not be evaluated, for the start-up table and validate. */
export interface Unsupported {
  /** Dotted path of the rule, e.g. `rules.metadata.user-info` or `rules.authorization.opa-rule`. */
  path: string;
  /** One sentence: what the simulator cannot do here and what it does instead. */
  reason: string;
}

/** One request as the auth pipeline sees it: after the router computed the `x-mcp-*` headers. */
export interface AuthRequest {
  /** The HTTP request (body already read by the gateway; do not read it again). */
  request: Request;
  /** The request headers as Authorino sees them: the client's plus the router's `x-mcp-*`. */
  headers: Headers;
  /** The parsed JSON body when the gateway read one (a JSON-RPC message), for `request.body`. */
  body?: string;
  /** The client's address. */
  source: { address: string; port: number };
  /** The gateway's listening address. */
  destination: { address: string; port: number };
}

/** What the AuthConfig lets through, with what Authorino adds to the request. */
export interface AuthAllow {
  allow: true;
  /** Success headers to set on the request as it continues (e.g. `x-mcp-authorized`). */
  requestHeaders: Record<string, string>;
  /** The resolved identity (for the broker's `sub`), absent when no authentication ran. */
  identity?: unknown;
  /** The name of the identity method that succeeded. */
  identityMethod?: string;
}

/** What the AuthConfig refuses, with the exact HTTP answer Authorino gives. */
export interface AuthDeny {
  allow: false;
  /** 401 when unauthenticated, 403 when unauthorized, or the policy's `code`. */
  status: number;
  /** Response headers (`WWW-Authenticate`, `X-Ext-Auth-Reason`, the policy's own). */
  headers: Record<string, string>;
  /** Response body as the policy wrote it (empty when it sets none). */
  body: string;
  /** Why, for the log (never a credential). */
  reason: string;
}

/** The outcome of evaluating one AuthConfig for one request. */
export type AuthDecision = AuthAllow | AuthDeny;

/** An AuthConfig ready to evaluate (compiled once, shared by all requests). */
export interface AuthEngine {
  /** Evaluates `req`; never throws (an internal failure is a deny, never an allow). */
  evaluate(req: AuthRequest): Promise<AuthDecision>;
  /** Rules the simulator cannot evaluate here, with reasons. */
  readonly unsupported: readonly Unsupported[];
}

/**
 * A merged AuthPolicy spec for one target, in the AuthPolicy's own shape (`when`, `rules` with
 * `authentication`, `metadata`, `authorization`, `response`, `callbacks`), as Kuadrant hands it to
 * Authorino after resolving defaults, overrides and strategies.
 */
export interface AuthConfigSpec {
  /** Top-level predicates: all must hold for the policy to apply (otherwise the request is let through). */
  when?: { predicate: string }[];
  /** Named pattern sets (`spec.patterns`: name -> `{allOf: [...]}`) that `patternRef` refers to. */
  patterns?: Record<string, unknown>;
  /** The rules. */
  rules: Record<string, unknown>;
  /** The policies (`ns/name`) that contributed rules, for the start-up table and logs. */
  sources: string[];
}

/** A failure while evaluating one rule (CEL runtime error, unreachable JWKS, OPA failure). */
export class AuthEvalError extends Error {
  /** Stable code. */
  readonly code: string;
  /** `code`: `cel_runtime`, `jwks_unavailable`, `opa_failed`, `kube_review_failed`, ... */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthEvalError";
    this.code = code;
  }
}

/** A CEL expression that does not compile, with where. */
export class CelCompileError extends Error {
  /** Stable code. */
  readonly code = "cel_compile";
  /** The expression as written. */
  readonly source: string;
  /** 1-based line and column of the error in `source`, when the parser gives one. */
  readonly position?: { line: number; column: number };
  /** An error for `source` at `position`. */
  constructor(source: string, message: string, position?: { line: number; column: number }) {
    super(message);
    this.name = "CelCompileError";
    this.source = source;
    this.position = position;
  }
}

/** A Secret as the auth stages read it (apiKey identities, wristband signing keys). */
export interface SecretObject {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Decoded `data` (and `stringData`) values. Never logged. */
  data: Record<string, string>;
}

/** The Secrets the policies may read: from `-f` files or the cluster, kept current by the replay. */
export interface SecretSource {
  /** Every Secret known now. */
  list(): readonly SecretObject[];
}

/** The API server's review APIs, for `kubernetesTokenReview` and `kubernetesSubjectAccessReview`. */
export interface KubeReviewClient {
  /** POST `authentication.k8s.io/v1` TokenReview; the returned `status` object as the API server wrote it. */
  tokenReview(token: string, audiences?: string[], signal?: AbortSignal): Promise<Record<string, unknown>>;
  /** POST `authorization.k8s.io/v1` SubjectAccessReview with `spec`; the returned `status` object. */
  subjectAccessReview(spec: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>>;
}
