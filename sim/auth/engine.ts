/**
 * One AuthConfig evaluated for one request, in Authorino's order: the top-level `when` (false: the
 * AuthConfig is skipped and the request allowed without auth) -> authentication (identity) ->
 * metadata -> authorization -> response (success headers, or the denial as the policy writes it).
 *
 * Everything is compiled once by {@linkcode compileAuthConfig}; a request only evaluates.
 *
 * @module
 */
import type { Logger } from "../options.ts";
import type {
  AuthConfigSpec,
  AuthDecision,
  AuthEngine,
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
  /** What an authorization rule the simulator cannot evaluate does: pass (`allow`) or fail (`deny`). */
  unsupportedRules: "allow" | "deny";
  /** Diagnostics (never a credential). */
  log?: Logger;
}

/**
 * Compiles `spec` once. Never throws: what cannot be compiled is in `unsupported` and, for
 * authentication, fails closed.
 */
export function compileAuthConfig(spec: AuthConfigSpec, _ctx: EngineContext): AuthEngine {
  const unsupported: Unsupported[] = [];
  for (const [group, rules] of Object.entries(spec.rules)) {
    if (typeof rules !== "object" || rules === null) continue;
    for (const name of Object.keys(rules)) {
      unsupported.push({ path: `rules.${group}.${name}`, reason: "Not evaluated yet by the simulator." });
    }
  }
  return {
    unsupported,
    evaluate(): Promise<AuthDecision> {
      return Promise.resolve({
        allow: false,
        status: 403,
        headers: {},
        body: "",
        reason: "The simulator cannot evaluate this AuthConfig yet.",
      });
    },
  };
}
