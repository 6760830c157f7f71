/**
 * The API server's review APIs over {@linkcode KubeClient}: TokenReview for AuthPolicy's
 * `kubernetesTokenReview` authentication and SubjectAccessReview for `kubernetesSubjectAccessReview`
 * authorization, as Authorino creates them (a POST per request; the answer's `status`).
 *
 * Each review is bounded by its own timeout (Authorino's default for both methods is 5 s), on top of
 * the client's signal. The reviewed token goes only into the request body: it is never part of an
 * error message.
 *
 * @module
 */

import type { KubeClient } from "./client.ts";
import type { KubeReviewClient } from "../../sim/auth/types.ts";

/** Authorino's default timeout of a TokenReview or SubjectAccessReview, in milliseconds. */
export const DEFAULT_REVIEW_TIMEOUT_MS = 5_000;

/** Options of {@linkcode KubeReviews}. */
export interface KubeReviewsOptions {
  /** Timeout of one review, in milliseconds (default 5000). */
  timeoutMs?: number;
}

/** {@linkcode KubeReviewClient} on a {@linkcode KubeClient} (its kubeconfig, TLS and credentials). */
export class KubeReviews implements KubeReviewClient {
  #client: KubeClient;
  #timeoutMs: number;

  /** Reviews sent by `client`. */
  constructor(client: KubeClient, options: KubeReviewsOptions = {}) {
    this.#client = client;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
  }

  /**
   * POSTs an `authentication.k8s.io/v1` TokenReview of `token` for `audiences` and returns its
   * `status` (`authenticated`, `user`, `audiences`, `error`) as the API server wrote it. Throws
   * `KubeApiError` when the API server cannot be reached or refuses the review (e.g. RBAC).
   */
  async tokenReview(
    token: string,
    audiences?: string[],
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const spec: Record<string, unknown> = { token };
    if (audiences?.length) spec.audiences = audiences;
    return await this.#create("authentication.k8s.io", "tokenreviews", "TokenReview", spec, signal);
  }

  /**
   * POSTs an `authorization.k8s.io/v1` SubjectAccessReview with `spec` (`user`, `groups`,
   * `resourceAttributes` or `nonResourceAttributes`, ...) and returns its `status` (`allowed`,
   * `denied`, `reason`, `evaluationError`).
   */
  async subjectAccessReview(
    spec: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    return await this.#create(
      "authorization.k8s.io",
      "subjectaccessreviews",
      "SubjectAccessReview",
      spec,
      signal,
    );
  }

  async #create(
    group: string,
    plural: string,
    kind: string,
    spec: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const answer = await this.#client.json<{ status?: Record<string, unknown> }>(
      "POST",
      `/apis/${group}/v1/${plural}`,
      {
        body: { apiVersion: `${group}/v1`, kind, spec },
        signal,
        timeoutMs: this.#timeoutMs,
        context: { verb: "create", resource: { group, plural } },
      },
    );
    return answer.status ?? {};
  }
}
