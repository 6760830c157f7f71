/**
 * Which rule decided: one AuthConfig evaluated for one request as the engine does (engine.ts), but
 * stage by stage, recording what each stage found. `kubectl mcp auth can-i` and `tools --explain`
 * print it; the request path never comes here, so tracing costs a request nothing.
 *
 * The decision is the engine's own: the same compiled stages, in the same order, with the same
 * denial built by the policy's response. What is added is the record: the top-level `when` that
 * skipped the AuthConfig, the identity method that succeeded (or each method's error), each
 * authorization rule (passed, denied, skipped by its `when`, not reached), and for a denying
 * `patternMatching` rule the first of its patterns that does not hold. Header values are never
 * recorded: a success header may be a wristband, a credential.
 *
 * @module
 */
import { AuthorizationDenied, authorize } from "./authorization.ts";
import { compileConditions, holds, type NamedPatterns } from "./conditions.ts";
import { buildAuthorizationJson } from "./authorization_json.ts";
import type { CompiledAuthConfig } from "./engine.ts";
import { authenticate } from "./identity.ts";
import type { AuthDecision, AuthEngine, AuthorizationJson, AuthRequest } from "./types.ts";

/** What happened to one authorization rule. */
export interface RuleTrace {
  /** The rule's key under `rules.authorization`. */
  name: string;
  /**
   * `passed`; `denied`; `skipped` (its `when` does not hold); `not-reached` (an earlier rule
   * denied, or the request never got to authorization); `unsupported` (the simulator cannot
   * evaluate it: it passes or fails per `--unsupported-rules`).
   */
  result: "passed" | "denied" | "skipped" | "not-reached" | "unsupported";
  /** For `skipped`: the `when` as written; for `denied`: the predicate that does not hold. */
  predicate?: string;
  /** Authorino's reason for a denial, or why the rule is unsupported. */
  reason?: string;
}

/** One AuthConfig's evaluation of one request, stage by stage. */
export interface AuthTrace {
  /** The engine's decision, exactly as the request path would have it. */
  decision: AuthDecision;
  /** The policies (`ns/name`) whose rules make this AuthConfig. */
  policies: string[];
  /**
   * The stage that decided: `when` (a top-level predicate does not hold: the AuthConfig is skipped
   * and the request let through), `identity` (no method accepted the credential), `authorization`
   * (a rule denied), `allowed` (every stage passed), `internal` (the AuthConfig cannot be compiled or
   * evaluated: a denial).
   */
  stage: "when" | "identity" | "authorization" | "allowed" | "internal";
  /** The top-level `when` predicate that does not hold, when `stage` is `when`. */
  skippedBy?: string;
  /** The identity stage: the method that accepted the request, or each method's error. */
  identity?: { method?: string; errors: Record<string, string> };
  /** Every authorization rule, in evaluation order. */
  authorization: RuleTrace[];
  /** The rule (or, for `identity`, the methods) that decided a denial. */
  rule?: string;
  /** The predicate that does not hold, when a `patternMatching` rule denied. */
  predicate?: string;
  /** One sentence: why (Authorino's reason for a denial). */
  reason: string;
  /** The names of the success headers set (never their values). */
  successHeaders: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Evaluates `req` on `engine` and records how. Never throws: an internal failure is a denial, as on
 * the request path.
 */
export async function traceAuthConfig(
  engine: AuthEngine | CompiledAuthConfig,
  req: AuthRequest,
): Promise<AuthTrace> {
  const parts = "parts" in engine ? engine.parts : undefined;
  if (!parts) {
    // An AuthConfig that did not compile: its engine denies every request and says why.
    const decision = await engine.evaluate(req);
    return {
      decision,
      policies: [],
      stage: decision.allow ? "allowed" : "internal",
      authorization: [],
      reason: decision.allow ? "allowed" : decision.reason,
      successHeaders: [],
    };
  }
  const spec = parts.spec;
  const trace: AuthTrace = {
    decision: { allow: true, requestHeaders: {} },
    policies: [...spec.sources],
    stage: "allowed",
    authorization: parts.authorization.map((rule) => ({ name: rule.name, result: "not-reached" as const })),
    reason: "",
    successHeaders: [],
  };
  const ruleSpecs = isObj(spec.rules.authorization) ? spec.rules.authorization : {};
  const patterns = (spec.patterns ?? {}) as NamedPatterns;
  try {
    const json = buildAuthorizationJson(req);
    if (!holds(parts.when, json)) {
      trace.stage = "when";
      trace.skippedBy = failedCondition(spec.when, json, patterns) ?? conditionsText(spec.when);
      trace.reason = `the policy's when does not hold (${trace.skippedBy}), so it does not apply: allowed`;
      return trace;
    }
    const identity = await authenticate(parts.methods, req, json, req.request.signal);
    if (!identity.authenticated) {
      const challenges: Record<string, string> = {};
      if (identity.challenges.length) challenges["WWW-Authenticate"] = identity.challenges.join(", ");
      trace.identity = { errors: identity.errors };
      trace.stage = "identity";
      trace.rule = parts.methods.map((m) => m.name).join(", ");
      trace.reason = identity.message;
      trace.decision = parts.response.deny("unauthenticated", identity.message, json, challenges);
      return trace;
    }
    trace.identity = { method: identity.method, errors: {} };
    json.auth.identity = identity.identity;
    let denied: AuthorizationDenied | undefined;
    try {
      await authorize(parts.authorization, json, req.request.signal);
    } catch (err) {
      if (!(err instanceof AuthorizationDenied)) throw err;
      denied = err;
    }
    for (const rule of trace.authorization) {
      const compiled = parts.authorization.find((r) => r.name === rule.name)!;
      const ruleSpec = isObj(ruleSpecs[rule.name]) ? ruleSpecs[rule.name] as Record<string, unknown> : {};
      if (Object.hasOwn(json.auth.authorization, rule.name)) rule.result = "passed";
      else if (denied?.rule === rule.name) {
        rule.result = "denied";
        rule.reason = denied.reason;
        const failed = failedPattern(ruleSpec, json, patterns);
        if (failed) rule.predicate = failed;
      } else if (!holds(compiled.when, json)) {
        rule.result = "skipped";
        rule.predicate = conditionsText(ruleSpec.when);
      }
    }
    // As the engine: rules the simulator cannot evaluate fail after the others passed (--unsupported-rules deny).
    for (const rule of parts.failUnsupported) {
      if (denied) {
        trace.authorization.push({ name: rule.name, result: "not-reached" });
        continue;
      }
      if (!holds(rule.when, json)) {
        const ruleSpec = isObj(ruleSpecs[rule.name]) ? ruleSpecs[rule.name] as Record<string, unknown> : {};
        trace.authorization.push({
          name: rule.name,
          result: "skipped",
          ...(ruleSpec.when ? { predicate: conditionsText(ruleSpec.when) } : {}),
        });
        continue;
      }
      trace.authorization.push({ name: rule.name, result: "unsupported", reason: rule.reason });
      denied = new AuthorizationDenied(rule.name, `${rule.name}: ${rule.reason}`);
    }
    if (denied) {
      const rule = trace.authorization.find((r) => r.name === denied!.rule);
      trace.stage = "authorization";
      trace.rule = denied.rule;
      if (rule?.predicate && rule.result === "denied") trace.predicate = rule.predicate;
      trace.reason = denied.reason;
      trace.decision = parts.response.deny("unauthorized", denied.reason, json);
      return trace;
    }
    const requestHeaders = await parts.response.successHeaders(json);
    trace.successHeaders = Object.keys(requestHeaders);
    trace.reason = "allowed";
    trace.decision = {
      allow: true,
      requestHeaders,
      identity: identity.identity,
      identityMethod: identity.method,
    };
    return trace;
  } catch (err) {
    const reason = `AuthPolicy evaluation failed: ${err instanceof Error ? err.message : String(err)}`;
    trace.stage = "internal";
    trace.reason = reason;
    trace.decision = { allow: false, status: 500, headers: {}, body: "", reason };
    return trace;
  }
}

/** The first pattern of a `patternMatching` rule that does not hold (or fails to evaluate), as written. */
function failedPattern(
  ruleSpec: Record<string, unknown>,
  json: AuthorizationJson,
  patterns: NamedPatterns,
): string | undefined {
  const matching = isObj(ruleSpec.patternMatching) ? ruleSpec.patternMatching : undefined;
  return matching ? failedCondition(matching.patterns, json, patterns) : undefined;
}

/** The first condition of a `when` or `patterns` list that does not hold (or fails to evaluate), as written. */
function failedCondition(
  list: unknown,
  json: AuthorizationJson,
  patterns: NamedPatterns,
): string | undefined {
  for (const item of Array.isArray(list) ? list : []) {
    let ok: boolean;
    try {
      ok = compileConditions([item], patterns).matches(json);
    } catch {
      ok = false;
    }
    if (ok) continue;
    const ref = isObj(item) && typeof item.patternRef === "string" ? item.patternRef : undefined;
    const named = ref !== undefined && Object.hasOwn(patterns, ref) ? patterns[ref] : undefined;
    if (named !== undefined) {
      // A named pattern set: the one of its patterns that fails says more than its name.
      const inner = failedCondition(Array.isArray(named) ? named : named.allOf ?? [], json, {});
      return inner ? `${ref}: ${inner}` : `patternRef ${ref}`;
    }
    return conditionText(item);
  }
  return undefined;
}

/** A `when` list as written, one line. */
function conditionsText(list: unknown): string | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return list.map(conditionText).join(" && ");
}

/** One condition (predicate, pattern, patternRef, all, any) as written, one line. */
function conditionText(item: unknown): string {
  if (!isObj(item)) return String(item);
  if (typeof item.patternRef === "string") return `patternRef ${item.patternRef}`;
  if (typeof item.operator === "string" && item.operator !== "") {
    return `${item.selector ?? ""} ${item.operator} ${item.value ?? ""}`.trim();
  }
  if (typeof item.predicate === "string") return item.predicate.trim().replace(/\s*\n\s*/g, " ");
  for (const op of ["all", "any"] as const) {
    if (Array.isArray(item[op])) return `${op}(${item[op].map(conditionText).join(", ")})`;
  }
  return JSON.stringify(item);
}
