/**
 * The policy hook every MCP request passes after its `x-mcp-*` attributes are computed and before it
 * is routed. AuthPolicy evaluation, wristband-filtered lists and rate limits plug in here.
 *
 * @module
 */
import type { RequestAttributes } from "./routing.ts";

/** What a policy sees about one request. */
export interface PolicyInput {
  /** The attributes computed once for this request. */
  attributes: RequestAttributes;
  /** The incoming HTTP request (headers such as `Authorization` are read here, never forwarded). */
  request: Request;
  /** Verified gateway session id, absent on initialize. */
  sessionId?: string;
  /** What an earlier policy of a chain allowed with (its identity), see {@linkcode chainPolicies}. */
  granted?: PolicyAllow;
}

/** The outcome of a policy: allow, or deny with the HTTP answer to send. */
export type PolicyDecision = PolicyAllow | PolicyDeny;

/** A request the policy lets through, with what it adds (Authorino's success headers, the identity). */
export interface PolicyAllow {
  allow: true;
  /** Headers set on the request as it continues to the broker or the server (e.g. `x-mcp-authorized`). */
  requestHeaders?: Record<string, string>;
  /** The verified identity (JWT claims, ...), for the broker features bound to a user (`sub`). */
  identity?: unknown;
}

/** A request the policy refuses, with the HTTP answer to send. */
export interface PolicyDeny {
  allow: false;
  /** HTTP status. */
  status: number;
  /** The JSON-RPC error message, used when `body` is absent. */
  message: string;
  /** Response headers. */
  headers?: Record<string, string>;
  /** The response body exactly as the policy wrote it; replaces the JSON-RPC error when set. */
  body?: string;
}

/**
 * A request to the gateway's listener that carries no JSON-RPC message: GET and DELETE on `/mcp`,
 * the protected-resource metadata, the `/tokens` page. Upstream's router sets no `x-mcp-*` header
 * on these, but the gateway's AuthPolicy still sees them.
 */
export interface HttpPolicyInput {
  /** The incoming HTTP request. */
  request: Request;
  /** Which of the broker's route rules serves it (upstream's `mcp-gateway-route` and tokens route). */
  rule: "mcp" | "well-known" | "status" | "tokens";
  /** What an earlier policy of a chain allowed with (its identity), see {@linkcode chainPolicies}. */
  granted?: PolicyAllow;
}

/** Decides whether a request may proceed. */
export interface RequestPolicy {
  /** Called once per JSON-RPC message posted to `/mcp`. */
  evaluate(input: PolicyInput): PolicyDecision | Promise<PolicyDecision>;
  /** Called for requests without a JSON-RPC message (see {@linkcode HttpPolicyInput}); allowed when absent. */
  evaluateRequest?(input: HttpPolicyInput): PolicyDecision | Promise<PolicyDecision>;
}

/** A client's address as the listener saw it. */
export interface RequestSource {
  address: string;
  port: number;
}

// Keyed by the request object so the address reaches the policy without threading it through every
// stage of the endpoint; entries go with their requests.
const sources = new WeakMap<Request, RequestSource>();

/** Records the client address of `req` (the gateway does, from `Deno.serve`'s connection info). */
export function setRequestSource(req: Request, source: RequestSource): void {
  sources.set(req, source);
}

/** The client address of `req`, when the gateway recorded one (Authorino's `source.address`). */
export function requestSource(req: Request): RequestSource | undefined {
  return sources.get(req);
}

/** The default policy: everything is allowed. */
export const allowAll: RequestPolicy = { evaluate: () => ({ allow: true }) };

/**
 * Runs `second` after `first` allowed, with `first`'s allow as `granted`; merges what both add.
 * Synchronous when both decide at once, so a chain of policies that need no I/O costs no extra turn
 * of the event loop per request.
 */
function chained(
  first: PolicyDecision | Promise<PolicyDecision>,
  second: (granted: PolicyAllow) => PolicyDecision | Promise<PolicyDecision> | undefined,
): PolicyDecision | Promise<PolicyDecision> {
  const merge = (a: PolicyAllow, b: PolicyDecision): PolicyDecision => {
    if (!b.allow) return b;
    const headers = a.requestHeaders || b.requestHeaders
      ? { requestHeaders: { ...a.requestHeaders, ...b.requestHeaders } }
      : {};
    const identity = a.identity ?? b.identity;
    return { allow: true, ...headers, ...(identity !== undefined ? { identity } : {}) };
  };
  const then = (a: PolicyDecision): PolicyDecision | Promise<PolicyDecision> => {
    if (!a.allow) return a;
    const b = second(a) ?? { allow: true as const };
    return b instanceof Promise ? b.then((decided) => merge(a, decided)) : merge(a, b);
  };
  return first instanceof Promise ? first.then(then) : then(first);
}

/**
 * Policies in the order Kuadrant's wasm-shim runs them: `auth` (AuthPolicy) first, then `rateLimit`
 * (RateLimitPolicy), which sees the auth decision's identity as `granted` (`auth.identity` in its
 * CEL). A request `auth` denies never reaches the rate limit, so it counts on no counter.
 */
export function chainPolicies(auth: RequestPolicy, rateLimit: RequestPolicy): RequestPolicy {
  return {
    evaluate: (input) =>
      chained(auth.evaluate(input), (granted) => rateLimit.evaluate({ ...input, granted })),
    evaluateRequest: (input) =>
      chained(
        auth.evaluateRequest?.(input) ?? { allow: true },
        (granted) => rateLimit.evaluateRequest?.({ ...input, granted }),
      ),
  };
}
