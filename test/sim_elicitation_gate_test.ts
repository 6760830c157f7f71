/**
 * URL elicitation behind a real AuthPolicy: the gate (`sim/auth/gate.ts`) evaluates a `jwt`
 * AuthPolicy on the Gateway against a loopback OIDC issuer, for `/mcp` and for the `/tokens` page
 * (the controller's tokens route), so the entry's `sub` and the page's `sub` are both verified.
 */
import { assertEquals } from "./helpers/assert.ts";
import { startIssuer } from "./helpers/jwks_issuer.ts";
import { AuthPolicyGate } from "../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../sim/auth/auth_policy.ts";
import { startGateway } from "../sim/mod.ts";
import { authPolicy, GATEWAY_NS, mcpExtension, mcpGateway, mcpServer } from "./helpers/auth_objects.ts";
import {
  BROKER_CREDENTIAL,
  elicitation,
  elicitationConfig,
  elicitingClient,
  enterToken,
  tokenServer,
  whoami,
} from "./helpers/elicitation.ts";

Deno.test("URL elicitation through the AuthPolicy gate: a jwt AuthPolicy on the Gateway binds /tokens to the verified sub", async () => {
  await using issuer = await startIssuer();
  const accepted = new Set([BROKER_CREDENTIAL]);
  await using upstream = await tokenServer(accepted);
  const objects = [
    mcpExtension({ urlElicitation: "Enabled" }),
    mcpGateway(),
    ...mcpServer("team", "github", "gh_", { tokenURLElicitation: {} }),
  ];
  const policy = authPolicy(GATEWAY_NS, "oidc", { kind: "Gateway", name: "mcp-gateway" }, {
    rules: { authentication: { oidc: { jwt: { issuerUrl: issuer.url } } } },
  });
  const gate = new AuthPolicyGate({
    policies: [policy],
    targets: policyTargetsFromObjects(objects, { tokens: true }),
    context: { secrets: { list: () => [] }, unsupportedRules: "deny" },
  });
  assertEquals(gate.summary.problems, []);
  await using gw = await startGateway(
    elicitationConfig(upstream.url),
    { policy: gate },
  );
  const origin = new URL(gw.url).origin;
  const alice = await issuer.sign({ sub: "alice" });
  const bob = await issuer.sign({ sub: "bob" });
  await using c = await elicitingClient(gw.url, alice);
  const e = await elicitation(c.client);

  // The page is behind the policy: no token, no page.
  const anonymous = await fetch(e.url);
  await anonymous.body?.cancel();
  assertEquals(anonymous.status, 401);
  // Bob passes the policy but is not the user the entry was made for.
  const bobs = await enterToken(origin, e.url, "Bearer bob-token", bob);
  assertEquals(bobs, { status: 403, body: '{"error":"identity mismatch"}\n' });
  // Alice, through the same policy, on a fresh elicitation.
  const again = await elicitation(c.client);
  assertEquals((await enterToken(origin, again.url, "Bearer alice-gh-token", alice)).status, 200);
  accepted.add("Bearer alice-gh-token");
  assertEquals(
    whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })),
    "Bearer alice-gh-token",
  );
});
