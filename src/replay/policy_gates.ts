/**
 * What a replay needs to evaluate the cluster's policies, in one module so that a replay without
 * them (`kubectl mcp tools -A`, `simulate` without `--auth`) does not load it: CEL, RE2 and the
 * policy engines cost about 0.1 s of every such command's start-up (`deno task bench startup`).
 *
 * @module
 */

export { AuthPolicyGate } from "../../sim/auth/gate.ts";
export { RateLimitGate } from "../../sim/ratelimit/gate.ts";
export { MemoryCounters, RedisCounters } from "../../sim/ratelimit/counters.ts";
export { JwksCache } from "../../sim/auth/jwks.ts";
export { WhatIfJwks } from "../../sim/auth/what_if.ts";
export { OpaPool } from "../../sim/auth/opa.ts";
