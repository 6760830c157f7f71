/**
 * The JWT attack corpus and the key cache, against a real loopback issuer (discovery + JWKS over
 * HTTP, keys made with jose), one test per attack. Every rejection is checked by its stable code,
 * and where it matters by the number of hits the issuer saw.
 */

import { assert, assertEquals, assertRejects } from "../../test/helpers/assert.ts";
import { makeKey, startIssuer, type TestIssuer } from "../../test/helpers/jwks_issuer.ts";
import { exportSPKI, SignJWT } from "jose";
import { DEFAULT_MAX_TOKEN_BYTES, JwksCache, type JwksCacheOptions } from "./jwks.ts";
import { AuthEvalError } from "./types.ts";

const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** A clock tests move by hand. */
function clock(start = Date.now()) {
  const c = { ms: start, now: () => c.ms };
  return c;
}

async function rejects(promise: () => Promise<unknown>, code: string): Promise<AuthEvalError> {
  const error = await assertRejects(promise, AuthEvalError);
  assertEquals(error.code, code, error.message);
  return error;
}

function cache(_issuer: TestIssuer, options: JwksCacheOptions = {}): JwksCache {
  return new JwksCache({ timeoutMs: 2_000, minRefreshIntervalMs: 10_000, ...options });
}

Deno.test("jwt: a valid token is accepted and its claims returned; discovery and keys are fetched once", async () => {
  await using issuer = await startIssuer();
  const jwks = cache(issuer);
  const token = await issuer.sign({ email: "alice@example.com" });
  const claims = await jwks.verify(token, { issuerUrl: issuer.url });
  assertEquals(claims.sub, "alice");
  assertEquals(claims.email, "alice@example.com");
  for (let i = 0; i < 5; i++) await jwks.verify(token, { issuerUrl: issuer.url });
  assertEquals(issuer.hits, { discovery: 1, jwks: 1 });
});

Deno.test("jwt: alg none is refused, even when the issuer advertises it", async () => {
  await using issuer = await startIssuer();
  issuer.doc.algs = ["RS256", "none"];
  const now = Math.floor(Date.now() / 1000);
  const token = `${b64url({ alg: "none", kid: "k1" })}.${
    b64url({ iss: issuer.url, sub: "mallory", exp: now + 60 })
  }.`;
  const error = await rejects(
    () => cache(issuer).verify(token, { issuerUrl: issuer.url }),
    "alg_unsupported",
  );
  assert(error.message.includes('"none"'), error.message);
});

Deno.test("jwt: HS256 signed with the issuer's RSA public key is refused", async () => {
  await using issuer = await startIssuer();
  // The classic confusion: the verifier's public key used as an HMAC secret. Advertising HS256 does
  // not make it acceptable either.
  issuer.doc.algs = ["RS256", "HS256"];
  const pem = await exportSPKI(
    await crypto.subtle.importKey(
      "jwk",
      issuer.keys[0].jwk,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      true,
      [
        "verify",
      ],
    ),
  );
  const now = Math.floor(Date.now() / 1000);
  for (const secret of [new TextEncoder().encode(pem), new TextEncoder().encode(issuer.keys[0].jwk.n!)]) {
    const token = await new SignJWT({ iss: issuer.url, sub: "mallory", exp: now + 60 })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .sign(secret);
    await rejects(() => cache(issuer).verify(token, { issuerUrl: issuer.url }), "alg_unsupported");
  }
});

Deno.test("jwt: an expired token is refused (exp has no leeway; a token without exp is expired)", async () => {
  await using issuer = await startIssuer();
  const now = Math.floor(Date.now() / 1000);
  const jwks = cache(issuer);
  const error = await rejects(
    async () => jwks.verify(await issuer.sign({ exp: now - 2 }), { issuerUrl: issuer.url }),
    "token_expired",
  );
  assert(error.message.startsWith("oidc: token is expired (Token Expiry: "), error.message);
  await rejects(
    async () => jwks.verify(await issuer.sign({ exp: undefined }), { issuerUrl: issuer.url }),
    "token_expired",
  );
});

Deno.test("jwt: a token not yet valid is refused beyond go-oidc's five minutes of nbf leeway", async () => {
  await using issuer = await startIssuer();
  const now = Math.floor(Date.now() / 1000);
  const jwks = cache(issuer);
  await rejects(
    async () => jwks.verify(await issuer.sign({ nbf: now + 600 }), { issuerUrl: issuer.url }),
    "token_not_yet_valid",
  );
  // Within the leeway: accepted, as Authorino does.
  assertEquals(
    (await jwks.verify(await issuer.sign({ nbf: now + 240 }), { issuerUrl: issuer.url })).sub,
    "alice",
  );
});

Deno.test("jwt: a token from another issuer is refused (its keys are not the policy issuer's)", async () => {
  await using issuer = await startIssuer();
  await using other = await startIssuer([await makeKey("other-key")]);
  const jwks = cache(issuer);
  const token = await other.sign();
  await rejects(() => jwks.verify(token, { issuerUrl: issuer.url }), "unknown_kid");
  // Same kid, other key: the signature fails.
  await using twin = await startIssuer([await makeKey("k1")]);
  await rejects(async () => jwks.verify(await twin.sign(), { issuerUrl: issuer.url }), "signature_invalid");
  // The policy's issuer's own key with another `iss`: Authorino does not compare `iss` (go-oidc with
  // SkipIssuerCheck), so neither does the default; checkIssuer adds the comparison.
  const relabelled = await issuer.sign({ iss: "https://evil.example" });
  assertEquals((await jwks.verify(relabelled, { issuerUrl: issuer.url })).iss, "https://evil.example");
  await rejects(
    () => jwks.verify(relabelled, { issuerUrl: issuer.url, checkIssuer: true }),
    "issuer_mismatch",
  );
  // A discovery document naming another issuer is refused outright (go-oidc's NewProvider).
  issuer.doc.issuer = "https://evil.example";
  await rejects(() => cache(issuer).verify(relabelled, { issuerUrl: issuer.url }), "jwks_unavailable");
});

Deno.test("jwt: a wrong audience is refused when audiences are configured (Authorino's jwt checks none)", async () => {
  await using issuer = await startIssuer();
  const jwks = cache(issuer);
  const token = await issuer.sign({ aud: ["other-client"] });
  // As Authorino: no audience check; the claim is there for an authorization rule to test.
  assertEquals((await jwks.verify(token, { issuerUrl: issuer.url })).aud, ["other-client"]);
  await rejects(
    () => jwks.verify(token, { issuerUrl: issuer.url, audiences: ["mcp-gateway"] }),
    "audience_mismatch",
  );
  const good = await issuer.sign({ aud: "mcp-gateway" });
  assertEquals(
    (await jwks.verify(good, { issuerUrl: issuer.url, audiences: ["mcp-gateway"] })).aud,
    "mcp-gateway",
  );
});

Deno.test("jwt: an unknown kid refreshes the keys once, then is refused; refreshes are rate limited", async () => {
  await using issuer = await startIssuer();
  const time = clock();
  const jwks = cache(issuer, { now: time.now, minRefreshIntervalMs: 10_000 });
  await jwks.verify(await issuer.sign(), { issuerUrl: issuer.url });
  assertEquals(issuer.hits.jwks, 1);
  const stranger = await makeKey("k-unknown");
  const token = await issuer.sign({}, { key: stranger });
  time.ms += 11_000;
  await rejects(() => jwks.verify(token, { issuerUrl: issuer.url }), "unknown_kid");
  assertEquals(issuer.hits.jwks, 2, "one refresh for the unknown kid");
  // A storm of made-up kids within the interval: no fetch at all.
  for (let i = 0; i < 20; i++) {
    await rejects(() => jwks.verify(token, { issuerUrl: issuer.url }), "unknown_kid");
  }
  assertEquals(issuer.hits.jwks, 2);
  // After the interval, 20 concurrent requests share one fetch.
  time.ms += 11_000;
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, () => jwks.verify(token, { issuerUrl: issuer.url })),
  );
  assert(results.every((r) => r.status === "rejected"));
  assertEquals(issuer.hits.jwks, 3);
  // A real rotation is picked up by that one refresh.
  issuer.keys = [...issuer.keys, stranger];
  time.ms += 11_000;
  assertEquals((await jwks.verify(token, { issuerUrl: issuer.url })).sub, "alice");
  assertEquals(issuer.hits.jwks, 4);
  assertEquals(issuer.hits.discovery, 1);
});

Deno.test("jwt: a tampered payload is refused without refetching the keys", async () => {
  await using issuer = await startIssuer();
  const jwks = cache(issuer, { minRefreshIntervalMs: 0 });
  const [header, , signature] = (await issuer.sign({ role: "user" })).split(".");
  const now = Math.floor(Date.now() / 1000);
  const forged = `${header}.${
    b64url({ iss: issuer.url, sub: "alice", role: "admin", exp: now + 3600 })
  }.${signature}`;
  await rejects(() => jwks.verify(forged, { issuerUrl: issuer.url }), "signature_invalid");
  assertEquals(issuer.hits.jwks, 1);
});

Deno.test("jwt: a truncated token is refused wherever it is cut", async () => {
  await using issuer = await startIssuer();
  const jwks = cache(issuer);
  const token = await issuer.sign();
  const cuts = [
    1,
    10,
    token.indexOf("."),
    token.indexOf(".") + 1,
    token.lastIndexOf("."),
    token.lastIndexOf(".") + 1,
  ];
  for (let at = token.lastIndexOf(".") + 2; at < token.length; at += 37) cuts.push(at);
  cuts.push(token.length - 1);
  for (const at of cuts) {
    const error = await assertRejects(
      () => jwks.verify(token.slice(0, at), { issuerUrl: issuer.url }),
      AuthEvalError,
    );
    assert(["token_malformed", "signature_invalid"].includes(error.code), `cut at ${at}: ${error.code}`);
  }
});

Deno.test("jwt: a 100 KB token is refused before any parsing or fetch", async () => {
  await using issuer = await startIssuer();
  const jwks = cache(issuer);
  const huge = await issuer.sign({ padding: "x".repeat(100 * 1024) });
  assert(huge.length > DEFAULT_MAX_TOKEN_BYTES);
  const started = performance.now();
  await rejects(() => jwks.verify(huge, { issuerUrl: issuer.url }), "token_too_large");
  assert(performance.now() - started < 50, "refused cheaply");
  assertEquals(issuer.hits, { discovery: 0, jwks: 0 });
});

Deno.test("jwt: the JWKS endpoint down refuses every token, and recovers after the interval", async () => {
  await using issuer = await startIssuer();
  const time = clock();
  const jwks = cache(issuer, { now: time.now });
  const token = await issuer.sign();
  issuer.faults.jwks = "down";
  await rejects(() => jwks.verify(token, { issuerUrl: issuer.url }), "jwks_unavailable");
  // Within the interval the failure is remembered: refused without a fetch.
  for (let i = 0; i < 5; i++) {
    await rejects(() => jwks.verify(token, { issuerUrl: issuer.url }), "jwks_unavailable");
  }
  assertEquals(issuer.hits.jwks, 1);
  issuer.faults.jwks = undefined;
  time.ms += 11_000;
  assertEquals((await jwks.verify(token, { issuerUrl: issuer.url })).sub, "alice");
});

Deno.test("jwt: an unreachable issuer refuses every token", async () => {
  const issuer = await startIssuer();
  const token = await issuer.sign();
  const url = issuer.url;
  await issuer.close();
  const time = clock();
  const jwks = new JwksCache({ timeoutMs: 2_000, now: time.now });
  const error = await rejects(() => jwks.verify(token, { issuerUrl: url }), "jwks_unavailable");
  assert(error.message.startsWith("missing openid connect configuration"), error.message);
  time.ms += 60_000;
  await rejects(() => jwks.verify(token, { issuerUrl: url }), "jwks_unavailable");
  // The message names the URL without user info or query.
  const secretUrl = url.replace("http://", "http://user:s3cret@");
  const hidden = await rejects(
    () => jwks.verify(token, { jwksUrl: `${secretUrl}/certs?key=s3cret` }),
    "jwks_unavailable",
  );
  assert(!hidden.message.includes("s3cret"), hidden.message);
  assert(hidden.message.includes("/realms/test/certs"), hidden.message);
});

Deno.test("jwt: fetches are bounded: timeout, body cap, no redirect off the origin", async () => {
  await using issuer = await startIssuer();
  const token = await issuer.sign();
  issuer.faults.jwks = "hang";
  const started = performance.now();
  const slow = await rejects(
    () => new JwksCache({ timeoutMs: 300 }).verify(token, { issuerUrl: issuer.url }),
    "jwks_unavailable",
  );
  assert(performance.now() - started < 2_000, "gave up after the timeout");
  assert(slow.message.includes("timed out"), slow.message);
  issuer.faults.jwks = "huge";
  const big = await rejects(
    () => new JwksCache({ maxBodyBytes: 64 * 1024 }).verify(token, { issuerUrl: issuer.url }),
    "jwks_unavailable",
  );
  assert(big.message.includes("body over"), big.message);
  issuer.faults.jwks = "redirect-away";
  const away = await rejects(
    () => new JwksCache().verify(token, { issuerUrl: issuer.url }),
    "jwks_unavailable",
  );
  assert(away.message.includes("redirect outside"), away.message);
  issuer.faults.jwks = "redirect-here";
  assertEquals((await new JwksCache().verify(token, { issuerUrl: issuer.url })).sub, "alice");
});

Deno.test("jwt: ttl refreshes discovery and keys; without ttl they are kept", async () => {
  await using issuer = await startIssuer();
  const time = clock();
  const jwks = cache(issuer, { now: time.now, minRefreshIntervalMs: 1_000 });
  const token = await issuer.sign({ exp: Math.floor(time.ms / 1000) + 86_400 });
  await jwks.verify(token, { issuerUrl: issuer.url });
  time.ms += 3_600_000;
  await jwks.verify(token, { issuerUrl: issuer.url });
  assertEquals(issuer.hits, { discovery: 1, jwks: 1 });
  await jwks.verify(token, { issuerUrl: issuer.url, ttl: 60 });
  assertEquals(issuer.hits, { discovery: 2, jwks: 2 });
  time.ms += 30_000;
  await jwks.verify(token, { issuerUrl: issuer.url, ttl: 60 });
  assertEquals(issuer.hits, { discovery: 2, jwks: 2 });
  // A failed refresh keeps the document and keys in use, as Authorino does.
  issuer.faults.discovery = "down";
  time.ms += 61_000;
  await jwks.verify(token, { issuerUrl: issuer.url, ttl: 60 });
  assertEquals(issuer.hits.discovery, 3);
});

Deno.test("jwt: --issuer-override OLD=NEW serves a policy naming OLD from NEW", async () => {
  await using issuer = await startIssuer();
  const old = "https://keycloak.example.invalid/realms/test";
  const jwks = new JwksCache({ issuerOverrides: new Map([[old, issuer.url]]) });
  // Tokens issued by NEW are accepted by the policy that names OLD ...
  assertEquals(
    (await jwks.verify(await issuer.sign(), { issuerUrl: old, checkIssuer: true })).iss,
    issuer.url,
  );
  // ... and so are tokens that still say OLD (NEW is the same provider reached another way).
  assertEquals(
    (await jwks.verify(await issuer.sign({ iss: old }), { issuerUrl: old, checkIssuer: true })).iss,
    old,
  );
  await rejects(
    async () =>
      jwks.verify(await issuer.sign({ iss: "https://x.invalid" }), { issuerUrl: old, checkIssuer: true }),
    "issuer_mismatch",
  );
  // A discovery document that names OLD (an issuer with a fixed public hostname) is accepted too.
  issuer.doc.issuer = old;
  const fixed = new JwksCache({ issuerOverrides: new Map([[old, issuer.url]]) });
  assertEquals((await fixed.verify(await issuer.sign(), { issuerUrl: old })).sub, "alice");
});

Deno.test("jwt: a jwksUrl method accepts RS256 only and needs no discovery", async () => {
  await using issuer = await startIssuer();
  const es = await makeKey("e1", "ES256");
  issuer.keys = [...issuer.keys, es];
  const jwks = cache(issuer);
  const jwksUrl = `${issuer.url}/protocol/openid-connect/certs`;
  assertEquals((await jwks.verify(await issuer.sign(), { jwksUrl })).sub, "alice");
  await rejects(async () => jwks.verify(await issuer.sign({}, { key: es }), { jwksUrl }), "alg_unsupported");
  // From discovery, ES256 is accepted when the issuer lists it.
  issuer.doc.algs = ["RS256", "ES256"];
  assertEquals(
    (await cache(issuer).verify(await issuer.sign({}, { key: es }), { issuerUrl: issuer.url })).sub,
    "alice",
  );
  assertEquals(issuer.hits.discovery, 1);
});

Deno.test("jwt: a verified signature is remembered only while the key set stays the same", async () => {
  await using issuer = await startIssuer();
  const time = clock();
  const jwks = cache(issuer, { now: time.now, minRefreshIntervalMs: 1_000 });
  const old = await issuer.sign({ exp: Math.floor(time.ms / 1000) + 600 });
  const claims = await jwks.verify(old, { issuerUrl: issuer.url });
  // Shared by every request with the token: nobody may change them.
  assert(Object.isFrozen(claims));
  // Times are checked on every call, remembered or not.
  time.ms += 601_000;
  await rejects(() => jwks.verify(old, { issuerUrl: issuer.url }), "token_expired");
  time.ms -= 601_000;
  // The issuer rotates k1 out; a token with the new kid refreshes the set, and the old token,
  // remembered as valid, is verified again and refused.
  const k2 = await makeKey("k2");
  issuer.keys = [k2];
  time.ms += 2_000;
  await jwks.verify(await issuer.sign({}, { key: k2 }), { issuerUrl: issuer.url });
  assertEquals(issuer.hits.jwks, 2);
  await rejects(() => jwks.verify(old, { issuerUrl: issuer.url }), "unknown_kid");
});
