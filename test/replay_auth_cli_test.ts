/**
 * `simulate -f` with AuthPolicies (kuadrant.io/v1), through the real CLI against a real fixture MCP
 * server: the start-up table names each policy, its target, rules and where it applies; a policy
 * whose target does not exist is reported, not applied; an anonymous request gets the policy's own
 * 401; an apiKey from a Secret in the files gets through; editing the files applies within 2 s; and
 * the key never appears in the output.
 */

import { stringify } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { startFixture } from "./fixtures/mod.ts";
import { makeKey, startIssuer } from "./helpers/jwks_issuer.ts";
import {
  authPolicy,
  GATEWAY_NS,
  mcpExtension,
  registration as registrationObject,
  secret,
} from "./helpers/auth_objects.ts";

const NS = "mcp-test";
/** The apiKey in the Secret; it must appear in no output. */
const API_KEY = "ndyBzreUzF4zqDQsqSPMHkRhriEOtcRx";
const RESOURCE_METADATA =
  'Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"';

const extension = mcpExtension({}, { namespace: GATEWAY_NS, name: "mcp-gateway" });

const registration = registrationObject(NS, "weather", "weather-route");

const apiKeySecret = secret(
  // Beside Kuadrant's AuthConfigs, where Authorino looks (the policy's namespace does not matter).
  "kuadrant-system",
  "alice-key",
  {
    labels: { "authorino.kuadrant.io/managed-by": "authorino", app: "mcp-clients" },
    stringData: { api_key: API_KEY },
  },
);

/** The broker's listener `mcp` of the Gateway, as the policies below target it. */
const MCP_LISTENER = { kind: "Gateway", name: "mcp-gateway", sectionName: "mcp" };

/** On the MCP listener: API keys only, and the seed article's 401 for anyone without one. */
const gatewayPolicy = authPolicy(GATEWAY_NS, "mcp-auth", MCP_LISTENER, {
  rules: {
    authentication: {
      "api-key-users": {
        apiKey: { selector: { matchLabels: { app: "mcp-clients" } } },
        credentials: { authorizationHeader: { prefix: "APIKEY" } },
      },
    },
    response: {
      unauthenticated: {
        code: 401,
        headers: { "WWW-Authenticate": { value: RESOURCE_METADATA } },
        body: { value: "an API key is required" },
      },
    },
  },
});

/** On a route nobody has: reported at start-up, applied nowhere. */
const lostPolicy = authPolicy(NS, "lost", { kind: "HTTPRoute", name: "nowhere-route" }, {
  rules: { authorization: { "deny-all": { patternMatching: { patterns: [{ predicate: "false" }] } } } },
});

const initialize = (headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...headers,
  },
  body: JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  }),
});

async function write(file: string, objects: unknown[]): Promise<void> {
  await Deno.writeTextFile(file, objects.map((object) => stringify(object)).join("---\n"));
}

Deno.test("simulate -f applies AuthPolicies: the start-up table, the policy's own 401, an API key from a Secret, live edits", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "replay_auth_cli_test_" });
  try {
    const policies = `${dir}/policies.yaml`;
    await write(`${dir}/gateway.yaml`, [extension, registration, apiKeySecret]);
    await write(policies, [gatewayPolicy, lostPolicy]);
    await using sim = spawnCli([
      "simulate",
      "-f",
      dir,
      "--port",
      "0",
      "--upstream",
      `${NS}/weather=${weather.url}`,
    ]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 30_000);
    const output = () => `stdout:\n${sim.stdout}\nstderr:\n${sim.stderr}`;

    // The table: header, one row per policy, then the policy that applies nowhere and why.
    const lines = sim.stdout.split("\n");
    const header = lines.findIndex((line) => line.startsWith("AUTHPOLICY"));
    assert(header >= 0, output());
    assertEquals(lines[header].trim().split(/\s{2,}/), [
      "AUTHPOLICY",
      "TARGET",
      "PHASE",
      "RULES",
      "APPLIES TO",
    ]);
    const row = (name: string) => lines.find((line) => line.startsWith(`${name} `))?.trim().split(/\s{2,}/);
    assertEquals(row(`${GATEWAY_NS}/mcp-auth`), [
      `${GATEWAY_NS}/mcp-auth`,
      `Gateway ${GATEWAY_NS}/mcp-gateway listener mcp`,
      "rules",
      "authentication: api-key-users; response: unauthenticated",
      `broker, well-known, status, server ${NS}/weather`,
    ]);
    assertEquals(row(`${NS}/lost`), [
      `${NS}/lost`,
      `HTTPRoute ${NS}/nowhere-route`,
      "rules",
      "authorization: deny-all",
      "<none>",
    ]);
    assertMatch(sim.stdout, new RegExp(`${NS}/lost: not applied: .*HTTPRoute ${NS}/nowhere-route`));

    // Anonymous: the policy's 401, exactly as written.
    const anonymous = await fetch(url, initialize());
    assertEquals(anonymous.status, 401, output());
    assertEquals(anonymous.headers.get("www-authenticate"), RESOURCE_METADATA);
    assertEquals(await anonymous.text(), "an API key is required");
    const wrong = await fetch(url, initialize({ authorization: "APIKEY not-the-key" }));
    await wrong.body?.cancel();
    assertEquals(wrong.status, 401);

    // The Secret's key gets through to the broker.
    const allowed = await fetch(url, initialize({ authorization: `APIKEY ${API_KEY}` }));
    assertEquals(allowed.status, 200, `${await allowed.clone().text()}\n${output()}`);
    assertStringIncludes(await allowed.text(), '"serverInfo"');

    // Removing the policy from the files lets anonymous requests through within 2 s of the edit.
    const edited = performance.now();
    await write(policies, [lostPolicy]);
    let status = 0;
    while (performance.now() - edited < 2000) {
      const response = await fetch(url, initialize());
      await response.body?.cancel();
      status = response.status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assertEquals(status, 200, `not applied within 2 s of the edit\n${output()}`);
    await sim.waitFor(new RegExp(`authpolicy ${GATEWAY_NS}/mcp-auth removed`), 2000);

    // Back again: anonymous is refused again.
    await write(policies, [gatewayPolicy, lostPolicy]);
    await sim.waitFor(new RegExp(`authpolicy ${GATEWAY_NS}/mcp-auth added \\(applies to broker`), 5000);
    const again = await fetch(url, initialize());
    await again.body?.cancel();
    assertEquals(again.status, 401);

    assertEquals(await sim.interrupt(), 130);
    assert(!sim.stdout.includes(API_KEY) && !sim.stderr.includes(API_KEY), "the API key was printed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulate's AuthPolicy flags: refused values name the flag; help says why deny is the default", async () => {
  const bad = await runCli(["simulate", "-f", "/nonexistent", "--unsupported-rules", "maybe"]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, '"--unsupported-rules" flag: must be one of: deny, allow');
  const override = await runCli(["simulate", "-f", "/nonexistent", "--issuer-override", "idp.example.com"]);
  assertEquals(override.code, 2);
  assertStringIncludes(override.stderr, "--issuer-override");
  const help = await runCli(["simulate", "--help"]);
  assertEquals(help.code, 0);
  for (const flag of ["--unsupported-rules", "--issuer-override", "--opa"]) {
    assertStringIncludes(help.stdout, flag);
  }
  assertStringIncludes(help.stdout, "the cluster evaluates that rule");
});

Deno.test("simulate --issuer-override fetches an unreachable issuer's keys from another: its tokens get in, others do not", async () => {
  await using weather = await startFixture("weather");
  await using issuer = await startIssuer();
  // The policy names an issuer this machine cannot reach; the override points it at the local one.
  const written = "https://idp.example.invalid/realms/mcp";
  issuer.doc.issuer = written;
  const dir = await Deno.makeTempDir({ prefix: "replay_auth_cli_test_" });
  try {
    await write(`${dir}/all.yaml`, [
      extension,
      registration,
      authPolicy(GATEWAY_NS, "jwt-auth", MCP_LISTENER, {
        rules: { authentication: { idp: { jwt: { issuerUrl: written } } } },
      }),
    ]);
    await using sim = spawnCli([
      "simulate",
      "-f",
      dir,
      "--port",
      "0",
      "--upstream",
      `${NS}/weather=${weather.url}`,
      "--issuer-override",
      `${written}=${issuer.url}`,
    ]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 30_000);
    const token = await issuer.sign({ iss: written });
    const allowed = await fetch(url, initialize({ authorization: `Bearer ${token}` }));
    assertEquals(allowed.status, 200, `${await allowed.clone().text()}\n${sim.stdout}\n${sim.stderr}`);
    await allowed.body?.cancel();
    assert(issuer.hits.discovery > 0, "the discovery document was not fetched from the override");
    const forged = await issuer.sign({ iss: written }, { key: await makeKey("k1") });
    for (const headers of [{}, { authorization: `Bearer ${forged}` }] as Record<string, string>[]) {
      const refused = await fetch(url, initialize(headers));
      await refused.body?.cancel();
      assertEquals(refused.status, 401);
    }
    assertEquals(await sim.interrupt(), 130);
    assert(!sim.stdout.includes(token) && !sim.stderr.includes(token), "the token was printed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an opa rule without the opa binary: reported at start-up; --unsupported-rules deny (default) refuses, allow lets through", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "replay_auth_cli_test_" });
  try {
    await write(`${dir}/all.yaml`, [
      extension,
      registration,
      authPolicy(GATEWAY_NS, "rego", MCP_LISTENER, {
        rules: { authorization: { "allow-all": { opa: { rego: "allow = true" } } } },
      }),
    ]);
    const statuses: Record<string, number> = {};
    for (const decision of ["deny", "allow", undefined]) {
      await using sim = spawnCli([
        "simulate",
        "-f",
        dir,
        "--port",
        "0",
        "--upstream",
        `${NS}/weather=${weather.url}`,
        // A path that is no binary: the rule cannot be evaluated, whatever is on PATH.
        "--opa",
        `${dir}/no-opa-here`,
        ...(decision ? ["--unsupported-rules", decision] : []),
      ]);
      const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 30_000);
      assertMatch(
        sim.stdout,
        new RegExp(
          `unsupported: ${GATEWAY_NS}/rego rules\\.authorization\\.allow-all \\(broker, [^)]*\\): .*opa`,
        ),
      );
      const response = await fetch(url, initialize());
      await response.body?.cancel();
      statuses[decision ?? "default"] = response.status;
      assertEquals(await sim.interrupt(), 130);
    }
    assertEquals(statuses, { deny: 403, allow: 200, default: 403 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
