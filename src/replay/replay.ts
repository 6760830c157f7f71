/**
 * The replay: a local simulator gateway fed from files or a cluster, kept in step with them. It
 * resolves every registration to a reachable URL, starts the gateway with what resolved, reports
 * what did not and why, and reloads the gateway when the objects change without dropping clients.
 *
 * @module
 */

import {
  configFromObjects,
  type GatewayConfig,
  type GatewayStatus,
  type Logger,
  MemorySessionStore,
  normalizeConfig,
  type RunningGateway,
  type ServerConfig,
  type SessionStore,
  startGateway,
} from "../../sim/mod.ts";
import { isClusterInternalHost, maskRedisUrl, RedisSessionStore } from "../../sim/store_redis.ts";
import type { AuthPolicyGate, AuthPolicySummary } from "../../sim/auth/gate.ts";
import type { RateLimitGate, RateLimitGateInput, RateLimitSummary } from "../../sim/ratelimit/gate.ts";
import type { EngineContext } from "../../sim/auth/engine.ts";
import type { JwksCache } from "../../sim/auth/jwks.ts";
import { type PolicyTargets, policyTargetsFromObjects } from "../../sim/auth/auth_policy.ts";
import type { KubeReviewClient, SecretObject } from "../../sim/auth/types.ts";
import { type AuthPlan, type AuthReplayOptions, planAuth, policiesForGateway } from "./auth_replay.ts";
import { redactedMessage, redactHeaderValues } from "../../sim/redact.ts";
import { type BrokerFlags, brokerFlags, type ReplayGatewaySettings } from "./broker_flags.ts";
import type { Resolution, UpstreamResolver } from "./resolve.ts";
import {
  isKind,
  keyOf,
  objectsForGateway,
  registrationsOf,
  registrationSpec,
  type ReplayObject,
  selectExtension,
  withModelDefaults,
} from "./state.ts";
import type { MCPServerRegistrationSpec } from "../model/mod.ts";
import { brokerDefectWarnings } from "../validate/broker_defects.ts";

/** Where the replay reads objects from. */
export interface ReplaySource {
  /** Reads the current objects. */
  load(): Promise<ReplayObject[]>;
  /** Calls `onChange` when objects may have changed; returns a function that stops watching. */
  watch?(onChange: () => void): () => void;
  /** What the last `load` could not read (e.g. AuthPolicies RBAC hides), one sentence each. */
  problems?(): readonly string[];
}

/** One registration as the summary table shows it. */
export interface ServerRow {
  /** `namespace/name` of the registration. */
  name: string;
  /** Its prefix. */
  prefix: string;
  /** What it points at. */
  target: string;
  /** The Pod traffic goes to, when port-forwarded. */
  pod?: string;
  /** The URL the gateway reaches it at (not shown; a new one means it was re-resolved). */
  url?: string;
  /** Federated tools it contributes now. */
  tools: number;
  /** Enabled registrations: the gateway's state (ready, connecting, unhealthy, rejected); else
   * `Disabled` or `Unresolved`. */
  state: string;
  /** Why it is not serving tools, when it is not. */
  reason?: string;
}

/** A defect of the cluster's broker these objects trigger; the simulator serves them anyway. */
export interface ReplayWarning {
  /** Stable code, as `validate` reports it (e.g. `broker.tags-hang`). */
  code: string;
  /** What the cluster's gateway will do, naming the object. */
  message: string;
  /** How to avoid it. */
  hint: string;
}

/** Options of {@link startReplay}. */
export interface ReplayOptions {
  /** Where objects come from. */
  source: ReplaySource;
  /** How registrations are reached. */
  resolver: UpstreamResolver;
  /** `namespace/name` of the MCPGatewayExtension to follow, when there are several. */
  gatewayExtension?: string;
  /** Port to listen on (0 for any). */
  port?: number;
  /** Address to bind. */
  hostname?: string;
  /** Settings laid over the extension's. */
  settings?: ReplayGatewaySettings;
  /** Receives the gateway's diagnostics. */
  logger?: Logger;
  /** Receives one line per change after start (server added, removed, changed, unresolved). */
  onChange?: (line: string) => void;
  /** Receives each warning that appears after start (the ones at start are in `Replay.warnings`). */
  onWarning?: (warning: ReplayWarning) => void;
  /** Wait this long after a change notification before reloading, to batch bursts (ms, default 200). */
  debounceMs?: number;
  /** Watch the source and reload on changes (default true); a one-shot `tools` or `call` need not. */
  follow?: boolean;
  /** Keep sessions in the Redis at this URL (`redis://` or `rediss://`); fails when it is unreachable. */
  sessionStore?: string;
  /**
   * Without `sessionStore`, use the Redis the MCPGatewayExtension's `spec.sessionStore` Secret names
   * (key `CACHE_CONNECTION_STRING`) when the Secret can be read and the host reached; else memory.
   */
  sessionStoreFromExtension?: boolean;
  /** Session signing key the replicas share; with a Redis store and none given, the one kept in Redis. */
  signingKey?: string;
  /** Serve what the cluster's broker does not (`GatewayOptions.federateAll`); default false. */
  federateAll?: boolean;
  /** List only the backends' tools (`GatewayOptions.toolsOnly`): for a one-shot `tools` or `call`. */
  toolsOnly?: boolean;
  /** Sessions the gateway holds at most (see `GatewayOptions.maxSessions`). */
  maxSessions?: number;
  /** Host names clients may use besides loopback ones (see `GatewayOptions.publicHosts`). */
  publicHosts?: string[];
  /**
   * Apply the AuthPolicies (`simulate`), evaluated this way; without it they are not applied (a
   * one-shot `tools` or `call` has no client identity to present).
   */
  auth?: AuthReplayOptions;
  /** The cluster's TokenReview and SubjectAccessReview, for the AuthPolicies' kubernetes rules. */
  kubeReviews?: KubeReviewClient;
}

/** The AuthPolicies a replay applies, as of the last reload. */
export interface ReplayAuth {
  /** One row per policy, the policies not applied and the rules not evaluated here. */
  summary: AuthPolicySummary;
  /** How issuers are reached, and what could not be read. */
  notes: readonly string[];
  /** What a rule the simulator cannot evaluate decides. */
  unsupportedRules: "allow" | "deny";
}

/** The session store a replay runs on, as the start-up output shows it. */
export interface SessionStoreChoice {
  /** `memory`, or the Redis URL with the password masked. */
  description: string;
  /** Why a store the extension names is not used, when it is not. */
  note?: string;
}

/** A running replay. */
export interface Replay {
  /** The gateway's MCP endpoint. */
  readonly url: string;
  /** The running gateway. */
  readonly gateway: RunningGateway;
  /** The session store it runs on. */
  readonly sessionStore: SessionStoreChoice;
  /** The broker flags read from the cluster gateway's Deployment, as of the last reload. */
  readonly brokerFlags: BrokerFlags | undefined;
  /** Where the simulator knowingly differs from the cluster's gateway, as of the last reload. */
  readonly notes: readonly string[];
  /** Defects of the cluster's broker the objects trigger, as of the last reload. */
  readonly warnings: readonly ReplayWarning[];
  /** The AuthPolicies applied, as of the last reload; undefined when the replay applies none. */
  readonly auth: ReplayAuth | undefined;
  /** The gate evaluating them (`auth can-i` asks it why); undefined when the replay applies none. */
  readonly gate: AuthPolicyGate | undefined;
  /**
   * The RateLimitPolicies applied, as of the last reload (applied with the AuthPolicies, after them);
   * undefined when the replay applies no policies.
   */
  readonly rateLimits: RateLimitSummary | undefined;
  /** The gate evaluating them; undefined when the replay applies no policies. */
  readonly rateLimitGate: RateLimitGate | undefined;
  /**
   * The RateLimitPolicies concerning the gateway and its targets, as of the last reload, whether or
   * not the replay applies them (`tools -o wide` shows the limits of each tool).
   */
  readonly rateLimitInput: RateLimitGateInput;
  /** The registrations and their state now. */
  rows(): Promise<ServerRow[]>;
  /** Re-reads the objects and reloads the gateway now. */
  refresh(): Promise<void>;
  /** The gateway's `/status` document. */
  status(): Promise<GatewayStatus>;
  /** Stops watching, the gateway and every port-forward. */
  close(): Promise<void>;
  /** Closes with `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface Plan {
  config: GatewayConfig;
  resolutions: Map<string, Resolution & { prefix: string; disabled: boolean; error?: string }>;
  /** The cluster gateway's broker flags the config follows, when its Deployment was read. */
  broker?: BrokerFlags;
  /** Where the simulator knowingly differs from the cluster's gateway for these objects. */
  notes: string[];
  /** Defects of the cluster's broker these objects trigger. */
  warnings: ReplayWarning[];
  /** The AuthPolicies' inputs and the gateway's targets, when the replay applies them. */
  auth?: AuthPlan & { targets: PolicyTargets | undefined };
  /** The RateLimitPolicies concerning the gateway and its targets (applied only with `auth`). */
  rateLimit: RateLimitGateInput & { policies: ReplayObject[] };
}

/** Builds the gateway config from objects, resolving each registration. */
export async function planReplay(
  objects: readonly ReplayObject[],
  resolver: UpstreamResolver,
  options: Pick<ReplayOptions, "gatewayExtension" | "settings" | "auth"> = {},
): Promise<Plan> {
  const defaulted = withModelDefaults(objects);
  const extension = selectExtension(defaulted, options.gatewayExtension);
  const scoped = objectsForGateway(defaulted, extension);
  const secrets = scoped.filter((object) => isKind(object, "", "Secret"));
  const registrations = registrationsOf(scoped);
  const rest = scoped.filter((object) => !registrations.includes(object));
  const base = configFromObjects(rest, {});
  const servers: ServerConfig[] = [];
  const resolutions: Plan["resolutions"] = new Map();
  await Promise.all(registrations.map(async (registration) => {
    const key = keyOf(registration);
    let spec: MCPServerRegistrationSpec;
    try {
      spec = registrationSpec(registration);
    } catch (error) {
      resolutions.set(key, { target: "", reason: (error as Error).message, prefix: "", disabled: false });
      return;
    }
    const prefix = spec.prefix ?? "";
    const disabled = spec.state === "Disabled";
    if (disabled) {
      resolutions.set(key, { target: "", prefix, disabled });
      return;
    }
    const resolution = await resolver.resolve(registration, scoped).catch((error: Error) => ({
      target: "",
      reason: error.message,
    } as Resolution));
    if (!resolution.url) {
      resolutions.set(key, { ...resolution, prefix, disabled });
      return;
    }
    try {
      // One registration at a time, so a bad credentialRef costs only that server.
      const [server] = configFromObjects([registration, ...secrets], { [key]: resolution.url }).servers;
      servers.push(server);
      resolutions.set(key, { ...resolution, prefix, disabled });
    } catch (error) {
      resolutions.set(key, {
        ...resolution,
        url: undefined,
        reason: (error as Error).message,
        prefix,
        disabled,
      });
    }
  }));
  // Registration order, so the tables and reloads list servers stably (conflicts go by arrival).
  const order = registrations.map((registration) => keyOf(registration));
  servers.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  // The broker's own flags (its Deployment) over the extension's fields; the command line over both.
  const broker = brokerFlags(defaulted, extension);
  const config = normalizeConfig({
    servers,
    virtualServers: base.virtualServers,
    extension: {
      ...base.extension,
      ...definedOnly(broker?.settings ?? {}),
      ...definedOnly(options.settings ?? {}),
      ...(options.auth?.devIdp
        ? {
          oauthProtectedResource: devIdpResource(base.extension.oauthProtectedResource, options.auth.devIdp),
        }
        : {}),
    },
  });
  const targets = policyTargetsFromObjects(scoped, { tokens: extension?.spec?.urlElicitation === "Enabled" });
  const auth = options.auth
    ? { ...await planAuth(scoped, extension, resolver, options.auth), targets }
    : undefined;
  return {
    config,
    resolutions,
    ...(auth ? { auth } : {}),
    rateLimit: { policies: policiesForGateway(scoped, extension, { kind: "RateLimitPolicy" }), targets },
    // tokenURLElicitation and userSpecificList are served as the cluster serves them: no note.
    notes: [],
    // Every registration the broker would read, Disabled ones included: its config holds them too.
    warnings: brokerDefectWarnings(
      registrations.map((registration) => ({ name: keyOf(registration), spec: registration.spec })),
    ),
    ...(broker ? { broker } : {}),
  };
}

/**
 * The protected-resource metadata with `simulate --dev-idp`: the dev identity provider is the
 * authorization server, and the resource is left to this gateway's own `/mcp` (a cluster's public
 * `resource` would fail the client's check that the metadata is the server's it connected to).
 */
function devIdpResource(
  extension: GatewayConfig["extension"]["oauthProtectedResource"],
  devIdp: { issuer: string },
): NonNullable<GatewayConfig["extension"]["oauthProtectedResource"]> {
  const { resource: _cluster, ...rest } = extension ?? { authorizationServers: [] };
  return { ...rest, authorizationServers: [devIdp.issuer] };
}

/** The `CACHE_CONNECTION_STRING` of the Secret the extension's `spec.sessionStore` names. */
function extensionStoreUrl(
  objects: readonly ReplayObject[],
  gatewayExtension?: string,
): { url?: string; secret?: string; note?: string } {
  const extension = selectExtension(objects, gatewayExtension);
  const secretName = (extension?.spec?.sessionStore as { secretName?: unknown } | undefined)?.secretName;
  if (!extension || typeof secretName !== "string" || !secretName) return {};
  const namespace = extension.metadata?.namespace ?? "default";
  const secret = `${namespace}/${secretName}`;
  const object = objects.find((o) =>
    isKind(o, "", "Secret") && o.metadata?.name === secretName &&
    (o.metadata?.namespace ?? "default") === namespace
  ) as (ReplayObject & { data?: Record<string, string>; stringData?: Record<string, string> }) | undefined;
  if (!object) {
    return { secret, note: `the session store Secret ${secret} could not be read; using the memory store` };
  }
  let url = object.stringData?.CACHE_CONNECTION_STRING;
  if (url === undefined && object.data?.CACHE_CONNECTION_STRING !== undefined) {
    try {
      url = new TextDecoder().decode(
        Uint8Array.from(atob(object.data.CACHE_CONNECTION_STRING), (c) => c.charCodeAt(0)),
      );
    } catch {
      return { secret, note: `the session store Secret ${secret} has an invalid CACHE_CONNECTION_STRING` };
    }
  }
  if (!url?.trim()) {
    return {
      secret,
      note: `the session store Secret ${secret} has no CACHE_CONNECTION_STRING; using the memory store`,
    };
  }
  return { url: url.trim(), secret };
}

/** Opens the session store the options and the extension ask for. */
async function openSessionStore(
  objects: readonly ReplayObject[],
  options: ReplayOptions,
): Promise<{ store: SessionStore; choice: SessionStoreChoice }> {
  const onStateChange = (_up: boolean, line: string) => options.onChange?.(line);
  if (options.sessionStore) {
    try {
      const store = await RedisSessionStore.connect(options.sessionStore, { onStateChange });
      return { store, choice: { description: store.description } };
    } catch (error) {
      if (!isClusterInternalHost(options.sessionStore)) throw error;
      throw Object.assign(error as Error, {
        hint: "Its host is a cluster-internal name; port-forward the Redis Service " +
          "(kubectl port-forward svc/NAME 6379) and pass --session-store redis://127.0.0.1:6379.",
      });
    }
  }
  const memory = { store: new MemorySessionStore(), choice: { description: "memory" } };
  if (!options.sessionStoreFromExtension) return memory;
  const found = extensionStoreUrl(objects, options.gatewayExtension);
  if (!found.url) {
    return found.note ? { ...memory, choice: { description: "memory", note: found.note } } : memory;
  }
  const masked = maskRedisUrl(found.url);
  if (isClusterInternalHost(found.url)) {
    return {
      ...memory,
      choice: {
        description: "memory",
        note:
          `the extension's session store ${masked} (Secret ${found.secret}) is a cluster-internal name, ` +
          "not reachable from here; using the memory store (port-forward it and pass --session-store to share it)",
      },
    };
  }
  try {
    const store = await RedisSessionStore.connect(found.url, { onStateChange });
    return { store, choice: { description: store.description, note: `from Secret ${found.secret}` } };
  } catch (error) {
    return {
      ...memory,
      choice: {
        description: "memory",
        note: `${(error as Error).message.replace(/\.$/, "")}; using the memory store`,
      },
    };
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Computes the summary rows from a plan and the gateway's status. */
export function summaryRows(plan: Plan, status: GatewayStatus): ServerRow[] {
  const rows: ServerRow[] = [];
  for (const [name, resolution] of plan.resolutions) {
    const server = status.servers.find((candidate) => candidate.name === name);
    let state = "Unresolved";
    let reason = resolution.reason;
    if (resolution.disabled) {
      state = "Disabled";
      reason = "spec.state is Disabled";
    } else if (server) {
      state = server.state;
      reason = server.state === "ready" ? undefined : server.lastError;
    }
    rows.push({
      name,
      prefix: resolution.prefix,
      target: resolution.target,
      pod: resolution.pod,
      url: resolution.url,
      tools: server?.toolCount ?? 0,
      state,
      // Reasons are printed and come from anywhere (the API server, fetch): no header value in them.
      reason: reason === undefined ? undefined : redactHeaderValues(reason),
    });
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** Starts a replay: reads objects, resolves registrations, starts the gateway, and follows changes. */
export async function startReplay(options: ReplayOptions): Promise<Replay> {
  let objects = await options.source.load();
  let plan = await planReplay(objects, options.resolver, options);
  // The Secrets the policies read: replaced at each reload, read by the gate's stages when they need them.
  let secrets: readonly SecretObject[] = plan.auth?.secrets ?? [];
  // Policies are evaluated only with `options.auth` (then `plan.auth` is always set).
  const policy = options.auth ? await import("./policy_gates.ts") : undefined;
  // One set of OPA processes for the replay (started when a rule first needs one), stopped at close.
  const opa = policy && options.auth ? new policy.OpaPool({ opaPath: options.auth.opaPath }) : undefined;
  // One key cache for the replay, so keys survive reloads; a new one when the issuers move (a
  // port-forward reopened on another local port).
  let jwks: JwksCache | undefined;
  let jwksOverrides = "";
  const context = (auth: NonNullable<Plan["auth"]>, gates: NonNullable<typeof policy>): EngineContext => {
    const overrides = JSON.stringify(Object.entries(auth.issuerOverrides).sort());
    if (!jwks || overrides !== jwksOverrides) {
      const whatIf = options.auth?.whatIfClaims;
      jwks = whatIf
        ? new gates.WhatIfJwks(whatIf)
        : new gates.JwksCache({ issuerOverrides: new Map(Object.entries(auth.issuerOverrides)) });
      jwksOverrides = overrides;
    }
    return {
      secrets: { list: () => secrets },
      ...(options.kubeReviews ? { kube: options.kubeReviews } : {}),
      jwks,
      namespace: auth.namespace,
      ...(opa ? { opa } : {}),
      unsupportedRules: options.auth?.unsupportedRules ?? "deny",
      ...(options.logger ? { log: options.logger } : {}),
    };
  };
  const gate: AuthPolicyGate | undefined = policy && plan.auth
    ? new policy.AuthPolicyGate({
      policies: plan.auth.policies,
      targets: plan.auth.targets,
      // No log: what the gate would warn about (policies not applied) is in the start-up table and
      // the change lines already.
      context: context(plan.auth, policy),
    })
    : undefined;
  const authView = (): ReplayAuth | undefined =>
    gate && plan.auth
      ? {
        summary: gate.summary,
        notes: [...(options.source.problems?.() ?? []), ...plan.auth.notes],
        unsupportedRules: options.auth?.unsupportedRules ?? "deny",
      }
      : undefined;
  const { store, choice } = await openSessionStore(objects, options);
  // Counters live where the sessions do: in Redis, replicas share them as Limitador's Redis storage.
  const rateLimitGate: RateLimitGate | undefined = policy && plan.auth
    ? new policy.RateLimitGate({
      ...plan.rateLimit,
      storage: store instanceof RedisSessionStore
        ? new policy.RedisCounters(store)
        : new policy.MemoryCounters(),
    })
    : undefined;
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(plan.config, {
      ...(gate ? { policy: gate } : {}),
      // Chained after the AuthPolicy gate by the gateway, which also counts its 429s in /metrics.
      ...(rateLimitGate ? { rateLimit: rateLimitGate } : {}),
      port: options.port,
      hostname: options.hostname,
      logger: options.logger,
      store,
      signingKey: options.signingKey,
      federateAll: options.federateAll,
      toolsOnly: options.toolsOnly,
      maxSessions: options.maxSessions,
      publicHosts: options.publicHosts,
      // A replay that does not follow the cluster ends after one answer: no backend streams either.
      followBackends: options.follow !== false,
    });
  } catch (error) {
    await opa?.close();
    await (store as { close?(): Promise<void> }).close?.();
    throw error;
  }
  let previous = summaryRows(plan, await gateway.status());
  let previousPolicies = policyPrints(plan);
  let previousLimits = policyPrints(plan, "rateLimit");
  let noted = new Set(authView()?.notes ?? []);
  // Warnings already given: a reload repeats only the ones that are new.
  let warned = new Set(plan.warnings.map((warning) => warning.message));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const refreshNow = async () => {
    objects = await options.source.load();
    const before = JSON.stringify(plan.broker ?? null);
    plan = await planReplay(objects, options.resolver, options);
    if (!closed && JSON.stringify(plan.broker ?? null) !== before) {
      options.onChange?.(
        plan.broker
          ? `broker flags from Deployment ${plan.broker.deployment}: ${plan.broker.flags.join(" ") || "none"}`
          : "broker flags: no broker Deployment any more",
      );
    }
    const resolved = [...plan.resolutions].filter(([, resolution]) => resolution.url).map(([key]) => key);
    await options.resolver.retain?.(new Set([...resolved, ...plan.auth?.forwards ?? []]));
    if (gate && policy && plan.auth) {
      // Before the gateway reloads: the next request is judged by the policies just read.
      secrets = plan.auth.secrets;
      gate.update({
        policies: plan.auth.policies,
        targets: plan.auth.targets,
        context: context(plan.auth, policy),
      });
      const prints = policyPrints(plan);
      const notes = authView()?.notes ?? [];
      if (!closed) {
        for (const line of describePolicyChanges(previousPolicies, prints, gate.summary)) {
          options.onChange?.(line);
        }
        // Notes are about the issuers and Secrets the policies use: new ones are news.
        for (const note of notes) if (!noted.has(note)) options.onChange?.(`note: ${note}`);
      }
      previousPolicies = prints;
      noted = new Set(notes);
    }
    if (rateLimitGate) {
      const summary = rateLimitGate.update(plan.rateLimit);
      const prints = policyPrints(plan, "rateLimit");
      if (!closed) {
        for (const line of describePolicyChanges(previousLimits, prints, summary, "ratelimitpolicy")) {
          options.onChange?.(line);
        }
      }
      previousLimits = prints;
    }
    if (!closed) {
      for (const warning of plan.warnings) {
        if (!warned.has(warning.message)) options.onWarning?.(warning);
      }
    }
    warned = new Set(plan.warnings.map((warning) => warning.message));
    await gateway.reload(plan.config);
    const rows = summaryRows(plan, await gateway.status());
    // Once closing, the caller has said its last word ("Stopping."); changes found now are moot.
    if (!closed) { for (const line of describeChanges(previous, rows)) options.onChange?.(line); }
    previous = rows;
  };
  // One refresh at a time; requests made while one runs coalesce into a single refresh after it,
  // so a burst of watch events costs at most two.
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    if (queued) return queued;
    const run = async () => {
      queued = undefined;
      try {
        await refreshNow();
      } catch (error) {
        if (!closed) options.onChange?.(`reload failed: ${redactedMessage(error)}`);
      }
    };
    if (!running) {
      running = run().finally(() => running = undefined);
      return running;
    }
    const next = running.then(() => {
      running = run().finally(() => running = undefined);
      return running;
    });
    queued = next;
    return next;
  };
  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, options.debounceMs ?? 200);
  };
  const stopWatching = options.follow === false ? undefined : options.source.watch?.(schedule);
  options.resolver.listen?.({
    report: (line) => {
      if (!closed) options.onChange?.(line);
    },
    invalidate: schedule,
  });

  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    stopWatching?.();
    await queued;
    await running;
    await gateway.close();
    await opa?.close();
    await (store as { close?(): Promise<void> }).close?.();
    await options.resolver.close();
  };
  return {
    url: gateway.url,
    gateway,
    sessionStore: choice,
    get brokerFlags() {
      return plan.broker;
    },
    get notes() {
      return plan.notes;
    },
    get warnings() {
      return plan.warnings;
    },
    get auth() {
      return authView();
    },
    gate,
    get rateLimits() {
      return rateLimitGate?.summary;
    },
    rateLimitGate,
    get rateLimitInput() {
      return plan.rateLimit;
    },
    rows: async () => summaryRows(plan, await gateway.status()),
    refresh,
    status: () => gateway.status(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Each applied AuthPolicy's (or RateLimitPolicy's) spec, to tell which changed between reloads. */
function policyPrints(plan: Plan, which: "auth" | "rateLimit" = "auth"): Map<string, string> {
  return new Map(
    (plan[which]?.policies ?? []).map((policy) => [keyOf(policy), JSON.stringify(policy.spec ?? null)]),
  );
}

/** One line per AuthPolicy (or, with `noun`, other policy) that appeared, left or changed, with where it applies now. */
export function describePolicyChanges(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
  summary: AuthPolicySummary | RateLimitSummary,
  noun = "authpolicy",
): string[] {
  const lines: string[] = [];
  const where = (policy: string) => {
    const row = summary.rows.find((candidate) => candidate.policy === policy);
    if (!row) return "";
    return row.appliesTo.length
      ? ` (applies to ${row.appliesTo.join(", ")})`
      : ` (not applied: ${row.reason ?? "no target"})`;
  };
  for (const [policy, print] of after) {
    if (!before.has(policy)) lines.push(`${noun} ${policy} added${where(policy)}`);
    else if (before.get(policy) !== print) lines.push(`${noun} ${policy} changed${where(policy)}`);
  }
  for (const policy of before.keys()) if (!after.has(policy)) lines.push(`${noun} ${policy} removed`);
  return lines;
}

/** One line per registration that appeared, left, or changed state, target or tool count. */
export function describeChanges(before: readonly ServerRow[], after: readonly ServerRow[]): string[] {
  const lines: string[] = [];
  const old = new Map(before.map((row) => [row.name, row]));
  const now = new Map(after.map((row) => [row.name, row]));
  for (const row of after) {
    const was = old.get(row.name);
    const prefix = was && was.prefix !== row.prefix ? `, prefix ${row.prefix || '""'}` : "";
    const detail = `${row.state}, ${row.tools} tools${prefix}${row.reason ? `: ${row.reason}` : ""}`;
    if (!was) lines.push(`server ${row.name} added (${detail})`);
    else if (
      was.state !== row.state || was.tools !== row.tools || was.target !== row.target ||
      was.prefix !== row.prefix ||
      was.pod !== row.pod || (was.url !== row.url && row.url !== undefined)
    ) {
      // A new URL with the same Pod name: the Pod was replaced (or its port-forward reopened).
      const via = row.pod && (row.pod !== was.pod || row.url !== was.url) ? `, pod ${row.pod}` : "";
      lines.push(`server ${row.name} changed (${detail}${via})`);
    }
  }
  for (const row of before) if (!now.has(row.name)) lines.push(`server ${row.name} removed`);
  return lines;
}
