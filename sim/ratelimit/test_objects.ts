/**
 * RateLimitPolicy objects for the tests of this folder and `test/sim_rate_limit_test.ts`.
 *
 * @module
 */

/** A RateLimitPolicy on `target` with `spec` beside its targetRef, created at `created`. */
export function rateLimitPolicy(
  namespace: string,
  name: string,
  target: { kind: "Gateway" | "HTTPRoute"; name: string; sectionName?: string },
  spec: Record<string, unknown>,
  created = "2026-01-01T00:00:00Z",
): Record<string, unknown> {
  return {
    apiVersion: "kuadrant.io/v1",
    kind: "RateLimitPolicy",
    metadata: { namespace, name, creationTimestamp: created },
    spec: { targetRef: { group: "gateway.networking.k8s.io", ...target }, ...spec },
  };
}
