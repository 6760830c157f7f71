/**
 * One AuthConfig evaluated for one request, in Authorino's order (pkg/service/auth_pipeline.go):
 * the top-level `when` (false: Authorino skips the AuthConfig and lets the request through without
 * auth) -> authentication (methods by priority, each with its own `when`; the first success wins) ->
 * metadata (not fetched by the simulator: reported, ignored) -> authorization (every rule whose
 * `when` holds must pass, by priority) -> response (success headers, or the denial as the policy
 * writes it). Callbacks are reported and ignored.
 *
 * Everything is compiled once by {@linkcode compileAuthConfig}; a request only builds its
 * authorization JSON and evaluates. The engine never throws: an internal failure is a denial.
 *
 * @module
 */
import type { Logger } from "../options.ts";
import {
  AuthorizationDenied,
  type AuthorizationRule,
  authorize,
  closeAuthorization,
  compileAuthorization,
} from "./authorization.ts";
import { compileConditions, type Condition, holds, type NamedPatterns } from "./conditions.ts";
import { buildAuthorizationJson } from "./authorization_json.ts";
import { authenticate, compileAuthentication, type IdentityContext } from "./identity.ts";
import type { JwksCache } from "./jwks.ts";
import type { OpaPool } from "./opa.ts";
import { compileResponse } from "./response.ts";
import type {
  AuthConfigSpec,
  AuthDecision,
  AuthDeny,
  AuthEngine,
  AuthRequest,
  KubeReviewClient,
  SecretSource,
  Unsupported,
} from "./types.ts";

/** What compiling an AuthConfig needs from the gateway. */
export interface EngineContext {
  /** The Secrets apiKey identities and wristband signing keys read. */
  secrets: SecretSource;
  /** The API server's review APIs, when a cluster is there. */
  kube?: KubeReviewClient;
  /** The shared JWKS cache (one per gateway, so keys survive policy updates). */
  jwks?: JwksCache;
  /**
   * Where Kuadrant creates AuthConfigs (the Kuadrant CR's namespace, usually `kuadrant-system`):
   * where `apiKey` looks for Secrets without `allNamespaces`. Default `kuadrant-system`.
   */
  namespace?: string;
  /** Shared OPA processes for `opa` rules (without one, each rule starts its own, stopped by `close`). */
  opa?: OpaPool;
  /** The `opa` binary when no pool is given (default: `opa` on PATH). */
  opaPath?: string;
  /** What an authorization rule the simulator cannot evaluate does: pass (`allow`) or fail (`deny`). */
  unsupportedRules: "allow" | "deny";
  /** Diagnostics (never a credential). */
  log?: Logger;
}

/** The namespace Kuadrant's AuthConfigs live in by default. */
export const DEFAULT_AUTHCONFIG_NAMESPACE = "kuadrant-system";

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An authorization rule the simulator cannot evaluate, kept with its `when` so it only counts where it applies. */
interface UnsupportedRule {
  name: string;
  when: Condition;
  reason: string;
}

/** An AuthConfig ready to evaluate, with what it holds (OPA processes) to release. */
export interface CompiledAuthConfig extends AuthEngine {
  /** Releases what the rules hold; the engine must not be used after. */
  close(): Promise<void>;
}

/** The deny every internal failure becomes. */
function internalDeny(reason: string): AuthDeny {
  return { allow: false, status: 500, headers: {}, body: "", reason };
}

/**
 * Compiles `spec` once. Never throws: what cannot be compiled is in `unsupported` (a `when` that does
 * not compile makes the whole AuthConfig deny, as Authorino refuses to load it).
 */
export function compileAuthConfig(spec: AuthConfigSpec, ctx: EngineContext): CompiledAuthConfig {
  try {
    return compile(spec, ctx);
  } catch (err) {
    const reason = `The AuthConfig of ${spec.sources.join(", ") || "this route"} cannot be compiled: ${
      err instanceof Error ? err.message : String(err)
    }`;
    ctx.log?.("warn", reason);
    const deny = internalDeny(reason);
    return {
      unsupported: [{ path: "", reason: `${reason}; every request is denied.` }],
      evaluate: () => Promise.resolve(deny),
      close: () => Promise.resolve(),
    };
  }
}

function compile(spec: AuthConfigSpec, ctx: EngineContext): CompiledAuthConfig {
  const patterns = (spec.patterns ?? {}) as NamedPatterns;
  const rules = spec.rules;
  const unsupported: Unsupported[] = [];
  const when = compileConditions(spec.when, patterns);

  const identityCtx: IdentityContext = {
    namespace: ctx.namespace ?? DEFAULT_AUTHCONFIG_NAMESPACE,
    secrets: ctx.secrets,
    ...(ctx.kube ? { kube: ctx.kube } : {}),
    ...(ctx.jwks ? { jwks: ctx.jwks } : {}),
    patterns,
  };
  const authentication = compileAuthentication(rules.authentication, identityCtx);
  unsupported.push(...authentication.unsupported);

  for (const name of Object.keys(isObj(rules.metadata) ? rules.metadata : {})) {
    unsupported.push({
      path: `rules.metadata.${name}`,
      reason: "The simulator fetches no metadata; auth.metadata." + name + " stays empty.",
    });
  }
  for (const name of Object.keys(isObj(rules.callbacks) ? rules.callbacks : {})) {
    unsupported.push({ path: `rules.callbacks.${name}`, reason: "The simulator sends no callbacks." });
  }

  const authzRules: AuthorizationRule[] = [];
  const unsupportedAuthz: UnsupportedRule[] = [];
  for (const [name, ruleSpec] of Object.entries(isObj(rules.authorization) ? rules.authorization : {})) {
    const compiled = compileAuthorization(name, isObj(ruleSpec) ? ruleSpec : {}, {
      patterns,
      ...(ctx.kube ? { kube: ctx.kube } : {}),
      ...(ctx.opa ? { opa: ctx.opa } : {}),
      ...(ctx.opaPath ? { opaPath: ctx.opaPath } : {}),
    });
    if ("authorize" in compiled) {
      authzRules.push(compiled);
      continue;
    }
    const what = ctx.unsupportedRules === "allow" ? "passes" : "fails";
    unsupported.push({
      path: compiled.path,
      reason: `${compiled.reason.replace(/\.?$/, ".")} The rule ${what} (--unsupported-rules).`,
    });
    const ruleWhen = compileConditions(isObj(ruleSpec) ? ruleSpec.when : undefined, patterns);
    unsupportedAuthz.push({ name, when: ruleWhen, reason: compiled.reason });
  }

  const response = compileResponse(isObj(rules.response) ? rules.response : {}, {
    secrets: ctx.secrets,
    authorinoNamespace: identityCtx.namespace,
    patterns,
  });
  unsupported.push(...response.unsupported);

  const failUnsupported = ctx.unsupportedRules === "deny" ? unsupportedAuthz : [];
  const log = ctx.log;

  async function run(req: AuthRequest): Promise<AuthDecision> {
    const json = buildAuthorizationJson(req);
    // A condition that fails to evaluate does not hold (Authorino's `when`): the AuthConfig is skipped.
    if (!holds(when, json)) return { allow: true, requestHeaders: {} };
    const signal = req.request.signal;
    const identity = await authenticate(authentication.methods, req, json, signal);
    if (!identity.authenticated) {
      const challenges: Record<string, string> = {};
      if (identity.challenges.length) challenges["WWW-Authenticate"] = identity.challenges.join(", ");
      return response.deny("unauthenticated", identity.message, json, challenges);
    }
    json.auth.identity = identity.identity;
    try {
      await authorize(authzRules, json, signal);
    } catch (err) {
      if (!(err instanceof AuthorizationDenied)) throw err;
      return response.deny("unauthorized", err.reason, json);
    }
    for (const rule of failUnsupported) {
      if (holds(rule.when, json)) {
        return response.deny("unauthorized", `${rule.name}: ${rule.reason}`, json);
      }
    }
    const requestHeaders = await response.successHeaders(json);
    return { allow: true, requestHeaders, identity: identity.identity, identityMethod: identity.method };
  }

  return {
    unsupported,
    close: () => closeAuthorization(authzRules),
    async evaluate(req: AuthRequest): Promise<AuthDecision> {
      try {
        return await run(req);
      } catch (err) {
        const reason = `AuthPolicy evaluation failed: ${err instanceof Error ? err.message : String(err)}`;
        log?.("warn", reason);
        return internalDeny(reason);
      }
    },
  };
}
