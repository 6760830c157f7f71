/**
 * The AuthPolicy gate: the {@linkcode RequestPolicy} that picks, for each request, the AuthConfig
 * Kuadrant would have Authorino evaluate, and evaluates it.
 *
 * Where upstream evaluates: every HTTP request on the MCP listener goes through the broker's route
 * (`mcp-gateway-route`, rule `mcp`, `well-known` or `status`; `/tokens` through the tokens route),
 * so the effective policy of that path applies (the gateway's and the broker route's, merged). A
 * `tools/call` or `prompts/get` the router sends to a server goes through that server's HTTPRoute,
 * so the effective policy of that path applies instead (the gateway's and the server route's).
 *
 * Authorino sees the request as Envoy holds it after upstream's router (an ext_proc filter placed
 * first in the chain, before the auth filter): the client's headers without the internal
 * `x-mcp-authorized`, `x-mcp-virtualserver` and `x-mcp-verified-sub` (the router strips them and
 * puts them back only on requests to the broker), plus the `x-mcp-*` headers it sets: on a routed
 * call `x-mcp-method`, `x-mcp-toolname` or `x-mcp-promptname`, `x-mcp-servername` (the
 * registration's `ns/name`) and `x-mcp-annotation-hints`; on anything else sent to the broker
 * `x-mcp-method` and `x-mcp-servername: mcpBroker`.
 *
 * @module
 */
import type { Logger } from "../options.ts";
import {
  type HttpPolicyInput,
  type PolicyDecision,
  type PolicyInput,
  type RequestPolicy,
  requestSource,
} from "../policy.ts";
import type { RequestAttributes } from "../routing.ts";
import {
  type BrokerRule,
  type PolicyProblem,
  type PolicyRow,
  type PolicyTargets,
  resolveAuthPolicies,
  type RouteTarget,
} from "./auth_policy.ts";
import { compileAuthConfig, type CompiledAuthConfig, type EngineContext } from "./engine.ts";
import { type AuthTrace, traceAuthConfig } from "./trace.ts";
import { RecordHeaders } from "./headers.ts";
import type {
  AuthConfigSpec,
  AuthDecision,
  AuthEngine,
  AuthRequest,
  SecretObject,
  Unsupported,
} from "./types.ts";
import { headerSafe, redactValues, requestSecrets } from "../redact.ts";
import { base64 } from "../base64.ts";
import { REASON_HEADER } from "./response.ts";

/** The `x-mcp-servername` upstream's router sets on requests it sends to the broker. */
export const BROKER_SERVER_NAME = "mcpBroker";

/** Headers upstream's router strips in the header phase (`routing.InternalOnlyHeaders`). */
const INTERNAL_ONLY = ["x-mcp-authorized", "x-mcp-virtualserver", "x-mcp-verified-sub"] as const;

/** Router headers a client cannot set for a routed call: the router sets or removes them. */
const ROUTER_HEADERS = [
  "x-mcp-method",
  "x-mcp-toolname",
  "x-mcp-promptname",
  "x-mcp-servername",
  "x-mcp-annotation-hints",
] as const;

/** Authorino's reason header, lower case. */
const REASON = REASON_HEADER.toLowerCase();

/** Methods the router sends to a server's HTTPRoute; everything else goes to the broker. */
const ROUTED = new Set(["tools/call", "prompts/get"]);

/** An unsupported rule, with where it applies. */
export interface GateUnsupported extends Unsupported {
  /** `broker`, `well-known`, `status`, `tokens` or `server ns/name`. */
  where: string;
  /** The policies whose merged rules hold it. */
  sources: string[];
}

/** What the gate decides for one request, and why (see `trace.ts`). */
export interface GateTrace {
  /** Where the request is evaluated: `broker` (the broker route) or `server ns/name` (that server's route). */
  where: string;
  /** The decision, exactly as `evaluate` would give it. */
  decision: AuthDecision;
  /** How the AuthConfig there decided; absent when no AuthPolicy applies there (allowed). */
  trace?: AuthTrace;
}

/** What the gate resolved, for the start-up table and `/status`. */
export interface AuthPolicySummary {
  /** One row per AuthPolicy. */
  rows: PolicyRow[];
  /** Policies not applied, with why. */
  problems: PolicyProblem[];
  /** Rules the simulator cannot evaluate, per place they apply. */
  unsupported: GateUnsupported[];
}

/** What the gate is built from; `update` takes the same. */
export interface AuthPolicyGateInput {
  /** The objects (AuthPolicies among them; others are ignored). */
  policies: readonly unknown[];
  /**
   * The gateway's targets (see `policyTargetsFromObjects`); undefined when there is no
   * MCPGatewayExtension, so no policy has a target.
   */
  targets: PolicyTargets | undefined;
}

/** Options of {@linkcode AuthPolicyGate}. */
export interface AuthPolicyGateOptions extends AuthPolicyGateInput {
  /** What the engines need (Secrets, the API server, `unsupportedRules`). */
  context: EngineContext;
  /** Diagnostics: denials at debug, problems at warn. */
  log?: Logger;
}

/** The compiled engines of one resolution: swapped as a whole by `update`. */
interface Compiled {
  broker: Partial<Record<BrokerRule, AuthEngine>>;
  servers: Map<string, AuthEngine>;
  /** Each server route's first hostname: Envoy's `:authority` once the router re-routed the call. */
  hosts: Map<string, string>;
  summary: AuthPolicySummary;
  /** Whether any engine exists (a gate without policies allows without work). */
  any: boolean;
  /** Every distinct engine, to close once no request uses them. */
  engines: CompiledAuthConfig[];
  /** Requests evaluating on these engines now. */
  inFlight: number;
  /** Replaced by `update`: closed when the last request on it ends. */
  retired: boolean;
}

/** Evaluates AuthPolicies for each request; `update` swaps them for the requests that start after it. */
export class AuthPolicyGate implements RequestPolicy {
  #context: EngineContext;
  #log: Logger;
  #compiled: Compiled;
  #secretValuesOf = new WeakMap<readonly SecretObject[], string[]>();

  /** A gate over `opts.policies` attached to `opts.targets`. */
  constructor(opts: AuthPolicyGateOptions) {
    this.#context = opts.context;
    this.#log = opts.log ?? (() => {});
    this.#compiled = this.#compile(opts);
  }

  /** What the current policies resolved to. */
  get summary(): AuthPolicySummary {
    return this.#compiled.summary;
  }

  /**
   * Replaces the policies and targets (and the engine context, when given). Requests already
   * evaluating finish with the old engines; every request after this returns uses the new ones.
   */
  update(input: AuthPolicyGateInput & { context?: EngineContext }): AuthPolicySummary {
    if (input.context) this.#context = input.context;
    const compiled = this.#compile(input);
    const old = this.#compiled;
    this.#compiled = compiled;
    this.#retire(old);
    return compiled.summary;
  }

  /** Releases what the engines hold (OPA processes they started); later requests are allowed. */
  async close(): Promise<void> {
    const old = this.#compiled;
    this.#compiled = this.#compile({ policies: [], targets: undefined });
    this.#retire(old);
    await this.#closing;
  }

  #closing: Promise<void> = Promise.resolve();

  #retire(compiled: Compiled): void {
    compiled.retired = true;
    if (compiled.inFlight > 0) return;
    const done = Promise.all(compiled.engines.map((e) => e.close().catch(() => {}))).then(() => {});
    this.#closing = this.#closing.then(() => done);
  }

  #compile(input: AuthPolicyGateInput): Compiled {
    const cache = new Map<string, CompiledAuthConfig>();
    const unsupported: GateUnsupported[] = [];
    const engine = (spec: AuthConfigSpec, where: string): AuthEngine => {
      const key = JSON.stringify({ when: spec.when, patterns: spec.patterns, rules: spec.rules });
      let compiled = cache.get(key);
      if (!compiled) {
        compiled = compileAuthConfig(spec, this.#context);
        cache.set(key, compiled);
      }
      for (const u of compiled.unsupported) unsupported.push({ ...u, where, sources: spec.sources });
      return compiled;
    };
    if (!input.targets) {
      const problems = noTargetProblems(input.policies);
      for (const p of problems) this.#log("warn", p.message, { policy: p.policy });
      return {
        broker: {},
        servers: new Map(),
        hosts: new Map(),
        summary: {
          rows: problems.map((p) => ({
            policy: p.policy,
            target: "",
            phase: "rules" as const,
            strategy: "atomic" as const,
            rules: {},
            appliesTo: [],
            reason: p.message,
          })),
          problems,
          unsupported,
        },
        any: false,
        engines: [],
        inFlight: 0,
        retired: false,
      };
    }
    const resolved = resolveAuthPolicies(input.policies, input.targets);
    const broker: Compiled["broker"] = {};
    for (const [rule, spec] of Object.entries(resolved.broker) as [BrokerRule, AuthConfigSpec][]) {
      broker[rule] = engine(spec, rule === "mcp" ? "broker" : rule);
    }
    const servers = new Map<string, AuthEngine>();
    for (const [server, spec] of resolved.servers) servers.set(server, engine(spec, `server ${server}`));
    const hosts = new Map<string, string>();
    for (const [server, route] of input.targets.servers) {
      const host = firstHost(route);
      if (host) hosts.set(server, host);
    }
    for (const p of resolved.problems) this.#log("warn", p.message, { policy: p.policy });
    return {
      broker,
      servers,
      hosts,
      summary: { rows: resolved.rows, problems: resolved.problems, unsupported },
      any: servers.size > 0 || Object.keys(broker).length > 0,
      engines: [...cache.values()],
      inFlight: 0,
      retired: false,
    };
  }

  /** A JSON-RPC message posted to `/mcp`: the server route's policy for a routed call, else the broker's. */
  evaluate(input: PolicyInput): Promise<PolicyDecision> | PolicyDecision {
    const compiled = this.#compiled;
    const route = compiled.any ? routeOf(compiled, input) : undefined;
    if (!route?.engine) return { allow: true };
    return this.#run(compiled, () => this.#decide(route.engine!, authRequest(input.request, route.headers)));
  }

  /** A request without a JSON-RPC message: the broker route rule's policy, no `x-mcp-*` header. */
  evaluateRequest(input: HttpPolicyInput): Promise<PolicyDecision> | PolicyDecision {
    const compiled = this.#compiled;
    const engine = compiled.any ? compiled.broker[input.rule] : undefined;
    if (!engine) return { allow: true };
    const headers = authHeaders(input.request.headers, undefined, false);
    return this.#run(compiled, () => this.#decide(engine, authRequest(input.request, headers)));
  }

  /**
   * Like `evaluate`, with the record of which policy, rule and predicate decided (`kubectl mcp auth
   * can-i`): the same engine, the same headers. Not on the request path.
   */
  async explain(input: PolicyInput): Promise<GateTrace> {
    const compiled = this.#compiled;
    const route = routeOf(compiled, input);
    if (!compiled.any || !route.engine) {
      return { where: route.where, decision: { allow: true, requestHeaders: {} } };
    }
    const trace = await this.#run(
      compiled,
      () => traceAuthConfig(route.engine!, authRequest(input.request, route.headers)),
    );
    // As for the answers: what a reason quotes is never a credential of the request or a Secret's value.
    const redact = this.#redactor(input.request);
    trace.reason = redact(trace.reason);
    if (!trace.decision.allow) trace.decision.reason = redact(trace.decision.reason);
    for (const rule of trace.authorization) if (rule.reason) rule.reason = redact(rule.reason);
    if (trace.identity) {
      for (const [name, error] of Object.entries(trace.identity.errors)) {
        trace.identity.errors[name] = redact(error);
      }
    }
    return { where: route.where, decision: trace.decision, trace };
  }

  /** Runs `work` with `compiled` counted in flight, so `update` closes it only once its last request ended. */
  async #run<T>(compiled: Compiled, work: () => Promise<T>): Promise<T> {
    compiled.inFlight++;
    try {
      return await work();
    } finally {
      if (--compiled.inFlight === 0 && compiled.retired) this.#retire(compiled);
    }
  }

  async #decide(engine: AuthEngine, req: AuthRequest): Promise<PolicyDecision> {
    let decision: AuthDecision;
    try {
      decision = await engine.evaluate(req);
    } catch (err) {
      // The engine never throws by contract; should it, the request is refused, never let through.
      this.#log("error", `AuthPolicy evaluation failed: ${err instanceof Error ? err.name : "error"}.`);
      return { allow: false, status: 500, message: "Internal error.", body: "" };
    }
    if (decision.allow) {
      return {
        allow: true,
        ...(Object.keys(decision.requestHeaders).length ? { requestHeaders: decision.requestHeaders } : {}),
        ...(decision.identity !== undefined ? { identity: decision.identity } : {}),
      };
    }
    // Authorino's reason may quote what it evaluated (a CEL conversion error, OPA's conflicting
    // values): never a credential of the request or a Secret's value in the log or the answer.
    const redact = this.#redactor(req.request);
    const reason = redact(decision.reason);
    const answerHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(decision.headers)) {
      answerHeaders[name] = headerSafe(name.toLowerCase() === REASON ? redact(value) : value);
    }
    this.#log("debug", `AuthPolicy denied the request with ${decision.status}: ${reason}`, {
      path: new URL(req.request.url).pathname,
      method: req.headers.get("x-mcp-method") ?? req.request.method,
    });
    return {
      allow: false,
      status: decision.status,
      message: reason,
      headers: answerHeaders,
      body: decision.body,
    };
  }

  /** Cuts the request's credentials and every Secret value the policies read out of a text. */
  #redactor(request: Request): (text: string) => string {
    const secrets = [...requestSecrets(request.headers, request.url), ...this.#secretValues()];
    return (text) => redactValues(text, secrets);
  }

  /** Every value of the Secrets the policies read, as written and base64 (as `auth.identity` holds an API key's). */
  #secretValues(): string[] {
    // Kept per list: the source hands out the same array until its Secrets change, and a flood of
    // denied requests must not re-encode every Secret each time.
    const secrets = this.#context.secrets.list();
    let out = this.#secretValuesOf.get(secrets);
    if (!out) {
      out = [];
      for (const secret of secrets) {
        for (const value of Object.values(secret.data)) out.push(value, base64(value));
      }
      this.#secretValuesOf.set(secrets, out);
    }
    return out;
  }
}

/** Where a JSON-RPC message is evaluated: the engine of its route, the headers Authorino sees there. */
function routeOf(
  compiled: Compiled,
  input: PolicyInput,
): { where: string; engine?: AuthEngine; headers: Headers } {
  const server = routedServer(input.attributes);
  const routed = server !== undefined;
  const headers = authHeaders(input.request.headers, input.attributes, routed);
  // Envoy's `:authority` once the router re-routed the call to the server's HTTPRoute.
  const host = routed ? compiled.hosts.get(server) : undefined;
  if (host) headers.set("host", host);
  return {
    where: routed ? `server ${server}` : "broker",
    engine: routed ? compiled.servers.get(server) : compiled.broker.mcp,
    headers,
  };
}

/** One request as the engine sees it: its headers after the router, its client and listener addresses. */
function authRequest(request: Request, headers: Headers): AuthRequest {
  const url = new URL(request.url);
  return {
    request,
    headers,
    source: requestSource(request) ?? { address: "127.0.0.1", port: 0 },
    destination: { address: url.hostname, port: Number(url.port) || (url.protocol === "https:" ? 443 : 80) },
  };
}

/** The registration a call goes to through its own HTTPRoute; undefined when it goes to the broker. */
export function routedServer(attrs: RequestAttributes): string | undefined {
  if (!ROUTED.has(attrs.method) || !attrs.serverName) return undefined;
  if (attrs.method === "tools/call" && !attrs.toolName) return undefined;
  if (attrs.method === "prompts/get" && !attrs.promptName) return undefined;
  return attrs.serverName;
}

/** The headers Authorino sees, as upstream's router leaves them (see the module doc). */
export function authHeaders(client: Headers, attrs: RequestAttributes | undefined, routed: boolean): Headers {
  return RecordHeaders.fromRecord(authHeaderRecord(client, attrs, routed));
}

/**
 * {@linkcode authHeaders} as a record of lower-case names, which the rate limit's attributes are built
 * from without a `Headers` object (a copy of one cost more than the rest of the evaluation). A repeated
 * `set-cookie` keeps its last value, as the authorization JSON's header map does.
 */
export function authHeaderRecord(
  client: Headers,
  attrs: RequestAttributes | undefined,
  routed: boolean,
): Record<string, string> {
  const headers: Record<string, string> = {};
  client.forEach((value, name) => {
    headers[name] = value;
  });
  for (const name of INTERNAL_ONLY) delete headers[name];
  if (!attrs) return headers;
  if (routed) {
    for (const name of ROUTER_HEADERS) delete headers[name];
    headers["x-mcp-method"] = attrs.method;
    if (attrs.toolName) headers["x-mcp-toolname"] = attrs.toolName;
    if (attrs.promptName && attrs.method === "prompts/get") headers["x-mcp-promptname"] = attrs.promptName;
    if (attrs.serverName) headers["x-mcp-servername"] = attrs.serverName;
    if (attrs.annotationHints) headers["x-mcp-annotation-hints"] = attrs.annotationHints;
    return headers;
  }
  if (attrs.method) headers["x-mcp-method"] = attrs.method;
  headers["x-mcp-servername"] = BROKER_SERVER_NAME;
  for (const name of INTERNAL_ONLY) {
    const value = client.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

/** A route's first concrete hostname (a wildcard names no one host). */
function firstHost(route: RouteTarget): string | undefined {
  return route.hostnames.find((h) => !h.startsWith("*"));
}

/** Every AuthPolicy among `objects`, reported: without an MCPGatewayExtension nothing can be a target. */
function noTargetProblems(objects: readonly unknown[]): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  for (const o of objects) {
    if (typeof o !== "object" || o === null) continue;
    const obj = o as {
      kind?: unknown;
      apiVersion?: unknown;
      metadata?: { namespace?: string; name?: string };
    };
    if (
      obj.kind !== "AuthPolicy" || typeof obj.apiVersion !== "string" ||
      !obj.apiVersion.startsWith("kuadrant.io/")
    ) {
      continue;
    }
    const key = `${obj.metadata?.namespace ?? "default"}/${obj.metadata?.name ?? ""}`;
    out.push({
      policy: key,
      code: "target-not-found",
      message:
        `AuthPolicy ${key} has no target here: there is no MCPGatewayExtension, so no Gateway or HTTPRoute is known; not applied.`,
    });
  }
  return out;
}
