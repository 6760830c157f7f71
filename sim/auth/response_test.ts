import { createHash, generateKeyPairSync, type KeyObject } from "node:crypto";
import { decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { parse } from "yaml";
import { assert, assertEquals } from "../../test/helpers/assert.ts";
import {
  ACCOUNTING,
  requestJson,
  rulesOf,
  SEED_ARTICLE_POLICY,
  TOOL_FILTER_GUIDE,
} from "../../test/helpers/auth_guides.ts";
import { requireOpa } from "../../test/helpers/opa.ts";
import { type AuthorizationRule, authorize, compileAuthorization } from "./authorization.ts";
import { OpaPool } from "./opa.ts";
import { compileAuthentication } from "./identity.ts";
import { compileResponse, goFormat, REASON_HEADER } from "./response.ts";
import type { SecretObject, SecretSource } from "./types.ts";

// The default headers of an unauthenticated denial, from the identity methods' own challenges.
function challenges(authentication: unknown): Record<string, string> {
  const { methods } = compileAuthentication(authentication, { namespace: "kuadrant-system" });
  return { "WWW-Authenticate": methods.map((m) => m.challenge).join(", ") };
}

function secrets(list: SecretObject[]): SecretSource {
  return { list: () => list };
}

function keySecret(name: string, pem: string, namespace = "kuadrant-system"): SecretObject {
  return { namespace, name, labels: {}, annotations: {}, data: { "key.pem": pem } };
}

function ecKeys(namedCurve = "prime256v1"): { privatePem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
  return { privatePem: privateKey.export({ type: "sec1", format: "pem" }) as string, publicKey };
}

function rsaKeys(): { privatePem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { privatePem: privateKey.export({ type: "pkcs1", format: "pem" }) as string, publicKey };
}

function spki(key: KeyObject): string {
  return key.export({ type: "spki", format: "pem" }) as string;
}

Deno.test("seed article: the 401 with WWW-Authenticate resource_metadata, byte for byte", () => {
  const spec =
    (parse(SEED_ARTICLE_POLICY) as { spec: { defaults: { rules: Record<string, Record<string, unknown>> } } })
      .spec.defaults.rules;
  const response = compileResponse(spec.response);
  const deny = response.deny(
    "unauthenticated",
    "credential not found",
    requestJson(),
    challenges(spec.authentication),
  );
  assertEquals(deny, {
    allow: false,
    status: 401,
    headers: {
      "WWW-Authenticate":
        "Bearer resource_metadata=http://mcp.example.com/.well-known/oauth-protected-resource/mcp",
      "X-Ext-Auth-Reason": "credential not found",
    },
    body: '{\n  "error": "Unauthorized",\n  "message": "Authentication required."\n}\n',
    reason: "credential not found",
  });
});

Deno.test("authorization guide: 403 with the guide's body and Authorino's reason; no code means 403", () => {
  const response = compileResponse(rulesOf(TOOL_FILTER_GUIDE).response);
  const deny = response.deny("unauthorized", "Unauthorized", requestJson());
  assertEquals(deny.status, 403);
  assertEquals(deny.headers, { [REASON_HEADER]: "Unauthorized" });
  assertEquals(deny.body, '{\n  "error": "Forbidden",\n  "message": "Access denied."\n}\n');
});

Deno.test("defaults: 401 with one challenge per authentication method, 403 with only the reason, empty bodies", () => {
  const authentication = {
    keycloak: { jwt: { issuerUrl: "https://x" } },
    "api-key": {
      apiKey: { selector: {} },
      credentials: { authorizationHeader: { prefix: "APIKEY" } },
      priority: 1,
    },
    cookie: { apiKey: { selector: {} }, credentials: { cookie: { name: "session" } } },
  };
  const response = compileResponse(undefined);
  const reason =
    '{"api-key":"credential not found","cookie":"credential not found","keycloak":"credential not found"}';
  assertEquals(response.deny("unauthenticated", reason, requestJson(), challenges(authentication)), {
    allow: false,
    status: 401,
    headers: {
      "WWW-Authenticate": 'Bearer realm="keycloak", APIKEY realm="api-key", session realm="cookie"',
      [REASON_HEADER]: reason,
    },
    body: "",
    reason,
  });
  assertEquals(response.deny("unauthorized", "not authorized: no RBAC policy matched", requestJson()), {
    allow: false,
    status: 403,
    headers: { [REASON_HEADER]: "not authorized: no RBAC policy matched" },
    body: "",
    reason: "not authorized: no RBAC policy matched",
  });
});

Deno.test("custom denial: code, message, headers and body from value, selector, template and expression", () => {
  const response = compileResponse({
    unauthorized: {
      code: 302,
      message: { expression: "'denied for ' + auth.identity.name" },
      headers: {
        Location: { selector: "https://login.example.com/?next={request.path}" },
        "X-Groups": { selector: "auth.identity.groups" },
        "X-Static": { value: 42 },
      },
      body: { expression: "{'user': auth.identity.name, 'n': 1}" },
    },
    unauthenticated: { message: { value: "Who are you?" } },
  });
  const json = requestJson({ path: "/mcp?x=1", identity: { name: "bob", groups: ["a", "b"] } });
  assertEquals(response.deny("unauthorized", "Unauthorized", json), {
    allow: false,
    status: 302,
    headers: {
      Location: "https://login.example.com/?next=/mcp?x=1",
      "X-Groups": '["a","b"]',
      "X-Static": "42",
      [REASON_HEADER]: "denied for bob",
    },
    body: '{"n":1,"user":"bob"}',
    reason: "denied for bob",
  });
  // Custom unauthenticated without headers keeps the challenges; the message replaces the reason.
  const deny = response.deny("unauthenticated", "credential not found", requestJson(), {
    "WWW-Authenticate": 'Bearer realm="k"',
  });
  assertEquals(deny.headers, { "WWW-Authenticate": 'Bearer realm="k"', [REASON_HEADER]: "Who are you?" });
});

Deno.test("success: plain, json, key, filters kept as metadata, when, priorities reading auth.response", async () => {
  const response = compileResponse({
    success: {
      headers: {
        "x-user": { plain: { selector: "auth.identity.name" } },
        "x-count": { plain: { expression: "size(auth.identity.groups) * 1000000" } },
        "x-static": { plain: { value: "Authorino" }, key: "x-auth-service" },
        "x-info": {
          json: { properties: { name: { selector: "auth.identity.name" }, "<b>": { value: true } } },
        },
        "x-admin": { when: [{ predicate: "'admin' in auth.identity.groups" }], plain: { value: "yes" } },
        "x-second": { priority: 1, plain: { selector: "auth.response.x-user" } },
      },
      filters: { "auth-data": { json: { properties: { groups: { selector: "auth.identity.groups" } } } } },
    },
  });
  const json = requestJson({ identity: { name: "bob", groups: ["a", "b"] } });
  const result = await response.success(json);
  assertEquals(result.headers, {
    "x-user": "bob",
    "x-count": "2e+06",
    "x-auth-service": "Authorino",
    "x-info": '{"\\u003cb\\u003e":true,"name":"bob"}',
    "x-second": "bob",
  });
  assertEquals(result.metadata, { "auth-data": { groups: ["a", "b"] } });
  assertEquals(result.failures, []);
  assertEquals(json.auth.response?.["auth-data"], { groups: ["a", "b"] });
});

Deno.test("user-based tool filter guide: the wristband verifies with the paired public key and carries the capabilities", async () => {
  const pool = new OpaPool({ opaPath: requireOpa() });
  const keys = ecKeys();
  try {
    const rules = rulesOf(TOOL_FILTER_GUIDE);
    const authorization = Object.entries(rules.authorization).map(([name, spec]) =>
      compileAuthorization(name, spec as Record<string, unknown>, { opa: pool }) as AuthorizationRule
    );
    const now = Date.UTC(2026, 10, 30, 12, 0, 0);
    const response = compileResponse(rules.response, {
      secrets: secrets([keySecret("trusted-headers-private-key", keys.privatePem)]),
      now: () => now,
    });
    assertEquals(response.wristbands, [{
      key: "x-mcp-authorized",
      issuer: "authorino",
      signingKeyRefs: [{ name: "trusted-headers-private-key", algorithm: "ES256" }],
      namespace: "kuadrant-system",
    }]);
    const json = requestJson({ identity: ACCOUNTING, headers: { "x-mcp-method": "tools/list" } });
    await authorize(authorization, json);
    const { headers, failures } = await response.success(json);
    assertEquals(failures, []);
    const token = headers["x-mcp-authorized"];
    assertEquals(decodeProtectedHeader(token), {
      alg: "ES256",
      kid: "trusted-headers-private-key",
      typ: "JWT",
    });
    const { payload } = await jwtVerify(token, await importSPKI(spki(keys.publicKey), "ES256"), {
      issuer: "authorino",
      currentDate: new Date(now),
    });
    const iat = now / 1000;
    assertEquals(payload, {
      iss: "authorino",
      iat,
      exp: iat + 300,
      sub: createHash("sha256").update(
        '{"preferred_username":"mcp","resource_access":{"mcp-ns/arithmetic-mcp-server":{"roles":["tool:add","tool:sum","tool:multiply","tool:divide","prompt:math_tutor"]},"mcp-ns/geometry-mcp-server":{"roles":["tool:area","tool:distance","tool:volume","prompt:calculate_area"]}},"sub":"f5c4a0e6-mcp"}',
      ).digest("hex"),
      "allowed-capabilities":
        '{"tools":{"mcp-ns/arithmetic-mcp-server":["add","sum","multiply","divide"],"mcp-ns/geometry-mcp-server":["area","distance","volume"]}}',
    });
    // Another key does not verify it.
    const other = ecKeys();
    const forged = await jwtVerify(token, await importSPKI(spki(other.publicKey), "ES256")).then(
      () => true,
      () => false,
    );
    assertEquals(forged, false);
  } finally {
    await pool.close();
  }
});

Deno.test("wristband: RS256 from an RSA PRIVATE KEY, custom claims, a rotated Secret signs with the new key", async () => {
  const first = rsaKeys();
  const list = [keySecret("rsa-key", first.privatePem)];
  const response = compileResponse({
    success: {
      headers: {
        wb: {
          wristband: {
            issuer: "https://authorino-oidc.kuadrant-system.svc:8083/ns/policy/wb",
            tokenDuration: 60,
            customClaims: { aud: { value: "internal" }, user: { expression: "auth.identity.name" } },
            signingKeyRefs: [{ name: "rsa-key", algorithm: "RS256" }, {
              name: "old-key",
              algorithm: "ES256",
            }],
          },
        },
      },
    },
  }, { secrets: secrets(list) });
  const json = requestJson({ identity: { name: "bob" } });
  const token = (await response.successHeaders(json)).wb;
  const { payload } = await jwtVerify(token, await importSPKI(spki(first.publicKey), "RS256"), {
    audience: "internal",
  });
  assertEquals([payload.user, payload.exp! - payload.iat!], ["bob", 60]);

  const second = rsaKeys();
  list[0] = keySecret("rsa-key", second.privatePem);
  const rotated = (await response.successHeaders(requestJson({ identity: { name: "bob" } }))).wb;
  await jwtVerify(rotated, await importSPKI(spki(second.publicKey), "RS256"));
});

Deno.test("wristband: a PKCS#8 key, a missing Secret, a curve that does not match: header left out, no key text in the reason", async () => {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const p384 = ecKeys("secp384r1").privatePem;
  const wristband = (name: string) => ({
    wristband: { issuer: "x", signingKeyRefs: [{ name, algorithm: "ES256" }] },
  });
  const response = compileResponse({
    success: {
      headers: {
        "x-pkcs8": wristband("pkcs8"),
        "x-missing": wristband("absent"),
        "x-p384": wristband("p384"),
        "x-ok": { plain: { value: "ok" } },
      },
    },
  }, {
    secrets: secrets([
      keySecret("pkcs8", pkcs8),
      keySecret("p384", p384),
      keySecret("absent", pkcs8, "other-ns"),
    ]),
  });
  const result = await response.success(requestJson({ identity: {} }));
  assertEquals(result.headers, { "x-ok": "ok" });
  const reasons = Object.fromEntries(result.failures.map((f) => [f.name, f.reason]));
  assert(/invalid signing key algorithm/.test(reasons["x-pkcs8"]), reasons["x-pkcs8"]);
  assertEquals(reasons["x-missing"], "signing key Secret kuadrant-system/absent not found");
  assert(/curve secp384r1 does not match ES256/.test(reasons["x-p384"]), reasons["x-p384"]);
  const body = (pem: string) => pem.split("\n")[1];
  for (const reason of Object.values(reasons)) {
    assert(!reason.includes(body(pkcs8)) && !reason.includes(body(p384)), "a reason carries key material");
  }
});

Deno.test("wristband: what cannot be built here is reported as unsupported with the reason", () => {
  const response = compileResponse({
    success: {
      headers: {
        a: { wristband: { issuer: "x", signingKeyRefs: [] } },
        b: { wristband: { issuer: "x", signingKeyRefs: [{ name: "k", algorithm: "HS256" }] } },
        c: { wristband: { issuer: "x", signingKeyRefs: [{ name: "k", algorithm: "ES256" }] } },
        d: {},
      },
    },
  });
  assertEquals(response.unsupported.map((u) => u.path), [
    "rules.response.success.headers.a",
    "rules.response.success.headers.b",
    "rules.response.success.headers.c",
    "rules.response.success.headers.d",
  ]);
});

Deno.test("goFormat: Go's %v of decoded JSON values", () => {
  assertEquals(
    [1, 123456, 1234567, 1e21, 0.0001, 0.00001, 1.5, -2e-7, 100].map(goFormat).join("|"),
    "1|123456|1.234567e+06|1e+21|0.0001|1e-05|1.5|-2e-07|100",
  );
  assertEquals(
    goFormat({ b: [1, "x", true, null], a: { z: 1e6 } }),
    "map[a:map[z:1e+06] b:[1 x true <nil>]]",
  );
});
