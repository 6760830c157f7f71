/**
 * OAuth for MCP through the simulator against a real OIDC provider (npm `oidc-provider` on
 * loopback): the MCP SDK client's own flow (401 with `resource_metadata`, RFC 9728 metadata,
 * authorization server discovery, dynamic client registration, authorization code with PKCE, RFC
 * 8707 resource), then the policies of the seed article and of upstream's authentication,
 * authorization and user-based-tool-filter guides as written (issuer and public host swapped for
 * loopback ones): each user lists the tools its `resource_access` roles name (the wristband the
 * policy signs, verified by the broker with the extension's trustedHeadersKey), and a call outside
 * its roles gets the guide's 403.
 */
import { generateKeyPairSync } from "node:crypto";
import { decodeJwt, generateKeyPair, SignJWT } from "jose";
import { parse } from "yaml";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./helpers/assert.ts";
import { LoginOAuthClient, oauthConnect } from "./helpers/oauth_client.ts";
import { AUTHORIZATION_GUIDE, SEED_ARTICLE_POLICY, TOOL_FILTER_GUIDE } from "./helpers/auth_guides.ts";
import { requireOpa } from "./helpers/opa.ts";
import { startFixture } from "./fixtures/mod.ts";
import { type OidcProvider, startOidcProvider } from "./fixtures/oidc.ts";
import { configFromObjects } from "../sim/config.ts";
import { startGateway } from "../sim/gateway.ts";
import { AuthPolicyGate } from "../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../sim/auth/auth_policy.ts";
import type { EngineContext } from "../sim/auth/engine.ts";
import { OpaPool } from "../sim/auth/opa.ts";
import type { SecretObject } from "../sim/auth/types.ts";
import { mcpExtension, mcpGateway, mcpServer, secret } from "./helpers/auth_objects.ts";

const MCP_NS = "mcp-system";
const NS = "mcp-test";

/** Roles as the guides' Keycloak realm gives them: per server (`ns/registration`), `tool:` and `prompt:`. */
const USERS = [
  {
    id: "alice",
    claims: {
      resource_access: {
        [`${NS}/weather`]: { roles: ["tool:search", "prompt:forecast_summary"] },
        [`${NS}/github`]: { roles: ["tool:search"] },
      },
    },
  },
  {
    id: "bob",
    claims: { resource_access: { [`${NS}/github`]: { roles: ["tool:get_issue", "tool:create_issue"] } } },
  },
  { id: "carol", claims: {} },
];

/** A port free now, for a gateway whose URL the policies must name before it starts. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * An AuthPolicy as a guide writes it, with its identity provider and the gateway's public address
 * swapped for the loopback ones: nothing else changes.
 */
function asWritten(yaml: string, issuer: string, gateway: string): unknown {
  const swapped = yaml
    .replaceAll(/https?:\/\/keycloak[^\s/]*\/realms\/mcp/g, issuer)
    .replaceAll(/https?:\/\/mcp\.(example\.com|127-0-0-1\.sslip\.io:8001)/g, gateway);
  return parse(swapped);
}

const FORBIDDEN_TOOL_BODY =
  '{\n  "error": "Forbidden",\n  "message": "MCP Access denied: Insufficient permissions."\n}\n';

/**
 * The cluster objects, as the guides set them up: the extension (trustedHeadersKey, the protected
 * resource naming the provider), the key pair's Secrets, the Gateway with the broker's listener
 * `mcp` and the servers' `mcps`, the servers' routes and registrations, a virtual server.
 */
function clusterObjects(issuer: string, gateway: string) {
  // As the guide's `openssl ecparam -name prime256v1 -genkey` and `openssl ec -pubout`: SEC1 and SPKI PEM.
  const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicPem = keys.publicKey.export({ format: "pem", type: "spki" }) as string;
  const privatePem = keys.privateKey.export({ format: "pem", type: "sec1" }) as string;
  const objects = [
    mcpExtension({
      trustedHeadersKey: { secretName: "trusted-headers-public-key" },
      oauthProtectedResource: {
        resourceName: "MCP Server",
        resource: `${gateway}/mcp`,
        authorizationServers: [issuer],
        bearerMethodsSupported: ["header"],
        scopesSupported: ["basic"],
      },
    }, { namespace: MCP_NS, name: "mcp-gateway-extension" }),
    secret(MCP_NS, "trusted-headers-public-key", { data: { key: btoa(publicPem) } }),
    mcpGateway("127.0.0.1", { serversListener: true }),
    ...mcpServer(NS, "weather", "weather_"),
    ...mcpServer(NS, "github", "github_"),
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPVirtualServer",
      metadata: { namespace: NS, name: "search-only" },
      spec: { tools: ["weather_search", "github_search", "github_get_issue"] },
    },
  ];
  // Authorino's signing key, as `kubectl create secret generic ... --from-file=key.pem=` in kuadrant-system.
  const secrets: SecretObject[] = [{
    namespace: "kuadrant-system",
    name: "trusted-headers-private-key",
    labels: {},
    annotations: {},
    data: { "key.pem": privatePem },
  }];
  return { objects, secrets };
}

/** The IdP, the two fixture servers and the gateway with `policies` (built for the gateway's URL). */
async function setup(policies: (issuer: string, gateway: string) => unknown[]) {
  const idp = await startOidcProvider({ users: USERS });
  const weather = await startFixture("weather");
  const github = await startFixture("github");
  const port = freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const { objects, secrets } = clusterObjects(idp.issuer, gateway);
  const config = configFromObjects(objects, { [`${NS}/weather`]: weather.url, [`${NS}/github`]: github.url });
  // One OPA for the rego rules, stopped with the rest.
  const opa = new OpaPool({ opaPath: requireOpa() });
  const context: EngineContext = { secrets: { list: () => secrets }, unsupportedRules: "deny", opa };
  const gate = new AuthPolicyGate({
    policies: policies(idp.issuer, gateway),
    targets: policyTargetsFromObjects(objects),
    context,
  });
  const gw = await startGateway(config, { policy: gate, port });
  idp.defaultResource = gw.url;
  return {
    idp,
    gw,
    gate,
    async [Symbol.asyncDispose]() {
      await gw.close();
      await Promise.all([weather.close(), github.close(), idp.close(), opa.close()]);
    },
  };
}

/** The SDK's OAuth client whose "browser" logs in as `user` at the provider. */
class TestOAuthClient extends LoginOAuthClient {
  constructor(readonly idp: OidcProvider, readonly user: string) {
    super((url) => idp.browse(url, user), "sim-oauth-test");
  }
}

const names = (items: { name: string }[]) => items.map((t) => t.name).sort();

Deno.test("OAuth: the SDK client's own flow through the seed article's policy, against a real provider", async () => {
  await using s = await setup((issuer, gateway) => [asWritten(SEED_ARTICLE_POLICY, issuer, gateway)]);
  const url = s.gw.url;

  // Unauthenticated: the article's 401, header and body as written.
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
    }),
  });
  assertEquals(res.status, 401);
  assertEquals(
    res.headers.get("www-authenticate"),
    `Bearer resource_metadata=${new URL(url).origin}/.well-known/oauth-protected-resource/mcp`,
  );
  assertEquals(
    await res.text(),
    '{\n  "error": "Unauthorized",\n  "message": "Authentication required."\n}\n',
  );

  // RFC 9728 metadata, outside the policy (its `when`), at the root and with the /mcp suffix.
  for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
    const meta = await fetch(new URL(path, url));
    assertEquals(meta.status, 200, path);
    assertEquals(await meta.json(), {
      resource_name: "MCP Server",
      resource: url,
      authorization_servers: [s.idp.issuer],
      bearer_methods_supported: ["header"],
      scopes_supported: ["basic"],
    });
  }

  const oauth = new TestOAuthClient(s.idp, "alice");
  await using c = await oauthConnect(url, oauth);
  // The SDK discovered, registered itself, and asked with PKCE for this resource.
  const [authorization] = oauth.authorizationUrls;
  assertEquals(authorization.searchParams.get("resource"), url);
  assertEquals(authorization.searchParams.get("code_challenge_method"), "S256");
  assert(authorization.searchParams.get("client_id") !== "test-client", "a dynamically registered client");
  assert(s.idp.requests.includes("POST /reg"), "dynamic client registration");
  const token = decodeJwt((await oauth.tokens())!.access_token);
  assertEquals([token.sub, token.aud, token.iss], ["alice", url, s.idp.issuer]);
  // Authenticated: no wristband in this policy, so every tool.
  assertEquals(names((await c.client.listTools()).tools), [
    "discover_tools",
    "github_create_issue",
    "github_delete_issue",
    "github_get_issue",
    "github_search",
    "select_tools",
    "weather_get_forecast",
    "weather_search",
  ]);
  const call = await c.client.callTool({ name: "weather_search", arguments: { query: "rain" } });
  assert(!call.isError, JSON.stringify(call));

  // This policy signs no wristband, so the client's own x-mcp-authorized reaches the broker: forged, it lists nothing.
  const other = await generateKeyPair("ES256");
  const forged = await new SignJWT({
    "allowed-capabilities": JSON.stringify({ tools: { [`${NS}/weather`]: ["search", "get_forecast"] } }),
  })
    .setProtectedHeader({ alg: "ES256" }).setExpirationTime("5m").sign(other.privateKey);
  await using bob = await oauthConnect(url, new TestOAuthClient(s.idp, "bob"), {
    "x-mcp-authorized": forged,
  });
  assertEquals((await bob.client.listTools()).tools, []);
});

Deno.test("OAuth: the guides' policies: each identity lists its roles' tools (wristband) and gets 403 outside them", async () => {
  await using s = await setup((issuer, gateway) => [
    asWritten(TOOL_FILTER_GUIDE, issuer, gateway),
    asWritten(AUTHORIZATION_GUIDE, issuer, gateway),
  ]);
  const url = s.gw.url;
  assertEquals(s.gate.summary.problems, []);
  assertEquals(s.gate.summary.unsupported, []);

  {
    await using alice = await oauthConnect(url, new TestOAuthClient(s.idp, "alice"));
    assertEquals(names((await alice.client.listTools()).tools), ["github_search", "weather_search"]);
    const ok = await alice.client.callTool({ name: "github_search", arguments: { query: "bug" } });
    assert(!ok.isError, JSON.stringify(ok));
    // A tool outside her roles: the authorization guide's 403, body as written.
    const err = await assertRejects(() =>
      alice.client.callTool({ name: "github_get_issue", arguments: { number: 1 } })
    );
    assertEquals((err as { code?: number }).code, 403);
    assertStringIncludes(err.message, FORBIDDEN_TOOL_BODY);
    // The tool-filter guide allows only tools/list, initialize and notifications/initialized at the broker.
    const prompts = await assertRejects(() => alice.client.listPrompts());
    assertEquals((prompts as { code?: number }).code, 403);
    assertStringIncludes(prompts.message, '"message": "Access denied."');
  }
  {
    await using bob = await oauthConnect(url, new TestOAuthClient(s.idp, "bob"));
    assertEquals(names((await bob.client.listTools()).tools), ["github_create_issue", "github_get_issue"]);
    const ok = await bob.client.callTool({ name: "github_create_issue", arguments: { title: "flaky test" } });
    assert(!ok.isError, JSON.stringify(ok));
    const err = await assertRejects(() =>
      bob.client.callTool({ name: "weather_search", arguments: { query: "x" } })
    );
    assertStringIncludes(err.message, "MCP Access denied: Insufficient permissions.");
  }
  {
    // Step 2 of the broker's filter: the virtual server narrows the wristband's list.
    const headers = { "x-mcp-virtualserver": `${NS}/search-only` };
    await using bob = await oauthConnect(url, new TestOAuthClient(s.idp, "bob"), headers);
    assertEquals(names((await bob.client.listTools()).tools), ["github_get_issue"]);
  }
  {
    // No roles at all: an empty list, and any call refused.
    await using carol = await oauthConnect(url, new TestOAuthClient(s.idp, "carol"));
    assertEquals((await carol.client.listTools()).tools, []);
    const err = await assertRejects(() =>
      carol.client.callTool({ name: "weather_search", arguments: { query: "x" } })
    );
    assertEquals((err as { code?: number }).code, 403);
  }
});

Deno.test("OAuth: a wristband the client forges or replays from another user never widens its list", async () => {
  await using s = await setup((issuer, gateway) => [
    asWritten(TOOL_FILTER_GUIDE, issuer, gateway),
    asWritten(AUTHORIZATION_GUIDE, issuer, gateway),
  ]);
  const other = await generateKeyPair("ES256");
  const forged = await new SignJWT({
    "allowed-capabilities": JSON.stringify({ tools: { [`${NS}/weather`]: ["search", "get_forecast"] } }),
  }).setProtectedHeader({ alg: "ES256" }).setExpirationTime("5m").sign(other.privateKey);
  // The policy's own wristband replaces what the client sent: bob still sees bob's tools.
  await using bob = await oauthConnect(s.gw.url, new TestOAuthClient(s.idp, "bob"), {
    "x-mcp-authorized": forged,
  });
  assertEquals(names((await bob.client.listTools()).tools), ["github_create_issue", "github_get_issue"]);
});
