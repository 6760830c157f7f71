/**
 * The API server's review APIs as the AuthPolicy stages use them: `kubernetesTokenReview`
 * identities (TokenReview) and `kubernetesSubjectAccessReview` authorization (SubjectAccessReview),
 * both asked of the cluster the replay reads, as Authorino asks its own cluster.
 *
 * @module
 */

import type { KubeClient } from "./client.ts";
import type { KubeReviewClient } from "../../sim/auth/types.ts";

interface Review {
  status?: Record<string, unknown>;
}

/** A review client over `client`'s credentials (which need `create` on tokenreviews and subjectaccessreviews). */
export function kubeReviewClient(client: KubeClient): KubeReviewClient {
  const create = async (
    group: string,
    plural: string,
    kind: string,
    spec: Record<string, unknown>,
    signal?: AbortSignal,
  ) => {
    const review = await client.json<Review>("POST", `/apis/${group}/v1/${plural}`, {
      body: { apiVersion: `${group}/v1`, kind, spec },
      signal,
      context: { verb: "create", resource: { group, plural } },
    });
    return review.status ?? {};
  };
  return {
    tokenReview: (token, audiences, signal) =>
      create(
        "authentication.k8s.io",
        "tokenreviews",
        "TokenReview",
        { token, ...(audiences?.length ? { audiences } : {}) },
        signal,
      ),
    subjectAccessReview: (spec, signal) =>
      create("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", spec, signal),
  };
}
