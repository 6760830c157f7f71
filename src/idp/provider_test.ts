import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { assert, assertEquals, assertRejects } from "../../test/helpers/assert.ts";
import { DEV_TOKEN_ENDPOINT_FIELD } from "./endpoints.ts";
import { startDevIdp } from "./provider.ts";
import { IdpError } from "./errors.ts";

const RESOURCE = "http://127.0.0.1:8080/mcp";
const ROLES = { "ns/weather": { roles: ["tool:search"] } };

Deno.test("dev idp: discovery names code + PKCE, client credentials, registration and the dev token endpoint", async () => {
  await using idp = await startDevIdp({ users: { alice: { resource_access: ROLES } } });
  const doc = await (await fetch(idp.discoveryUrl)).json();
  assertEquals(doc.issuer, idp.issuer);
  assertEquals(doc.jwks_uri, idp.jwksUri);
  assertEquals(doc[DEV_TOKEN_ENDPOINT_FIELD], idp.devTokenEndpoint);
  assertEquals(doc.code_challenge_methods_supported, ["S256"]);
  assertEquals(doc.response_types_supported, ["code"]);
  for (const grant of ["authorization_code", "client_credentials"]) {
    assert(doc.grant_types_supported.includes(grant));
  }
  assertEquals(doc.registration_endpoint, `${idp.issuer}/reg`);
});

Deno.test("dev idp: a minted token is an RS256 JWT of the provider's keys for the resource, with the user's claims", async () => {
  await using idp = await startDevIdp({ users: { alice: { resource_access: ROLES } }, accessTokenTtl: 600 });
  const res = await fetch(idp.devTokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "alice", resource: RESOURCE }),
  });
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals([body.token_type, body.expires_in], ["Bearer", 600]);
  const { payload } = await jwtVerify(body.access_token, createRemoteJWKSet(new URL(idp.jwksUri)), {
    issuer: idp.issuer,
    audience: RESOURCE,
  });
  assertEquals([payload.sub, payload.resource_access, payload.exp! - payload.iat!], ["alice", ROLES, 600]);
  assertEquals(decodeProtectedHeader(body.access_token).typ, "at+jwt");
  // Claims of anybody: a what-if identity.
  const what = decodeJwt(await idp.mint({ claims: { sub: "dave", groups: ["x"] }, resource: RESOURCE }));
  assertEquals([what.sub, what.groups], ["dave", ["x"]]);
  await assertRejects(() => idp.mint({ claims: { exp: 1 }, resource: RESOURCE }), Error, "claims.exp");
  await assertRejects(() => idp.mint({ user: "alice", resource: "ftp://x" }), IdpError, "resource");
  await assertRejects(() => idp.mint({ user: "nobody", resource: RESOURCE }), IdpError, 'no user "nobody"');
});

Deno.test("dev idp: the dev token endpoint takes JSON only and refuses what it cannot mint", async () => {
  await using idp = await startDevIdp({ users: { alice: {} } });
  const post = (body: string, type = "application/json") =>
    fetch(idp.devTokenEndpoint, { method: "POST", headers: { "content-type": type }, body });
  const form = await post("user=alice&resource=http://127.0.0.1/mcp", "application/x-www-form-urlencoded");
  assertEquals([form.status, (await form.json()).error], [400, "invalid_request"]);
  const unknown = await post(JSON.stringify({ user: "bob", resource: RESOURCE }));
  assertEquals([unknown.status, (await unknown.json()).users], [404, ["alice"]]);
  const both = await post(JSON.stringify({ user: "alice", claims: {}, resource: RESOURCE }));
  assertEquals(both.status, 400);
  await both.body?.cancel();
  const get = await fetch(idp.devTokenEndpoint);
  assertEquals(get.status, 405);
  await get.body?.cancel();
});

Deno.test("dev idp: client credentials and dynamic registration give a JWT for the resource indicator", async () => {
  await using idp = await startDevIdp({ users: { alice: {} } });
  const reg = await fetch(`${idp.issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "robot",
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
    }),
  });
  assertEquals(reg.status, 201);
  const client = await reg.json();
  // A browser client registers from its own origin.
  const preflight = await fetch(`${idp.issuer}/reg`, {
    method: "OPTIONS",
    headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" },
  });
  await preflight.body?.cancel();
  assertEquals(
    [preflight.status, preflight.headers.get("access-control-allow-origin")],
    [204, "http://localhost:6274"],
  );
  const res = await fetch(`${idp.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: RESOURCE, scope: "basic" }),
  });
  const body = await res.json();
  assertEquals(res.status, 200, JSON.stringify(body));
  const claims = decodeJwt(body.access_token);
  assertEquals([claims.iss, claims.aud, claims.client_id], [idp.issuer, RESOURCE, client.client_id]);
});
