/**
 * The response stage of an AuthPolicy, as Authorino builds it.
 *
 * Denials: `unauthenticated` (default 401, with one `WWW-Authenticate` challenge per authentication
 * method) and `unauthorized` (default 403); the policy's `code`, `message`, `headers` and `body` replace
 * the defaults (its `headers` replace the challenges), and `X-Ext-Auth-Reason` always carries the
 * message (the policy's, else the pipeline's reason).
 *
 * Success: `success.headers` items become request headers (named by `key`, else by the item's name) and
 * `success.filters` items Envoy dynamic metadata (kept at `auth.response`, not sent): `plain` (Go's `%v`
 * of the value), `json` (an object of properties, as Go marshals it) and `wristband` (a JWT signed with
 * the first of `signingKeyRefs`, read from the Secret's `key.pem` in Authorino's namespace, with `iss`,
 * `iat`, `exp`, `sub` = SHA-256 of the identity as Go marshals it, and the custom claims). An item that
 * fails is left out, as Authorino leaves it out.
 *
 * @module
 */
import { createHash, createPrivateKey } from "node:crypto";
import { CompactSign, importPKCS8 } from "jose";
import { compileConditions, type Condition, holds, type NamedPatterns } from "./conditions.ts";
import type { AuthDeny, AuthorizationJson, SecretSource, Unsupported } from "./types.ts";
import { goJson, toGjsonString } from "./selector.ts";
import { type CompiledValue, compileValue, type ValueSpec } from "./value.ts";

/** Authorino's reason header on every denial. */
export const REASON_HEADER = "X-Ext-Auth-Reason";
/** The namespace of Authorino in a Kuadrant install, where wristband signing key Secrets live. */
export const DEFAULT_AUTHORINO_NAMESPACE = "kuadrant-system";
/** Authorino's wristband lifetime in seconds when `tokenDuration` is unset. */
export const DEFAULT_WRISTBAND_DURATION = 300;

const WRISTBAND_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"] as const;
const EC_CURVES: Record<string, string> = { ES256: "prime256v1", ES384: "secp384r1", ES512: "secp521r1" };

/** What the response stage may use. */
export interface ResponseContext {
  /** Secrets for wristband signing keys. */
  secrets?: SecretSource;
  /** Authorino's namespace (default `kuadrant-system`). */
  authorinoNamespace?: string;
  /** Named patterns for the items' `when`. */
  patterns?: NamedPatterns;
  /** Dotted path of the response for {@linkcode Unsupported} (default `rules.response`). */
  path?: string;
  /** The clock in milliseconds (tests). */
  now?: () => number;
}

/** What a successful request carries on. */
export interface SuccessResult {
  /** Request headers to set (`success.headers`). */
  headers: Record<string, string>;
  /** Envoy dynamic metadata (`success.filters`), by key; not sent anywhere by the simulator. */
  metadata: Record<string, unknown>;
  /** Items that could not be built and were left out, with why (never a secret). */
  failures: { name: string; reason: string }[];
}

/** A wristband an AuthPolicy issues, for the start-up table and validate. */
export interface WristbandInfo {
  /** The header (or metadata key) it is set as. */
  key: string;
  /** `issuer` as written. */
  issuer: string;
  /** `signingKeyRefs` as written; the first signs. */
  signingKeyRefs: { name: string; algorithm: string }[];
  /** The namespace the Secrets are read from. */
  namespace: string;
}

/** The response stage of one AuthPolicy, compiled once. */
export interface CompiledResponse {
  /** Builds the success headers and metadata, storing each item's object at `json.auth.response[name]`. */
  success(json: AuthorizationJson): Promise<SuccessResult>;
  /** Only the success headers. */
  successHeaders(json: AuthorizationJson): Promise<Record<string, string>>;
  /**
   * The exact denial: `reason` is the pipeline's message (used when the policy sets none);
   * `defaultHeaders` are the headers of an `unauthenticated` denial when the policy sets none:
   * Authorino's challenges, `{ "WWW-Authenticate": challenges.join(", ") }` with the identity
   * methods' challenges (`<identifier> realm="<name>"`, see identity.ts).
   */
  deny(
    kind: "unauthenticated" | "unauthorized",
    reason: string,
    json: AuthorizationJson,
    defaultHeaders?: Record<string, string>,
  ): AuthDeny;
  /** The wristbands the success items issue. */
  readonly wristbands: readonly WristbandInfo[];
  /** Items the simulator cannot build here, with why. */
  readonly unsupported: readonly Unsupported[];
}

interface DenyWith {
  code?: number;
  message?: CompiledValue;
  headers: [string, CompiledValue][];
  body?: CompiledValue;
}

interface SuccessItem {
  name: string;
  key: string;
  wrapper: "header" | "metadata";
  priority: number;
  when: Condition;
  kind: "plain" | "json" | "wristband";
  build(json: AuthorizationJson): Promise<unknown>;
}

/**
 * Compiles `rules.response` of an AuthPolicy (`unauthenticated`, `unauthorized`, `success.headers`,
 * `success.filters`; the AuthConfig's `dynamicMetadata` is read as `filters`). Throws
 * `CelCompileError` for an expression that does not compile.
 */
export function compileResponse(
  spec: Record<string, unknown> | undefined,
  ctx: ResponseContext = {},
): CompiledResponse {
  const path = ctx.path ?? "rules.response";
  const unsupported: Unsupported[] = [];
  const wristbands: WristbandInfo[] = [];
  const unauthenticated = compileDenyWith(spec?.unauthenticated);
  const unauthorized = compileDenyWith(spec?.unauthorized);
  const success = isObject(spec?.success) ? spec.success : {};
  const items: SuccessItem[] = [];
  const groups: [string, unknown, "header" | "metadata"][] = [
    ["headers", success.headers, "header"],
    ["filters", success.filters ?? success.dynamicMetadata, "metadata"],
  ];
  for (const [group, entries, wrapper] of groups) {
    if (!isObject(entries)) continue;
    for (const [name, raw] of Object.entries(entries)) {
      if (!isObject(raw)) continue;
      const itemPath = `${path}.success.${group}.${name}`;
      const key = str(raw.key) || name;
      const base = {
        name,
        key,
        wrapper,
        priority: Number.isInteger(raw.priority) ? raw.priority as number : 0,
        when: compileConditions(raw.when, ctx.patterns),
      };
      if (isObject(raw.plain)) {
        const value = compileValue(raw.plain as ValueSpec);
        items.push({ ...base, kind: "plain", build: (json) => Promise.resolve(value.resolve(json)) });
      } else if (isObject(raw.json)) {
        const properties = Object.entries(isObject(raw.json.properties) ? raw.json.properties : {}).map((
          [prop, v],
        ) => [prop, compileValue(isObject(v) ? v as ValueSpec : undefined)] as const);
        items.push({
          ...base,
          kind: "json",
          build: (json) => {
            const obj: Record<string, unknown> = {};
            for (const [prop, value] of properties) obj[prop] = value.resolve(json);
            return Promise.resolve(obj);
          },
        });
      } else if (isObject(raw.wristband)) {
        const compiled = compileWristband(raw.wristband, itemPath, key, ctx);
        if ("reason" in compiled) {
          unsupported.push(compiled);
          continue;
        }
        wristbands.push(compiled.info);
        items.push({ ...base, kind: "wristband", build: compiled.build });
      } else {
        unsupported.push({
          path: itemPath,
          reason: "the item names no response method (plain, json, wristband)",
        });
      }
    }
  }

  async function buildSuccess(json: AuthorizationJson): Promise<SuccessResult> {
    const result: SuccessResult = { headers: {}, metadata: {}, failures: [] };
    const response = json.auth.response ??= {};
    const priorities = [...new Set(items.map((i) => i.priority))].sort((a, b) => a - b);
    for (const priority of priorities) {
      const group = items.filter((i) => i.priority === priority && holds(i.when, json));
      const built = await Promise.allSettled(group.map((i) => i.build(json)));
      built.forEach((outcome, n) => {
        const item = group[n];
        if (outcome.status === "rejected") {
          result.failures.push({ name: item.name, reason: errorMessage(outcome.reason) });
          return;
        }
        response[item.name] = outcome.value;
        if (item.wrapper === "metadata") result.metadata[item.key] = outcome.value;
        else {result.headers[item.key] = item.kind === "plain"
            ? goFormat(outcome.value)
            : toGjsonString(outcome.value);}
      });
    }
    return result;
  }

  return {
    success: buildSuccess,
    successHeaders: async (json) => (await buildSuccess(json)).headers,
    deny(kind, reason, json, defaultHeaders = {}) {
      const denyWith = kind === "unauthenticated" ? unauthenticated : unauthorized;
      let status = kind === "unauthenticated" ? 401 : 403;
      let message = reason;
      let headers: Record<string, string> = kind === "unauthenticated" ? { ...defaultHeaders } : {};
      let body = "";
      if (denyWith) {
        if (denyWith.code) status = denyWith.code;
        if (denyWith.message) message = resolveText(denyWith.message, json);
        if (denyWith.body) body = resolveText(denyWith.body, json);
        if (denyWith.headers.length > 0) {
          headers = {};
          for (const [name, value] of denyWith.headers) headers[name] = resolveText(value, json);
        }
      }
      headers[REASON_HEADER] = message;
      return { allow: false, status, headers, body, reason: message };
    },
    wristbands,
    unsupported,
  };
}

function compileDenyWith(raw: unknown): DenyWith | undefined {
  if (!isObject(raw)) return undefined;
  const code = typeof raw.code === "number" && raw.code > 0 ? raw.code : undefined;
  const headers = Object.entries(isObject(raw.headers) ? raw.headers : {}).map(([name, v]) =>
    [name, compileValue(isObject(v) ? v as ValueSpec : undefined)] as [string, CompiledValue]
  );
  return {
    code,
    message: isObject(raw.message) ? compileValue(raw.message as ValueSpec) : undefined,
    headers,
    body: isObject(raw.body) ? compileValue(raw.body as ValueSpec) : undefined,
  };
}

// Authorino ignores a denial value that fails to resolve: it becomes empty.
function resolveText(value: CompiledValue, json: AuthorizationJson): string {
  try {
    return toGjsonString(value.resolve(json));
  } catch {
    return "";
  }
}

interface SigningKey {
  pem: string;
  key: Promise<CryptoKey>;
}

function compileWristband(
  spec: Record<string, unknown>,
  path: string,
  key: string,
  ctx: ResponseContext,
): { info: WristbandInfo; build: (json: AuthorizationJson) => Promise<string> } | Unsupported {
  const namespace = ctx.authorinoNamespace ?? DEFAULT_AUTHORINO_NAMESPACE;
  const issuer = str(spec.issuer);
  const refs = (Array.isArray(spec.signingKeyRefs) ? spec.signingKeyRefs : []).filter(isObject).map((r) => ({
    name: str(r.name),
    algorithm: str(r.algorithm),
  }));
  const info: WristbandInfo = { key, issuer, signingKeyRefs: refs, namespace };
  if (refs.length === 0) {
    return { path, reason: "the wristband has no signingKeyRefs (Authorino needs at least one)" };
  }
  const signer = refs[0];
  if (!(WRISTBAND_ALGORITHMS as readonly string[]).includes(signer.algorithm)) {
    return {
      path,
      reason: `signing algorithm ${JSON.stringify(signer.algorithm)} is not one Authorino supports`,
    };
  }
  if (!ctx.secrets) {
    return { path, reason: "no Secrets are available here to read the wristband's signing key" };
  }
  const secrets = ctx.secrets;
  const duration = typeof spec.tokenDuration === "number" ? spec.tokenDuration : DEFAULT_WRISTBAND_DURATION;
  const claims = Object.entries(isObject(spec.customClaims) ? spec.customClaims : {}).map(([name, v]) =>
    [name, compileValue(isObject(v) ? v as ValueSpec : undefined)] as const
  );
  const now = ctx.now ?? Date.now;
  let cached: SigningKey | undefined;

  // The Secret is read on every issue (it may change while the simulator runs); its key is imported once
  // per PEM text.
  function signingKey(): Promise<CryptoKey> {
    const secret = secrets.list().find((s) => s.namespace === namespace && s.name === signer.name);
    if (!secret) {
      return Promise.reject(new Error(`signing key Secret ${namespace}/${signer.name} not found`));
    }
    const pem = secret.data["key.pem"];
    if (typeof pem !== "string" || pem === "") {
      return Promise.reject(new Error(`signing key Secret ${namespace}/${signer.name} has no key.pem`));
    }
    if (cached?.pem !== pem) {
      cached = { pem, key: importSigningKey(pem, signer.algorithm, `${namespace}/${signer.name}`) };
      cached.key.catch(() => {});
    }
    return cached.key;
  }

  return {
    info,
    async build(json) {
      const iat = Math.floor(now() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        iat,
        exp: iat + duration,
        sub: createHash("sha256").update(goJson(json.auth.identity ?? null)).digest("hex"),
      };
      for (const [name, value] of claims) payload[name] = value.resolve(json);
      const cryptoKey = await signingKey();
      return await new CompactSign(new TextEncoder().encode(goJson(payload)))
        .setProtectedHeader({ alg: signer.algorithm, kid: signer.name, typ: "JWT" })
        .sign(cryptoKey);
    },
  };
}

/**
 * Imports a wristband signing key as Authorino does: PEM of type `EC PRIVATE KEY` or `RSA PRIVATE KEY`
 * (its check reads the first word of the PEM type), for `algorithm`. The error names the Secret, never
 * the key.
 */
export async function importSigningKey(
  pem: string,
  algorithm: string,
  secretName: string,
): Promise<CryptoKey> {
  const type = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (!type) {
    throw new Error(`signing key Secret ${secretName}: key.pem is not PEM (failed to decode PEM file)`);
  }
  const family = type.split(" ")[0];
  if (family !== "EC" && family !== "RSA") {
    throw new Error(
      `signing key Secret ${secretName}: PEM type ${
        JSON.stringify(type)
      } is not EC or RSA (invalid signing key algorithm)`,
    );
  }
  let pkcs8: string;
  let details: { namedCurve?: string } | undefined;
  let keyType: string | undefined;
  try {
    const keyObject = createPrivateKey({ key: pem, format: "pem" });
    keyType = keyObject.asymmetricKeyType;
    details = keyObject.asymmetricKeyDetails as { namedCurve?: string } | undefined;
    pkcs8 = keyObject.export({ format: "pem", type: "pkcs8" }) as string;
  } catch {
    throw new Error(`signing key Secret ${secretName}: key.pem does not hold a valid ${family} private key`);
  }
  const wantsEc = algorithm.startsWith("ES");
  if (wantsEc ? keyType !== "ec" : keyType !== "rsa") {
    throw new Error(
      `signing key Secret ${secretName}: a ${keyType} key cannot sign ${algorithm} (key is invalid)`,
    );
  }
  if (wantsEc && details?.namedCurve !== EC_CURVES[algorithm]) {
    throw new Error(
      `signing key Secret ${secretName}: curve ${details?.namedCurve} does not match ${algorithm}`,
    );
  }
  return await importPKCS8(pkcs8, algorithm) as CryptoKey; // jose types CryptoKey as node:crypto's where @types/node is in the graph
}

/** Go's `fmt.Sprintf("%v", v)` of a decoded JSON value (Authorino's plain header values). */
export function goFormat(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") return goFloat(value);
  if (Array.isArray(value)) return `[${value.map(goFormat).join(" ")}]`;
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    return `map[${keys.map((k) => `${k}:${goFormat(obj[k])}`).join(" ")}]`;
  }
  return String(value);
}

// %v of a float64 is %g with the shortest digits: an exponent below 1e-4 and from 1e6 (`1e+06`).
function goFloat(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "+Inf" : "-Inf";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const [mantissa, exponentText] = n.toExponential().split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return String(n);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
