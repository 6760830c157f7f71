/**
 * `simulate -f` with RateLimitPolicies (kuadrant.io/v1), through the real CLI against a real fixture
 * MCP server: the start-up table names each policy, its target, limits and where it applies; a policy
 * whose target does not exist is reported, not applied; the request over the limit gets the
 * wasm-shim's 429 while the others pass; editing the files applies within 2 s, with a change line.
 */

import { stringify } from "yaml";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { spawnCli } from "./helpers/cli.ts";
import { startFixture } from "./fixtures/mod.ts";

const NS = "mcp-test";
const GATEWAY_NS = "gateway-system";

const extension = {
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPGatewayExtension",
  metadata: { name: "mcp-gateway", namespace: GATEWAY_NS },
  spec: {
    targetRef: {
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: "mcp-gateway",
      namespace: GATEWAY_NS,
      sectionName: "mcp",
    },
  },
};

const registration = {
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPServerRegistration",
  metadata: { name: "weather", namespace: NS },
  spec: {
    prefix: "weather_",
    targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "weather-route" },
  },
};

/** At most `limit` initializes a minute on the MCP listener; other methods are not counted. */
const gatewayLimits = (limit: number) => ({
  apiVersion: "kuadrant.io/v1",
  kind: "RateLimitPolicy",
  metadata: { name: "mcp-limits", namespace: GATEWAY_NS },
  spec: {
    targetRef: {
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: "mcp-gateway",
      sectionName: "mcp",
    },
    limits: {
      initialize: {
        when: [{ predicate: "request.headers['x-mcp-method'] == 'initialize'" }],
        rates: [{ limit, window: "1m" }],
      },
    },
  },
});

/** On a route nobody has: reported at start-up, applied nowhere. */
const lostLimits = {
  apiVersion: "kuadrant.io/v1",
  kind: "RateLimitPolicy",
  metadata: { name: "lost", namespace: NS },
  spec: {
    targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "nowhere-route" },
    limits: { none: { rates: [{ limit: 0, window: "1s" }] } },
  },
};

const initialize = () => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
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

async function status(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, initialize());
  return { status: response.status, body: await response.text() };
}

Deno.test("simulate -f applies RateLimitPolicies: the start-up table, the 429 over the limit, live edits", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "replay_ratelimit_cli_test_" });
  try {
    const policies = `${dir}/policies.yaml`;
    await write(`${dir}/gateway.yaml`, [extension, registration]);
    await write(policies, [gatewayLimits(2), lostLimits]);
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

    const lines = sim.stdout.split("\n");
    const header = lines.findIndex((line) => line.startsWith("RATELIMITPOLICY"));
    assert(header >= 0, output());
    assertEquals(lines[header].trim().split(/\s{2,}/), [
      "RATELIMITPOLICY",
      "TARGET",
      "PHASE",
      "LIMITS",
      "APPLIES TO",
    ]);
    const row = (name: string) =>
      lines.slice(header).find((line) => line.startsWith(`${name} `))?.trim().split(/\s{2,}/);
    assertEquals(row(`${GATEWAY_NS}/mcp-limits`), [
      `${GATEWAY_NS}/mcp-limits`,
      `Gateway ${GATEWAY_NS}/mcp-gateway listener mcp`,
      "limits",
      "initialize: 2/1m",
      `broker, well-known, status, server ${NS}/weather`,
    ], output());
    assertEquals(row(`${NS}/lost`)?.slice(0, 2), [`${NS}/lost`, `HTTPRoute ${NS}/nowhere-route`], output());
    assertMatch(sim.stdout, new RegExp(`${NS}/lost: not applied: .*nowhere-route`));

    // Two initializes pass; the third is the wasm-shim's 429.
    assertEquals((await status(url)).status, 200, output());
    assertEquals((await status(url)).status, 200, output());
    assertEquals(await status(url), { status: 429, body: "Too Many Requests\n" }, output());

    // A raised limit in the files applies within 2 s of the edit, with a change line.
    const edited = performance.now();
    await write(policies, [gatewayLimits(100), lostLimits]);
    let last = 0;
    while (performance.now() - edited < 2000) {
      last = (await status(url)).status;
      if (last === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assertEquals(last, 200, `not applied within 2 s of the edit\n${output()}`);
    await sim.waitFor(
      new RegExp(`ratelimitpolicy ${GATEWAY_NS}/mcp-limits changed \\(applies to broker`),
      2000,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
