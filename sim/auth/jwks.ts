/**
 * JWT verification as Authorino's `jwt` identity method does it (go-oidc under the hood), with the
 * OIDC discovery document and the JSON Web Key Set fetched over HTTP and cached.
 *
 * What is checked, in go-oidc's order (Authorino builds its verifier with `SkipIssuerCheck` and
 * `SkipClientIDCheck`):
 * - the token's size (refused before anything is parsed: Envoy refuses request headers over 60 KiB);
 * - the issuer's discovery document (`<issuerUrl>/.well-known/openid-configuration`, HTTP 200, its
 *   `issuer` equal to `issuerUrl` as written) and its `jwks_uri`;
 * - the token's shape (three base64url parts, JSON header and claims with the registered claims'
 *   types);
 * - `exp`, required, with no leeway; `nbf`, when present, with go-oidc's five minutes of leeway;
 * - the `alg` of the header: one of the discovery document's `id_token_signing_alg_values_supported`
 *   that go-oidc supports (RS, PS, ES and EdDSA), RS256 only when it lists none or for a `jwksUrl`;
 *   `none` and HMAC are never accepted, so an HS256 token "signed" with the RSA public key fails;
 * - the signature, by the JWKS keys with the token's `kid` (every key when it has none).
 *
 * The token's `iss` is not compared with `issuerUrl`, and `aud` is not checked: Authorino does
 * neither, and the AuthPolicy `jwt` method has no audience field (a policy checks `auth.identity.aud`
 * in an authorization rule). {@linkcode JwtVerifyOptions.checkIssuer} and
 * {@linkcode JwtVerifyOptions.audiences} add those checks for callers that want them.
 *
 * Caching: the discovery document is kept for the policy's `ttl` seconds (0 or absent: forever, as
 * Authorino, which never refreshes it then); the keys are kept until a token names a `kid` the set
 * does not have, which refreshes them once. Refreshes are rate limited: at most one fetch per URL in
 * flight, shared by every waiting request, and none sooner than `minRefreshIntervalMs` after the last
 * attempt, so a stream of tokens with made-up `kid`s costs one fetch per interval. Every fetch has a
 * timeout, a body cap and follows redirects only within the URL's origin. An issuer or JWKS that
 * cannot be fetched is an error ({@linkcode AuthEvalError} `jwks_unavailable`), which denies.
 *
 * @module
 */

import { compactVerify, importJWK, type JWK } from "jose";
import { AuthEvalError } from "./types.ts";
import { base64UrlBytes } from "../base64.ts";
import { isWithinOrigin, readBody } from "../backend_fetch.ts";

/** Authorino's default timeout of discovery and JWKS requests (the `jwt` method's `timeout`). */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;

/** The shortest time between two fetches of one discovery document or key set. */
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 10_000;

/** Longest discovery document or key set read. Real ones are a few KiB. */
export const DEFAULT_MAX_JWKS_BODY_BYTES = 256 * 1024;

/** Longest token verified: Envoy's default `max_request_headers_kb` is 60, for all headers together. */
export const DEFAULT_MAX_TOKEN_BYTES = 60 * 1024;

/** go-oidc's leeway on `nbf` (clock skew). `exp` has none. */
export const NBF_LEEWAY_MS = 5 * 60_000;

const MAX_REDIRECTS = 3;

/** Tokens whose signature is remembered (most recently verified first out). */
const MAX_REMEMBERED_TOKENS = 1_000;
/** Longer tokens are verified every time (keeps the memory of remembered tokens within 8 MiB). */
const MAX_REMEMBERED_TOKEN_BYTES = 8 * 1024;

/** The signature algorithms go-oidc accepts from a discovery document; never `none` or HMAC. */
const SUPPORTED_ALGS = new Set([
  "RS256",
  "RS384",
  "RS512",
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
]);

/** Options of {@linkcode JwksCache}. */
export interface JwksCacheOptions {
  /** Timeout of each discovery or JWKS request, in milliseconds (default 5000, as Authorino). */
  timeoutMs?: number;
  /** The `fetch` to use (default the global one). */
  fetch?: (input: URL, init: RequestInit) => Promise<Response>;
  /** The clock, in milliseconds since the epoch (default `Date.now`): token times and rate limits. */
  now?: () => number;
  /** The shortest time between two fetches of one URL (default 10 s). */
  minRefreshIntervalMs?: number;
  /** Cap on a discovery document or key set, in bytes (default 256 KiB). */
  maxBodyBytes?: number;
  /** Cap on a token, in bytes (default 60 KiB). */
  maxTokenBytes?: number;
  /**
   * `--issuer-override OLD=NEW`: a policy naming issuer `OLD` (or a JWKS URL under it) is served by
   * `NEW`: discovery and keys are fetched from `NEW` (a `jwks_uri` under `OLD` is rewritten to
   * `NEW`), and the discovery document may name either `OLD` or `NEW` as its issuer. So tokens
   * issued by `NEW` are accepted by policies that name `OLD`, and so are tokens whose `iss` is still
   * `OLD` when `NEW` is the same provider reached another way (a port-forward): the keys from `NEW`
   * decide. With {@linkcode JwtVerifyOptions.checkIssuer}, `iss` may be either URL.
   */
  issuerOverrides?: Map<string, string>;
}

/** Options of {@linkcode JwksCache.verify}: one `jwt` identity method's settings. */
export interface JwtVerifyOptions {
  /** The method's `issuerUrl` (one of `issuerUrl`, `jwksUrl`). */
  issuerUrl?: string;
  /** The method's `jwksUrl` (Authorino's AuthConfig; AuthPolicy has only `issuerUrl`). */
  jwksUrl?: string;
  /** Seconds the discovery document is kept; 0 or absent: never refreshed. */
  ttl?: number;
  /** Also require `iss` to be `issuerUrl` (Authorino does not). */
  checkIssuer?: boolean;
  /** Also require one of these in `aud` (Authorino's `jwt` method has no such setting). */
  audiences?: string[];
  /** Aborts the wait (not a fetch other requests share). */
  signal?: AbortSignal;
}

interface Provider {
  jwksUrl: string;
  algorithms: string[];
  fetchedAt: number;
}

interface ProviderEntry {
  provider?: Provider;
  pending?: Promise<void>;
  attemptAt?: number;
  error?: AuthEvalError;
}

interface KeySetEntry {
  keys?: JWK[];
  /** Bumped whenever `keys` is replaced: verified tokens of an older version are verified again. */
  version: number;
  stale?: boolean;
  pending?: Promise<void>;
  attemptAt?: number;
  error?: AuthEvalError;
  imported: WeakMap<JWK, Map<string, CryptoKey | Uint8Array>>;
}

/**
 * Discovery documents and key sets by URL, shared by every `jwt` method of every policy, with the
 * verification of one token. See the module documentation for what is checked and cached.
 */
export class JwksCache {
  #timeoutMs: number;
  #fetch: (input: URL, init: RequestInit) => Promise<Response>;
  #now: () => number;
  #minInterval: number;
  #maxBody: number;
  #maxToken: number;
  #overrides: Map<string, string>;
  #providers = new Map<string, ProviderEntry>();
  #keySets = new Map<string, KeySetEntry>();
  // A signature checked once needs no second check while the key set is the same: RSA and ECDSA
  // verification costs most of a millisecond here, and clients send one token many times. Times,
  // issuer and audience are checked again on every call.
  #verified = new Map<
    string,
    { jwksUrl: string; version: number; alg: string; claims: Record<string, unknown> }
  >();

  /** A cache with `options`. */
  constructor(options: JwksCacheOptions = {}) {
    this.#timeoutMs = options.timeoutMs && options.timeoutMs > 0
      ? options.timeoutMs
      : DEFAULT_JWKS_TIMEOUT_MS;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#minInterval = options.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_JWKS_BODY_BYTES;
    this.#maxToken = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    this.#overrides = options.issuerOverrides ?? new Map();
  }

  /**
   * Verifies `token` for one `jwt` method and returns its claims. Throws {@linkcode AuthEvalError}
   * with code `token_too_large`, `token_malformed`, `token_expired`, `token_not_yet_valid`,
   * `issuer_mismatch`, `audience_mismatch`, `alg_unsupported`, `unknown_kid`, `signature_invalid`
   * or `jwks_unavailable` (discovery or keys cannot be fetched); the message is go-oidc's where it
   * has one, and never contains the token.
   */
  async verify(token: string, options: JwtVerifyOptions): Promise<Record<string, unknown>> {
    if (token.length > this.#maxToken) {
      throw new AuthEvalError(
        "token_too_large",
        `oidc: malformed jwt: the token is ${token.length} bytes, over the ${this.#maxToken}-byte limit`,
      );
    }
    const { jwksUrl, algorithms, issuers } = await this.#resolve(options);
    const seen = this.#verified.get(token);
    const keySet = this.#keySets.get(jwksUrl);
    if (
      seen && seen.jwksUrl === jwksUrl && keySet && !keySet.stale && seen.version === keySet.version &&
      algorithms.includes(seen.alg)
    ) {
      this.#checkClaims(seen.claims, options.checkIssuer ? issuers : undefined, options.audiences);
      return seen.claims;
    }
    const { header, claims } = parseJwt(token);
    this.#checkClaims(claims, options.checkIssuer ? issuers : undefined, options.audiences);
    const alg = header.alg;
    if (typeof alg !== "string" || !algorithms.includes(alg)) {
      throw new AuthEvalError(
        "alg_unsupported",
        `oidc: malformed jwt: go-jose/go-jose: unexpected signature algorithm ${
          JSON.stringify(String(alg))
        }; expected ${JSON.stringify(algorithms)}`,
      );
    }
    const kid = typeof header.kid === "string" && header.kid !== "" ? header.kid : undefined;
    let { keys, fetched } = await this.#keys(jwksUrl, false, options.signal);
    let candidates = keys.filter((key) => kid === undefined || key.kid === kid);
    // The spec's key rotation: a kid the set lacks (or, without kid, no key that verifies) refreshes
    // the set once. A known kid with a bad signature does not: no rotation explains it.
    if (kid !== undefined && candidates.length === 0 && !fetched) {
      ({ keys, fetched } = await this.#keys(jwksUrl, true, options.signal));
      candidates = keys.filter((key) => key.kid === kid);
    }
    if (candidates.length === 0) {
      throw new AuthEvalError(
        "unknown_kid",
        "failed to verify signature: failed to verify id token signature (no key with the token's kid)",
      );
    }
    let verified = await this.#verifyWith(jwksUrl, token, alg, candidates);
    if (!verified && kid === undefined && !fetched) {
      ({ keys } = await this.#keys(jwksUrl, true, options.signal));
      verified = await this.#verifyWith(jwksUrl, token, alg, keys);
    }
    if (!verified) {
      throw new AuthEvalError(
        "signature_invalid",
        "failed to verify signature: failed to verify id token signature",
      );
    }
    const version = this.#keySets.get(jwksUrl)!.version;
    deepFreeze(claims);
    if (token.length <= MAX_REMEMBERED_TOKEN_BYTES) {
      this.#verified.delete(token);
      this.#verified.set(token, { jwksUrl, version, alg, claims });
      if (this.#verified.size > MAX_REMEMBERED_TOKENS) {
        this.#verified.delete(this.#verified.keys().next().value!);
      }
    }
    return claims;
  }

  /** The key set URL, accepted algorithms and issuer names for `options`. */
  async #resolve(
    options: JwtVerifyOptions,
  ): Promise<{ jwksUrl: string; algorithms: string[]; issuers: string[] }> {
    if (options.issuerUrl) {
      const issuer = options.issuerUrl;
      const provider = await this.#provider(issuer, options.ttl ?? 0, options.signal);
      const override = this.#overrides.get(issuer);
      return {
        jwksUrl: provider.jwksUrl,
        algorithms: provider.algorithms,
        issuers: override ? [issuer, override] : [issuer],
      };
    }
    if (options.jwksUrl) {
      return { jwksUrl: this.#overridden(options.jwksUrl), algorithms: ["RS256"], issuers: [] };
    }
    throw new AuthEvalError("jwks_unavailable", "missing issuerUrl or jwksUrl for JWT authentication method");
  }

  /** `url` with the prefix of an overridden issuer replaced by its override. */
  #overridden(url: string): string {
    for (const [from, to] of this.#overrides) {
      if (url === from || url.startsWith(from.endsWith("/") ? from : `${from}/`)) {
        return to + url.slice(from.length);
      }
    }
    return url;
  }

  #checkClaims(claims: Record<string, unknown>, issuers?: string[], audiences?: string[]): void {
    if (issuers && !issuers.includes(claims.iss as string)) {
      throw new AuthEvalError(
        "issuer_mismatch",
        `oidc: id token issued by a different provider, expected ${JSON.stringify(issuers[0])} got ${
          JSON.stringify(claims.iss ?? "")
        }`,
      );
    }
    if (audiences?.length) {
      const aud = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.some((a) => aud.includes(a))) {
        throw new AuthEvalError(
          "audience_mismatch",
          `oidc: expected audience ${JSON.stringify(audiences.join(" "))} got ${JSON.stringify(aud)}`,
        );
      }
    }
    const now = this.#now();
    // go-oidc reads a missing exp as the zero time, long expired.
    const exp = typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
    if (exp === undefined || exp < now) {
      const expiry = exp === undefined ? "0001-01-01 00:00:00 +0000 UTC" : goTime(exp);
      throw new AuthEvalError("token_expired", `oidc: token is expired (Token Expiry: ${expiry})`);
    }
    if (typeof claims.nbf === "number" && now + NBF_LEEWAY_MS < claims.nbf * 1000) {
      throw new AuthEvalError(
        "token_not_yet_valid",
        `oidc: current time ${goTime(now)} before the nbf (not before) time: ${goTime(claims.nbf * 1000)}`,
      );
    }
  }

  async #verifyWith(jwksUrl: string, token: string, alg: string, keys: JWK[]): Promise<boolean> {
    const entry = this.#keySets.get(jwksUrl);
    for (const jwk of keys) {
      if (jwk.alg !== undefined && jwk.alg !== alg) continue;
      const key = await importKey(entry, jwk, alg);
      if (!key) continue;
      try {
        await compactVerify(token, key, { algorithms: [alg] });
        return true;
      } catch {
        // Next key.
      }
    }
    return false;
  }

  /** The discovery of `issuer`, fetched when missing or older than `ttl` seconds. */
  async #provider(issuer: string, ttl: number, signal?: AbortSignal): Promise<Provider> {
    let entry = this.#providers.get(issuer);
    if (!entry) this.#providers.set(issuer, entry = {});
    const now = this.#now();
    const expired = entry.provider && ttl > 0 && now - entry.provider.fetchedAt >= ttl * 1000;
    if (!entry.provider || expired) {
      if (!entry.pending && !this.#tooSoon(entry.attemptAt, now)) {
        entry.attemptAt = now;
        entry.pending = this.#discover(issuer).then((provider) => {
          if (entry.provider && entry.provider.jwksUrl === provider.jwksUrl) {
            // Authorino's refresh builds a new key set: the keys are fetched again too.
            const keySet = this.#keySets.get(provider.jwksUrl);
            if (keySet) keySet.stale = true;
          }
          entry.provider = provider;
          entry.error = undefined;
        }, (error) => {
          // A failed refresh keeps the document in use, as Authorino does.
          entry.error = error;
        }).finally(() => entry.pending = undefined);
      }
      if (entry.pending) await abortable(entry.pending, signal);
    }
    if (entry.provider) return entry.provider;
    throw new AuthEvalError(
      "jwks_unavailable",
      `missing openid connect configuration: ${entry.error?.message}`,
      {
        cause: entry.error,
      },
    );
  }

  async #discover(issuer: string): Promise<Provider> {
    const base = this.#overrides.get(issuer) ?? issuer;
    const url = `${base.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const doc = await this.#getJson(url, "OIDC discovery");
    const issuers = base === issuer ? [issuer] : [issuer, base];
    if (typeof doc.issuer !== "string" || !issuers.includes(doc.issuer)) {
      throw new AuthEvalError(
        "jwks_unavailable",
        `oidc: issuer did not match the issuer returned by provider, expected ${JSON.stringify(issuer)} got ${
          JSON.stringify(doc.issuer ?? "")
        }`,
      );
    }
    if (typeof doc.jwks_uri !== "string") {
      throw new AuthEvalError("jwks_unavailable", `the OIDC discovery document of ${issuer} has no jwks_uri`);
    }
    let jwksUrl: string;
    try {
      jwksUrl = new URL(this.#overridden(doc.jwks_uri)).href;
    } catch {
      throw new AuthEvalError(
        "jwks_unavailable",
        `the OIDC discovery document of ${issuer} has an invalid jwks_uri`,
      );
    }
    const listed = Array.isArray(doc.id_token_signing_alg_values_supported)
      ? doc.id_token_signing_alg_values_supported.filter((a): a is string => SUPPORTED_ALGS.has(a as string))
      : [];
    return { jwksUrl, algorithms: listed.length ? listed : ["RS256"], fetchedAt: this.#now() };
  }

  /**
   * The keys of `url`: fetched when never fetched (or stale after a discovery refresh), or when
   * `refresh` and the rate limit allows. `fetched` says whether this call's wait included a fetch.
   */
  async #keys(
    url: string,
    refresh: boolean,
    signal?: AbortSignal,
  ): Promise<{ keys: JWK[]; fetched: boolean }> {
    let entry = this.#keySets.get(url);
    if (!entry) this.#keySets.set(url, entry = { imported: new WeakMap(), version: 0 });
    const now = this.#now();
    const want = !entry.keys || entry.stale || refresh;
    let fetched = false;
    if (want && (entry.pending || !this.#tooSoon(entry.attemptAt, now))) {
      if (!entry.pending) {
        const e = entry;
        e.attemptAt = now;
        e.pending = this.#getJson(url, "JWKS").then((doc) => {
          if (!Array.isArray(doc.keys)) {
            throw new AuthEvalError(
              "jwks_unavailable",
              `oidc: failed to decode keys: no "keys" array`,
            );
          }
          e.keys = doc.keys.filter((k): k is JWK => typeof k === "object" && k !== null && !Array.isArray(k));
          e.version++;
          e.stale = false;
          e.error = undefined;
        }, (error) => {
          e.error = error;
        }).finally(() => e.pending = undefined);
      }
      await abortable(entry.pending!, signal);
      fetched = true;
    }
    if (entry.keys) return { keys: entry.keys, fetched };
    throw new AuthEvalError(
      "jwks_unavailable",
      `failed to verify signature: fetching keys ${entry.error?.message}`,
      {
        cause: entry.error,
      },
    );
  }

  #tooSoon(attemptAt: number | undefined, now: number): boolean {
    return attemptAt !== undefined && now - attemptAt < this.#minInterval;
  }

  /** GET `url` (redirects within its origin only), status 200, a JSON object within the body cap. */
  async #getJson(url: string, what: string): Promise<Record<string, unknown>> {
    // Named without user info or query, which could hold a secret.
    const shown = URL.canParse(url) ? `${new URL(url).origin}${new URL(url).pathname}` : "(an invalid URL)";
    const fail = (why: string, cause?: unknown) =>
      new AuthEvalError("jwks_unavailable", `oidc: get ${what} ${shown} failed: ${why}`, { cause });
    const signal = AbortSignal.timeout(this.#timeoutMs);
    let at: URL;
    try {
      at = new URL(url);
    } catch (error) {
      throw fail("invalid URL", error);
    }
    if (at.protocol !== "http:" && at.protocol !== "https:") throw fail("not an http(s) URL");
    for (let hops = 0;; hops++) {
      let response: Response;
      try {
        response = await this.#fetch(at, {
          redirect: "manual",
          signal,
          headers: { accept: "application/json" },
        });
      } catch (error) {
        throw fail(
          (error as Error)?.name === "TimeoutError"
            ? `timed out after ${this.#timeoutMs} ms`
            : String((error as Error)?.message ?? error).replace(/https?:\/\/[^\s)]*/g, shown),
          error,
        );
      }
      if ([301, 302, 303, 307, 308].includes(response.status)) {
        await response.body?.cancel().catch(() => {});
        const location = response.headers.get("location");
        let to: URL | undefined;
        try {
          to = location ? new URL(location, at) : undefined;
        } catch { /* refused below */ }
        if (!to || !isWithinOrigin(at, to)) {
          throw fail(`HTTP ${response.status} redirect outside ${at.origin}`);
        }
        if (hops === MAX_REDIRECTS) throw fail(`more than ${MAX_REDIRECTS} redirects`);
        at = to;
        continue;
      }
      let body: Uint8Array;
      try {
        body = await readBody(response.body, this.#maxBody, { server: url, what });
      } catch (error) {
        throw fail(
          (error as Error)?.name === "TimeoutError"
            ? `timed out after ${this.#timeoutMs} ms`
            : `body over ${this.#maxBody} bytes or unreadable`,
          error,
        );
      }
      if (response.status !== 200) throw fail(`HTTP ${response.status}`);
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder().decode(body));
      } catch (error) {
        throw fail("not JSON", error);
      }
      if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw fail("not a JSON object");
      return doc as Record<string, unknown>;
    }
  }
}

/** The public part of `jwk` as a key for `alg`, cached per key; undefined when it cannot be one. */
async function importKey(
  entry: KeySetEntry | undefined,
  jwk: JWK,
  alg: string,
): Promise<CryptoKey | Uint8Array | undefined> {
  const cached = entry?.imported.get(jwk)?.get(alg);
  if (cached) return cached;
  if (jwk.use !== undefined && jwk.use !== "sig") return undefined;
  // Never a symmetric key, and never the private half a careless JWKS might carry.
  const { kty, n, e, crv, x, y } = jwk;
  let pub: JWK;
  if (kty === "RSA") pub = { kty, n, e };
  else if (kty === "EC") pub = { kty, crv, x, y };
  else if (kty === "OKP") pub = { kty, crv, x };
  else return undefined;
  let key: CryptoKey | Uint8Array;
  try {
    key = await importJWK(pub, alg) as CryptoKey | Uint8Array; // jose types CryptoKey as node:crypto's where @types/node is in the graph
  } catch {
    return undefined;
  }
  if (entry) {
    let byAlg = entry.imported.get(jwk);
    if (!byAlg) entry.imported.set(jwk, byAlg = new Map());
    byAlg.set(alg, key);
  }
  return key;
}

/** Header and claims of a compact JWS, with the claim types go-oidc's unmarshalling requires. */
function parseJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const malformed = (why: string) => new AuthEvalError("token_malformed", `oidc: malformed jwt: ${why}`);
  const parts = token.split(".");
  if (parts.length !== 3) throw malformed(`expected 3 parts got ${parts.length}`);
  const header = decodePart(parts[0]);
  if (!header) throw malformed("invalid header");
  const claims = decodePart(parts[1]);
  if (!claims) throw malformed("invalid payload");
  if (!/^[A-Za-z0-9_-]*$/.test(parts[2])) throw malformed("invalid signature");
  for (const name of ["iss", "sub", "nonce", "at_hash"]) {
    if (claims[name] !== undefined && typeof claims[name] !== "string") {
      throw new AuthEvalError("token_malformed", `oidc: failed to unmarshal claims: ${name} is not a string`);
    }
  }
  for (const name of ["exp", "iat", "nbf"]) {
    if (claims[name] !== undefined && typeof claims[name] !== "number") {
      throw new AuthEvalError("token_malformed", `oidc: failed to unmarshal claims: ${name} is not a number`);
    }
  }
  const aud = claims.aud;
  if (
    aud !== undefined && typeof aud !== "string" &&
    !(Array.isArray(aud) && aud.every((a) => typeof a === "string"))
  ) {
    throw new AuthEvalError(
      "token_malformed",
      "oidc: failed to unmarshal claims: aud is not a string or strings",
    );
  }
  return { header, claims };
}

function decodePart(part: string): Record<string, unknown> | undefined {
  const bytes = part === "" ? undefined : base64UrlBytes(part);
  if (!bytes) return undefined;
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Freezes `value` and everything in it: verified claims are shared by every request with the token. */
function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

/** A time as Go prints a `time.Time` in UTC, as go-oidc's messages show it. */
function goTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2006-01-02T15:04:05.000Z
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ""} +0000 UTC`;
}

/** `promise`, or the signal's reason as soon as `signal` aborts (the promise keeps running). */
async function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return await promise;
  signal.throwIfAborted();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
