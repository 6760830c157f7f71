/**
 * What-if identities (`kubectl mcp auth can-i --claims FILE`, `tools --claims FILE`): claims without
 * a signature, taken by every `jwt` method as if a token carrying them had been verified. The rest of
 * the policy (its `when`, authorization, response and the wristband the broker filters lists by) is
 * evaluated for real on them.
 *
 * @module
 */
import { JwksCache, type JwtVerifyOptions } from "./jwks.ts";

/**
 * The credential a what-if client presents (`Authorization: Bearer what-if`): a `jwt` method must
 * find a credential where it reads one before it asks the key cache to verify it.
 */
export const WHAT_IF_TOKEN = "what-if";

/** A key cache whose every verification succeeds with the given claims, whatever the token. */
export class WhatIfJwks extends JwksCache {
  #claims: Record<string, unknown>;

  /** A cache answering every `verify` with a copy of `claims`. */
  constructor(claims: Record<string, unknown>) {
    super();
    this.#claims = structuredClone(claims);
  }

  /** The claims, as if `token` carried them and verified (no key, issuer, audience or time is checked). */
  override verify(_token: string, _options: JwtVerifyOptions): Promise<Record<string, unknown>> {
    return Promise.resolve(structuredClone(this.#claims));
  }
}
