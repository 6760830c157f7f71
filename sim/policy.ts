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
}

/** The outcome of a policy: allow, or deny with the HTTP answer to send. */
export type PolicyDecision =
  | { allow: true }
  | { allow: false; status: number; message: string; headers?: Record<string, string> };

/** Decides whether a request may proceed. */
export interface RequestPolicy {
  /** Called once per JSON-RPC message posted to `/mcp`. */
  evaluate(input: PolicyInput): PolicyDecision | Promise<PolicyDecision>;
}

/** The default policy: everything is allowed. */
export const allowAll: RequestPolicy = { evaluate: () => ({ allow: true }) };
