/**
 * The Kuadrant CRDs the validator checks objects against, vendored from the Go module the test
 * cluster pins (see `vendor_crds.ts`; `vendored_test.ts` keeps them equal to the pinned manifests),
 * converted to the schema DSL on first use.
 *
 * @module
 */

import authPolicies from "./vendored/kuadrant.io_authpolicies.json" with { type: "json" };
import rateLimitPolicies from "./vendored/kuadrant.io_ratelimitpolicies.json" with { type: "json" };
import { fromOpenApi, type VendoredCrd, type VendoredCrdSource } from "./openapi.ts";
import type { ObjectSchema } from "./schema.ts";

/** API group of the Kuadrant policies. */
export const KUADRANT_GROUP = "kuadrant.io";
/** Kind of the Kuadrant auth policy. */
export const KIND_AUTH_POLICY = "AuthPolicy";
/** Kind of the Kuadrant rate limit policy. */
export const KIND_RATE_LIMIT_POLICY = "RateLimitPolicy";

/** One version of a vendored CRD, its schema in the DSL. */
export interface ForeignCrdVersion {
  /** Version name. */
  name: string;
  /** Whether the API server serves it. */
  served: boolean;
  /** Whether the status subresource is enabled. */
  statusSubresource: boolean;
  /** Root schema. */
  schema: ObjectSchema;
}

/** A vendored CRD ready for validation. */
export interface ForeignCrd {
  /** API group. */
  group: string;
  /** Kind. */
  kind: string;
  /** Where the vendored copy comes from. */
  source: VendoredCrdSource;
  /** Its versions. */
  versions: ForeignCrdVersion[];
}

/** The vendored CRDs as stored. */
export const VENDORED_CRDS: readonly VendoredCrd[] = [
  authPolicies as VendoredCrd,
  rateLimitPolicies as VendoredCrd,
];

const converted = new Map<string, ForeignCrd>();

/** The vendored CRD of `group` and `kind`, converted once; undefined when none is vendored. */
export function foreignCrd(group: string, kind: string): ForeignCrd | undefined {
  const key = `${group}/${kind}`;
  const cached = converted.get(key);
  if (cached) return cached;
  const crd = VENDORED_CRDS.find((c) => c.group === group && c.kind === kind);
  if (!crd) return undefined;
  const out: ForeignCrd = {
    group: crd.group,
    kind: crd.kind,
    source: crd.source,
    versions: crd.versions.map((version) => {
      const schema = fromOpenApi(version.schema);
      if (schema.type !== "object") {
        throw new Error(`${key} ${version.name}: the root schema is not an object`);
      }
      return {
        name: version.name,
        served: version.served,
        statusSubresource: version.statusSubresource,
        schema,
      };
    }),
  };
  converted.set(key, out);
  return out;
}
