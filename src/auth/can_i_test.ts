/**
 * `canI` against a real gateway and gate in process: the authorization guide's policy on the
 * servers' listener, a real issuer's tokens, and the weather fixture (tools and a prompt).
 */
import { parse } from "yaml";
import { assert, assertEquals, assertStringIncludes } from "../../test/helpers/assert.ts";
import { AUTHORIZATION_GUIDE } from "../../test/helpers/auth_guides.ts";
import { mcpExtension, mcpGateway, mcpServer } from "../../test/helpers/auth_objects.ts";
import { startIssuer } from "../../test/helpers/jwks_issuer.ts";
import { startFixture } from "../../test/fixtures/mod.ts";
import { configFromObjects, startGateway } from "../../sim/mod.ts";
import { AuthPolicyGate } from "../../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../../sim/auth/auth_policy.ts";
import { JwksCache } from "../../sim/auth/jwks.ts";
import { canI, type CanIGateway, formatAnswer } from "./can_i.ts";

const NS = "mcp-test";

Deno.test("canI: get-prompt by the prompt rule, an unknown tool is the router's, a meta-tool stays on the broker", async () => {
  await using issuer = await startIssuer();
  await using weather = await startFixture("weather");
  const gateway = mcpGateway("127.0.0.1");
  gateway.spec.listeners.push({ name: "mcps", hostname: "*.mcp.local", port: 8080, protocol: "HTTP" });
  const objects = [
    mcpExtension(),
    gateway,
    ...mcpServer(NS, "weather", "weather_"),
    parse(AUTHORIZATION_GUIDE.replaceAll(/https?:\/\/keycloak[^\s/]*\/realms\/mcp/g, issuer.url)),
  ];
  const gate = new AuthPolicyGate({
    policies: objects,
    targets: policyTargetsFromObjects(objects),
    context: { secrets: { list: () => [] }, unsupportedRules: "deny", jwks: new JwksCache() },
  });
  await using gw = await startGateway(configFromObjects(objects, { [`${NS}/weather`]: weather.url }), {
    policy: gate,
  });
  try {
    const ask: CanIGateway = {
      url: gw.url,
      gate,
      config: gw.gateway.config,
      catalog: gw.gateway.catalog,
      metaTools: (await gw.status()).metaTools,
    };
    const token = await issuer.sign({
      resource_access: { [`${NS}/weather`]: { roles: ["prompt:forecast_summary", "tool:search"] } },
    });
    const prompt = await canI(ask, { token }, { verb: "get-prompt", name: "weather_forecast_summary" });
    assert(prompt.allowed, formatAnswer(prompt));
    assertEquals(prompt.server, `${NS}/weather`);
    assertEquals(prompt.decidedBy.where, `server ${NS}/weather`);
    assertEquals(prompt.decidedBy.rules?.map((r) => [r.name, r.result]), [
      ["prompt-access-check", "passed"],
      ["tool-access-check", "skipped"],
    ]);

    const other = await issuer.sign({ resource_access: { [`${NS}/weather`]: { roles: ["tool:search"] } } });
    const refused = await canI(ask, { token: other }, {
      verb: "get-prompt",
      name: "weather_forecast_summary",
    });
    assertEquals(refused.allowed, false);
    assertEquals(refused.decidedBy.rule, "prompt-access-check");
    assertEquals(refused.decidedBy.status, 403);
    assertStringIncludes(
      refused.decidedBy.predicate ?? "",
      "('prompt:' + request.headers['x-mcp-promptname'])",
    );

    // No server has it: the router's answer, no policy asked (the session is the broker's, no policy there).
    const unknown = await canI(ask, { token }, { verb: "call", name: "nowhere_tool" });
    assertEquals(unknown.allowed, false);
    assertEquals(unknown.decidedBy.where, "router");
    assertEquals(unknown.decidedBy.policies, []);
    assertEquals(unknown.steps.map((s) => [s.request, s.allowed]), [
      ["initialize", true],
      ["notifications/initialized", true],
      ["tools/call nowhere_tool", false],
    ]);

    // A meta-tool goes to the broker, where no policy applies here.
    const meta = await canI(ask, {}, { verb: "call", name: ask.metaTools[0] });
    assert(meta.allowed, formatAnswer(meta));
    assertEquals(meta.decidedBy.where, "broker");

    // No wristband policy: every tool is in the list, and the call is what the rule says.
    const list = await canI(ask, { token }, { verb: "list", name: "tools" });
    assert(list.allowed);
    assert(list.tools?.every((t) => t.listed), JSON.stringify(list.tools));
    assertStringIncludes(formatAnswer(list), "tools/list shows weather_get_forecast, weather_search");
  } finally {
    await gate.close();
  }
});
