/**
 * The authorization stage of an AuthPolicy, as Authorino evaluates it: `patternMatching` (CEL
 * predicates, selector/operator/value patterns, `patternRef`, `all`/`any`), `opa` (inline rego run by
 * the real OPA, see `opa.ts`) and `kubernetesSubjectAccessReview` (the cluster's API server). Rules are
 * grouped by `priority`; each group runs concurrently, groups in ascending order, and every rule that
 * applies must pass. A rule's result is stored at `auth.authorization.<name>` for the rules and responses
 * after it.
 *
 * The deny reasons are Authorino's (they become `X-Ext-Auth-Reason`): `Unauthorized` for patterns and
 * OPA, `not authorized: <reason>` for a SubjectAccessReview, an evaluation error's own message otherwise.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type LoadedPolicy, OpaPool, type RegoVersion } from "./opa.ts";

import type { AuthorizationJson, KubeReviewClient, Unsupported } from "./types.ts";
import { toGjsonString } from "./selector.ts";
import { compileConditions, type Condition, holds, type NamedPatterns } from "./conditions.ts";
import { type CompiledValue, compileValue, type ValueSpec } from "./value.ts";

/** Authorino's reason when a pattern or OPA policy says no. */
export const UNAUTHORIZED_REASON = "Unauthorized";

/** A rule said no (or could not be evaluated, which is a no too), with Authorino's reason. */
export class AuthorizationDenied extends Error {
  /** Stable code. */
  readonly code = "authorization_denied";
  /** The rule that denied (its key under `rules.authorization`). */
  readonly rule: string;
  /** Authorino's reason, for `X-Ext-Auth-Reason` (never a credential). */
  readonly reason: string;
  /** A denial by `rule` for `reason`. */
  constructor(rule: string, reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = "AuthorizationDenied";
    this.rule = rule;
    this.reason = reason;
  }
}

/** What the authorization rules may use. */
export interface AuthorizationContext {
  /** Named patterns that `patternRef` refers to. */
  patterns?: NamedPatterns;
  /** The API server's review APIs (for `kubernetesSubjectAccessReview`); rules need it or are unsupported. */
  kube?: KubeReviewClient;
  /** Shared OPA processes; without one, each `opa` rule starts its own (stopped by its `close`). */
  opa?: OpaPool;
  /** The `opa` binary when no pool is given (default: `opa` on PATH). */
  opaPath?: string;
  /** Dotted path of the rules for {@linkcode Unsupported} (default `rules.authorization`). */
  path?: string;
}

/** One authorization rule, compiled once. */
export interface AuthorizationRule {
  /** The rule's key under `rules.authorization`. */
  readonly name: string;
  /** Authorino's priority group (lower first). */
  readonly priority: number;
  /** The rule's `when`: the rule is skipped when it does not hold or fails to evaluate. */
  readonly when: Condition;
  /**
   * Evaluates the rule; resolves with the result Authorino stores at `auth.authorization.<name>`
   * (`true`, OPA's bindings), throws {@linkcode AuthorizationDenied} otherwise.
   */
  authorize(json: AuthorizationJson, signal?: AbortSignal): Promise<unknown>;
  /** Resolves once the rule is ready (OPA compiled its rego); rejects with the compile error. */
  ready(): Promise<void>;
  /** Releases what the rule holds (an OPA process it started). */
  close(): Promise<void>;
}

/**
 * Compiles one entry of `rules.authorization`. Returns {@linkcode Unsupported} for what the simulator
 * cannot evaluate here (`spicedb`, an external OPA policy, OPA without a binary, a SubjectAccessReview
 * without a cluster); throws `CelCompileError` for a predicate or expression that does not compile.
 */
export function compileAuthorization(
  name: string,
  spec: Record<string, unknown>,
  ctx: AuthorizationContext = {},
): AuthorizationRule | Unsupported {
  const path = `${ctx.path ?? "rules.authorization"}.${name}`;
  const priority = Number.isInteger(spec.priority) ? spec.priority as number : 0;
  const when = compileConditions(spec.when, ctx.patterns);
  const base = { name, priority, when };

  if (isObject(spec.patternMatching)) {
    const rules = compileConditions(spec.patternMatching.patterns, ctx.patterns);
    return {
      ...base,
      authorize: (json) => {
        let ok: boolean;
        try {
          ok = rules.matches(json);
        } catch (err) {
          return Promise.reject(new AuthorizationDenied(name, errorMessage(err), { cause: err }));
        }
        return ok
          ? Promise.resolve(true)
          : Promise.reject(new AuthorizationDenied(name, UNAUTHORIZED_REASON));
      },
      ready: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }

  if (isObject(spec.opa)) return compileOpa(name, path, spec.opa, base, ctx);

  if (isObject(spec.kubernetesSubjectAccessReview)) {
    if (!ctx.kube) {
      return {
        path,
        reason: "kubernetesSubjectAccessReview needs a cluster's API server and none is connected here",
      };
    }
    return compileSubjectAccessReview(name, spec.kubernetesSubjectAccessReview, base, ctx.kube);
  }

  if (isObject(spec.spicedb)) {
    return {
      path,
      reason: "spicedb authorization needs an Authzed/SpiceDB server, which the simulator does not call",
    };
  }
  return { path, reason: "the rule names no authorization method the simulator knows" };
}

type RuleBase = Pick<AuthorizationRule, "name" | "priority" | "when">;

function compileOpa(
  name: string,
  path: string,
  spec: Record<string, unknown>,
  base: RuleBase,
  ctx: AuthorizationContext,
): AuthorizationRule | Unsupported {
  if (spec.externalPolicy !== undefined && !spec.rego) {
    return {
      path,
      reason: "an OPA policy fetched from an external registry (externalPolicy) is not fetched here",
    };
  }
  const rego = typeof spec.rego === "string" ? spec.rego : "";
  const version: RegoVersion = spec.version === "v1" ? "v1" : "v0";
  const allValues = spec.allValues === true;
  const ownPool = ctx.opa ? undefined : new OpaPool({ opaPath: ctx.opaPath });
  const pool = ctx.opa ?? ownPool!;
  if (!pool.binary) {
    return {
      path,
      reason: ctx.opaPath
        ? `the opa binary ${ctx.opaPath} does not exist, so the rego cannot be evaluated`
        : "no opa binary on PATH, so the rego cannot be evaluated",
    };
  }
  const uid = sha256Hex(`${name}|${version}|${rego}`);
  const loading = pool.load(uid, rego, version);
  loading.catch(() => {}); // reported by ready() and by every evaluation
  return {
    ...base,
    async authorize(json, signal) {
      let policy: LoadedPolicy;
      let document: Record<string, unknown>;
      try {
        policy = await pool.load(uid, rego, version);
        document = await pool.evaluate(policy, json, signal);
      } catch (err) {
        throw new AuthorizationDenied(name, errorMessage(err), { cause: err });
      }
      // Authorino binds each rule with object.get(..., null): an undefined rule is null.
      const bindings: Record<string, unknown> = {};
      for (const rule of allValues ? policy.rules : ["allow"]) bindings[rule] = document[rule] ?? null;
      if (bindings.allow !== true) throw new AuthorizationDenied(name, UNAUTHORIZED_REASON);
      return bindings;
    },
    ready: () => loading.then(() => {}),
    close: () => ownPool ? ownPool.close() : Promise.resolve(),
  };
}

const SAR_ATTRIBUTES = ["namespace", "group", "resource", "name", "subresource", "verb"] as const;

function compileSubjectAccessReview(
  name: string,
  spec: Record<string, unknown>,
  base: RuleBase,
  kube: KubeReviewClient,
): AuthorizationRule {
  const user = isObject(spec.user) ? compileValue(spec.user as ValueSpec) : undefined;
  let groups: CompiledValue | undefined;
  if (isObject(spec.authorizationGroups)) groups = compileValue(spec.authorizationGroups as ValueSpec);
  else if (Array.isArray(spec.groups) && spec.groups.length > 0) {
    groups = compileValue({ value: spec.groups });
  }
  const attributes = isObject(spec.resourceAttributes)
    ? SAR_ATTRIBUTES.map((key) => {
      const attr = (spec.resourceAttributes as Record<string, unknown>)[key];
      return [key, compileValue(isObject(attr) ? attr as ValueSpec : undefined)] as const;
    })
    : undefined;
  const timeoutMs = typeof spec.timeout === "number" ? spec.timeout : 5000;

  return {
    ...base,
    async authorize(json, signal) {
      let status: Record<string, unknown>;
      try {
        const review: Record<string, unknown> = {};
        const userName = user ? toGjsonString(user.resolve(json)) : "";
        if (userName !== "") review.user = userName;
        if (attributes) {
          const resourceAttributes: Record<string, string> = {};
          for (const [key, value] of attributes) {
            const text = toGjsonString(value.resolve(json));
            if (text !== "") resourceAttributes[key] = text;
          }
          review.resourceAttributes = resourceAttributes;
        } else {
          const http = ((json.context?.request as Record<string, unknown> | undefined)?.http ?? {}) as Record<
            string,
            unknown
          >;
          const nonResource: Record<string, string> = {};
          const requestPath = String(http.path ?? json.request.path ?? "");
          const verb = String(http.method ?? json.request.method ?? "").toLowerCase();
          if (requestPath !== "") nonResource.path = requestPath;
          if (verb !== "") nonResource.verb = verb;
          review.nonResourceAttributes = nonResource;
        }
        if (groups) {
          const list = parseGroups(toGjsonString(groups.resolve(json)));
          if (list && list.length > 0) review.groups = list;
        }
        const signals = [signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s) =>
          s !== undefined
        );
        status = await kube.subjectAccessReview(
          review,
          signals.length > 1 ? AbortSignal.any(signals) : signals[0],
        );
      } catch (err) {
        throw new AuthorizationDenied(name, errorMessage(err), { cause: err });
      }
      if (status.allowed === true) return true;
      const reason = typeof status.reason === "string" && status.reason !== ""
        ? status.reason
        : "unknown reason";
      throw new AuthorizationDenied(name, `not authorized: ${reason}`);
    },
    ready: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

// Authorino stringifies the groups value and unmarshals it into []string, with Go's errors.
function parseGroups(text: string): string[] | undefined {
  if (text.trim() === "") throw new Error("unexpected end of JSON input");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`invalid character '${text.trim()[0]}' looking for beginning of value`);
  }
  if (parsed === null) return undefined;
  if (!Array.isArray(parsed)) {
    throw new Error(`json: cannot unmarshal ${goKind(parsed)} into Go value of type []string`);
  }
  for (const item of parsed) {
    if (typeof item !== "string" && item !== null) {
      throw new Error(`json: cannot unmarshal ${goKind(item)} into Go value of type string`);
    }
  }
  return parsed.map((item) => item ?? "");
}

function goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return typeof value;
}

/**
 * Evaluates `rules` for one request as Authorino does: priority groups in ascending order, the rules
 * of a group concurrently, each skipped when its `when` does not hold (or fails); the first rule to deny
 * cancels the rest of its group and the request is denied. Each passing rule's result is stored at
 * `json.auth.authorization[name]`. Resolves when every applicable rule passed; throws
 * {@linkcode AuthorizationDenied} otherwise. `rules` is read as a fixed list (its priorities are kept
 * per array).
 */
export async function authorize(
  rules: readonly AuthorizationRule[],
  json: AuthorizationJson,
  signal?: AbortSignal,
): Promise<void> {
  for (const priority of prioritiesOf(rules)) {
    const group = rules.filter((r) => r.priority === priority && holds(r.when, json));
    if (group.length === 0) continue;
    if (group.length === 1) {
      // The common case needs no cancellation of siblings (an AbortController costs more than a rule).
      const rule = group[0];
      try {
        json.auth.authorization[rule.name] = await rule.authorize(json, signal);
      } catch (err) {
        throw denialOf(rule, err);
      }
      continue;
    }
    const cancel = new AbortController();
    const groupSignal = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
    await new Promise<void>((resolve, reject) => {
      let pending = group.length;
      for (const rule of group) {
        rule.authorize(json, groupSignal).then(
          (result) => {
            json.auth.authorization[rule.name] = result;
            if (--pending === 0) resolve();
          },
          (err) => {
            cancel.abort();
            reject(denialOf(rule, err));
          },
        );
      }
    });
  }
}

const PRIORITIES = new WeakMap<readonly AuthorizationRule[], number[]>();

function prioritiesOf(rules: readonly AuthorizationRule[]): number[] {
  let priorities = PRIORITIES.get(rules);
  if (!priorities) {
    priorities = [...new Set(rules.map((r) => r.priority))].sort((a, b) => a - b);
    PRIORITIES.set(rules, priorities);
  }
  return priorities;
}

function denialOf(rule: AuthorizationRule, err: unknown): AuthorizationDenied {
  return err instanceof AuthorizationDenied
    ? err
    : new AuthorizationDenied(rule.name, errorMessage(err), { cause: err });
}

/** Closes every rule (OPA processes the rules started themselves). */
export async function closeAuthorization(rules: readonly AuthorizationRule[]): Promise<void> {
  await Promise.all(rules.map((r) => r.close()));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorMessage(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return "context deadline exceeded";
  return err instanceof Error ? err.message : String(err);
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
