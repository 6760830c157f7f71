/**
 * The RateLimitPolicy limits that apply to calling one tool, as `tools -o wide` and `--explain` show
 * them: the limits of the tool's server route (Kuadrant attaches them to the registration's
 * HTTPRoute, or to the Gateway above it), whose `when` predicates hold for a `tools/call` of that tool
 * with the headers upstream's router sets (`x-mcp-method`, `x-mcp-toolname` — the server's own name
 * for the tool —, `x-mcp-servername`). A predicate that reads what only a real request has (the
 * identity, a client header) makes the limit conditional rather than dropping it.
 *
 * @module
 */

import { buildAuthorizationJson } from "../../sim/auth/authorization_json.ts";
import { compileCel, evaluatePredicate } from "../../sim/auth/cel.ts";
import type { RateLimitGateInput } from "../../sim/ratelimit/gate.ts";
import {
  type LimitSpec,
  type ResolvedRateLimits,
  resolveRateLimitPolicies,
} from "../../sim/ratelimit/rate_limit_policy.ts";

/** One limit on calling a tool. */
export interface ToolLimit {
  /** `ns/name` of the RateLimitPolicy. */
  policy: string;
  /** The limit's name in it. */
  limit: string;
  /** Its rates, `limit/window`. */
  rates: string[];
  /** The counter expressions (one counter per distinct value, e.g. per user). */
  counters: string[];
  /** Whether it applies only to some calls: a `when` predicate reads what only a real request has. */
  conditional: boolean;
}

/** The effective limits of the gateway, resolved once for many tools. */
export function resolveToolLimits(input: RateLimitGateInput): ResolvedRateLimits | undefined {
  if (!input.targets) return undefined;
  return resolveRateLimitPolicies(input.policies, input.targets);
}

/** Whether `spec` applies to the request `json`: true, false, or undefined when it depends on more. */
function applies(spec: LimitSpec, json: ReturnType<typeof buildAuthorizationJson>): boolean | undefined {
  let known = true;
  for (const predicate of spec.when) {
    try {
      if (!evaluatePredicate(compileCel(predicate), json)) return false;
    } catch {
      // Cannot be evaluated without the real request (identity, client headers), or does not compile:
      // the gate decides per request.
      known = false;
    }
  }
  return known ? true : undefined;
}

/**
 * The limits on a `tools/call` of `tool` (its federated name) served by `server` (`ns/name`, whose
 * prefix is `prefix`).
 */
export function limitsForTool(
  resolved: ResolvedRateLimits | undefined,
  tool: { name: string; server: string; prefix: string },
): ToolLimit[] {
  const specs = resolved?.servers.get(tool.server);
  if (!specs?.length) return [];
  const backendName = tool.prefix && tool.name.startsWith(tool.prefix)
    ? tool.name.slice(tool.prefix.length)
    : tool.name;
  const headers = new Headers({
    "content-type": "application/json",
    "x-mcp-method": "tools/call",
    "x-mcp-toolname": backendName,
    "x-mcp-servername": tool.server,
  });
  const json = buildAuthorizationJson({
    request: new Request("http://gateway.invalid/mcp", { method: "POST" }),
    headers,
    source: { address: "127.0.0.1", port: 0 },
    destination: { address: "gateway.invalid", port: 80 },
  });
  const out: ToolLimit[] = [];
  for (const spec of specs) {
    const verdict = applies(spec, json);
    if (verdict === false) continue;
    out.push({
      policy: spec.policy,
      limit: spec.name,
      rates: spec.rates.map((rate) => `${rate.limit}/${rate.window}`),
      counters: spec.counters,
      conditional: verdict === undefined,
    });
  }
  return out;
}

/** A limit in one cell: `ns/policy#limit 5/1m per auth.identity.sub`, `(when ...)` when conditional. */
export function formatToolLimit(limit: ToolLimit): string {
  const per = limit.counters.length ? ` per ${limit.counters.join(",")}` : "";
  return `${limit.policy}#${limit.limit} ${limit.rates.join("+")}${per}${
    limit.conditional ? " (conditional)" : ""
  }`;
}
