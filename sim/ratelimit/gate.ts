/**
 * The RateLimitPolicy gate: the {@linkcode RequestPolicy} that picks, for each request, the limits
 * Kuadrant would have the wasm-shim ask Limitador about, exactly where `sim/auth/gate.ts` picks the
 * AuthConfig: the broker route's limits for requests to the gateway (rules `mcp`, `well-known`,
 * `status`, `tokens`), the server's HTTPRoute's limits for a routed `tools/call` / `prompts/get`, with
 * the headers upstream's router leaves (`x-mcp-method`, `x-mcp-toolname`, `x-mcp-servername`, ...).
 *
 * CEL in `when` and `counters` reads `request.*`, `source.*`, `destination.*` as Authorino's
 * authorization JSON does, and `auth.identity` as the identity the AuthPolicy resolved (the
 * `granted` of {@linkcode chainPolicies}: the wasm-shim runs auth before rate limiting).
 *
 * A limited request gets what the wasm-shim sends on Limitador's `OVER_LIMIT`: HTTP 429 with the body
 * `Too Many Requests\n`; the client's session is untouched. A counter storage that cannot answer
 * throws `SessionStoreError` (the gateway's 503), never a pass.
 *
 * @module
 */
import type { Logger } from "../options.ts";
import type { HttpPolicyInput, PolicyAllow, PolicyDecision, PolicyInput, RequestPolicy } from "../policy.ts";
import { requestSource } from "../policy.ts";
import type { RequestAttributes } from "../routing.ts";
import { authorizationJsonFromRecord } from "../auth/authorization_json.ts";
import type { BrokerRule, PolicyTargets } from "../auth/auth_policy.ts";
import { authHeaderRecord, routedServer } from "../auth/gate.ts";
import { CelCompileError } from "../auth/types.ts";
import { type CounterState, type CounterStorage, MemoryCounters } from "./counters.ts";
import type { LimitsByPlace, RateLimiter, RateLimitStatus } from "./types.ts";

export type { RateLimitStatus } from "./types.ts";
import {
  checkLimits,
  type CompiledLimit,
  compileLimits,
  type LimitedBy,
  type LimitOutcome,
} from "./limiter.ts";
import {
  isRateLimitPolicy,
  type LimitSpec,
  type RateLimitProblem,
  type RateLimitRow,
  resolveRateLimitPolicies,
} from "./rate_limit_policy.ts";

/** The body the wasm-shim sends with a 429. */
export const TOO_MANY_REQUESTS_BODY = "Too Many Requests\n";

/** What the gate resolved, for the start-up table and `/status`. */
export interface RateLimitSummary {
  /** One row per RateLimitPolicy. */
  rows: RateLimitRow[];
  /** Policies (or limits) not applied, with why. */
  problems: RateLimitProblem[];
  /** The limits applying at each place: `broker`, `well-known`, `status`, `tokens`, `server ns/name`. */
  where: LimitsByPlace;
}

/** What the gate is built from; `update` takes the same. */
export interface RateLimitGateInput {
  /** The objects (RateLimitPolicies among them; others are ignored). */
  policies: readonly unknown[];
  /** The gateway's targets (`policyTargetsFromObjects`); undefined when there is no MCPGatewayExtension. */
  targets: PolicyTargets | undefined;
}

/** Options of {@linkcode RateLimitGate}. */
export interface RateLimitGateOptions extends RateLimitGateInput {
  /** Where counters live: memory (default) or `RedisCounters` over the session store's Redis. */
  storage?: CounterStorage;
  /** Diagnostics: limited requests at debug, problems at warn. */
  log?: Logger;
  /** Told of each limited request (the gateway's `/metrics`). */
  onLimited?: (by: LimitedBy) => void;
}

interface Compiled {
  broker: Partial<Record<BrokerRule, CompiledLimit[]>>;
  servers: Map<string, CompiledLimit[]>;
  summary: RateLimitSummary;
  any: boolean;
}

/** Evaluates RateLimitPolicies for each request; `update` swaps them for the requests that start after it. */
export class RateLimitGate implements RequestPolicy, RateLimiter {
  #storage: CounterStorage;
  #log: Logger;
  /** Told of each limited request; the gateway sets it to count in `/metrics`. */
  onLimited?: (by: LimitedBy) => void;
  #compiled: Compiled;
  #limited = new Map<string, number>();

  /** A gate over `opts.policies` attached to `opts.targets`. */
  constructor(opts: RateLimitGateOptions) {
    this.#storage = opts.storage ?? new MemoryCounters();
    this.#log = opts.log ?? (() => {});
    this.onLimited = opts.onLimited;
    this.#compiled = this.#compile(opts);
  }

  /** What the current policies resolved to. */
  get summary(): RateLimitSummary {
    return this.#compiled.summary;
  }

  /** Where counters live. */
  get storage(): CounterStorage {
    return this.#storage;
  }

  /** Limited requests so far by `policy#limit`. */
  get limitedCounts(): ReadonlyMap<string, number> {
    return this.#limited;
  }

  /** The live counters (`/status`). */
  counters(max?: number): Promise<CounterState[]> {
    return Promise.resolve(this.#storage.list(max));
  }

  /** The `/status` section: where counters live, the limits at each place, live counters, limited requests. */
  async status(): Promise<RateLimitStatus> {
    return {
      storage: this.#storage.description,
      limits: this.summary.where,
      problems: this.summary.problems.map((p) => p.message),
      counters: await this.counters(),
      limited: [...this.#limited].map(([id, count]) => {
        const at = id.lastIndexOf("#");
        return { policy: id.slice(0, at), limit: id.slice(at + 1), count };
      }),
    };
  }

  /** Replaces the policies and targets; counters are kept (a limit keeps its count across a reload). */
  update(input: RateLimitGateInput): RateLimitSummary {
    this.#compiled = this.#compile(input);
    return this.#compiled.summary;
  }

  #compile(input: RateLimitGateInput): Compiled {
    const empty: Compiled = {
      broker: {},
      servers: new Map(),
      summary: { rows: [], problems: [], where: {} },
      any: false,
    };
    if (!input.targets) {
      for (const o of input.policies) {
        if (!isRateLimitPolicy(o)) continue;
        const m = (o as { metadata?: { namespace?: string; name?: string } }).metadata;
        const key = `${m?.namespace ?? "default"}/${m?.name ?? ""}`;
        const message =
          `RateLimitPolicy ${key} has no target here: there is no MCPGatewayExtension, so no Gateway or HTTPRoute is known; not applied.`;
        empty.summary.problems.push({ policy: key, code: "target-not-found", message });
        this.#log("warn", message, { policy: key });
      }
      return empty;
    }
    const resolved = resolveRateLimitPolicies(input.policies, input.targets);
    const problems = [...resolved.problems];
    const where: RateLimitSummary["where"] = {};
    const compile = (limits: readonly LimitSpec[], at: string): CompiledLimit[] => {
      const out: CompiledLimit[] = [];
      for (const spec of limits) {
        try {
          out.push(...compileLimits([spec]));
          (where[at] ??= []).push({
            policy: spec.policy,
            limit: spec.name,
            rates: spec.rates.map((r) => `${r.limit}/${r.window}`),
          });
        } catch (err) {
          if (!(err instanceof CelCompileError)) throw err;
          const message = `RateLimitPolicy ${spec.policy} limit ${spec.name}: ${err.message}; not applied.`;
          if (!problems.some((p) => p.message === message)) {
            problems.push({ policy: spec.policy, code: "invalid-policy", message });
          }
        }
      }
      return out;
    };
    const broker: Compiled["broker"] = {};
    for (const [rule, limits] of Object.entries(resolved.broker) as [BrokerRule, LimitSpec[]][]) {
      const c = compile(limits, rule === "mcp" ? "broker" : rule);
      if (c.length) broker[rule] = c;
    }
    const servers = new Map<string, CompiledLimit[]>();
    for (const [server, limits] of resolved.servers) {
      const c = compile(limits, `server ${server}`);
      if (c.length) servers.set(server, c);
    }
    for (const p of problems) this.#log("warn", p.message, { policy: p.policy });
    return {
      broker,
      servers,
      summary: { rows: resolved.rows, problems, where },
      any: servers.size > 0 || Object.keys(broker).length > 0,
    };
  }

  /** A JSON-RPC message posted to `/mcp`: the server route's limits for a routed call, else the broker's. */
  evaluate(input: PolicyInput): PolicyDecision | Promise<PolicyDecision> {
    const compiled = this.#compiled;
    if (!compiled.any) return { allow: true };
    const attrs = input.attributes;
    const server = routedServer(attrs);
    const limits = server !== undefined ? compiled.servers.get(server) : compiled.broker.mcp;
    if (!limits) return { allow: true };
    return this.#check(limits, input.request, attrs, server !== undefined, input.granted);
  }

  /** A request without a JSON-RPC message: the broker route rule's limits. */
  evaluateRequest(input: HttpPolicyInput): PolicyDecision | Promise<PolicyDecision> {
    const limits = this.#compiled.any ? this.#compiled.broker[input.rule] : undefined;
    if (!limits) return { allow: true };
    return this.#check(limits, input.request, undefined, false, input.granted);
  }

  #check(
    limits: CompiledLimit[],
    request: Request,
    attrs: RequestAttributes | undefined,
    routed: boolean,
    granted: PolicyAllow | undefined,
  ): PolicyDecision | Promise<PolicyDecision> {
    const url = new URL(request.url);
    // The wasm-shim's attributes: no Authorino `context` tree, headers as a record (no Headers copy).
    const json = authorizationJsonFromRecord(
      {
        request,
        source: requestSource(request) ?? { address: "127.0.0.1", port: 0 },
        destination: {
          address: url.hostname,
          port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
        },
      },
      authHeaderRecord(request.headers, attrs, routed),
      { context: false, url },
    );
    if (granted?.identity !== undefined) json.auth.identity = granted.identity;
    const decide = (outcome: LimitOutcome): PolicyDecision => {
      if (!outcome.limited) return { allow: true };
      const by = outcome.limited;
      const id = `${by.policy}#${by.limit}`;
      this.#limited.set(id, (this.#limited.get(id) ?? 0) + 1);
      this.onLimited?.(by);
      this.#log(
        "debug",
        `RateLimitPolicy ${by.policy} limit ${by.limit} (${by.rate.limit}/${by.rate.window}) limited the request.`,
        { path: url.pathname, method: attrs?.method ?? request.method },
      );
      return { allow: false, status: 429, message: "Too Many Requests", body: TOO_MANY_REQUESTS_BODY };
    };
    // Memory counters answer at once: no promise, no extra turn of the event loop per request.
    const outcome = checkLimits(limits, json, this.#storage);
    return outcome instanceof Promise ? outcome.then(decide) : decide(outcome);
  }
}
