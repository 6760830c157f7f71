/**
 * `simulate -f` with RateLimitPolicies (kuadrant.io/v1), through the real CLI against a real fixture
 * MCP server: the start-up table names each policy, its target, limits and where it applies; a policy
 * whose target does not exist is reported, not applied; the request over the limit gets the
 * wasm-shim's 429 while the others pass; editing the files applies within 2 s, with a change line.
 * `tools -o wide` and `--explain` name the limits a call of each tool counts against.
 */

import { stringify } from "yaml";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
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

/** One tool's limit, one per user on every call of the server, and one only some calls meet. */
const toolLimits = {
  apiVersion: "kuadrant.io/v1",
  kind: "RateLimitPolicy",
  metadata: { name: "tool-limits", namespace: GATEWAY_NS },
  spec: {
    targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "mcp-gateway" },
    limits: {
      forecasts: {
        when: [
          { predicate: "request.headers['x-mcp-method'] == 'tools/call'" },
          { predicate: "request.headers['x-mcp-toolname'] == 'get_forecast'" },
        ],
        rates: [{ limit: 5, window: "1m" }],
      },
      "per-server": {
        when: [{ predicate: "request.headers['x-mcp-servername'] == 'mcp-test/weather'" }],
        counters: [{ expression: "request.headers['x-user']" }],
        rates: [{ limit: 100, window: "1h" }],
      },
      "alice-only": {
        when: [{ predicate: "auth.identity.sub == 'alice'" }],
        rates: [{ limit: 1, window: "10s" }],
      },
      "not-tools": {
        when: [{ predicate: "request.headers['x-mcp-method'] == 'prompts/get'" }],
        rates: [{ limit: 1, window: "10s" }],
      },
    },
  },
};

Deno.test("tools -o wide and --explain name the RateLimitPolicy limits a call of each tool counts against", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "replay_ratelimit_cli_test_" });
  try {
    await write(`${dir}/gateway.yaml`, [extension, registration, toolLimits]);
    const flags = ["-f", dir, "--upstream", `${NS}/weather=${weather.url}`];
    const wide = await runCli(["tools", "-o", "wide", ...flags]);
    assertEquals(wide.code, 0, wide.stderr);
    const lines = wide.stdout.split("\n");
    const header = lines[0].trim().split(/\s{2,}/);
    assertEquals(header, ["NAME", "SERVER", "PARAMETERS", "TOKENS", "LIMITS", "DESCRIPTION"], wide.stdout);
    const cell = (tool: string) => {
      const line = lines.find((l) => l.startsWith(`${tool} `));
      assert(line, wide.stdout);
      const at = lines[0].indexOf("LIMITS");
      return line.slice(at, lines[0].indexOf("DESCRIPTION")).trim();
    };
    const perServer = `${GATEWAY_NS}/tool-limits#per-server 100/1h per request.headers['x-user']`;
    const alice = `${GATEWAY_NS}/tool-limits#alice-only 1/10s (conditional)`;
    assertEquals(
      cell("weather_get_forecast"),
      `${alice}; ${GATEWAY_NS}/tool-limits#forecasts 5/1m; ${perServer}`,
    );
    // By limit name, as the policy's limits are merged; `not-tools` (prompts/get only) is not there.
    assertEquals(cell("weather_search"), `${alice}; ${perServer}`);

    const json = await runCli(["tools", "-o", "json", ...flags]);
    const tools = JSON.parse(json.stdout).tools as { name: string; limits?: string[] }[];
    assertEquals(tools.find((tool) => tool.name === "weather_search")?.limits, [alice, perServer]);

    const explain = await runCli(["tools", "--explain", "weather_get_forecast", ...flags]);
    assertEquals(explain.code, 0, explain.stderr);
    assertMatch(
      explain.stdout,
      new RegExp(
        `REASON: +calls to weather_get_forecast count against RateLimitPolicy ${GATEWAY_NS}/tool-limits#forecasts 5/1m\\. \\[rate-limit\\]`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tools -o wide without RateLimitPolicies has no LIMITS column", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "replay_ratelimit_cli_test_" });
  try {
    await write(`${dir}/gateway.yaml`, [extension, registration]);
    const wide = await runCli([
      "tools",
      "-o",
      "wide",
      "-f",
      dir,
      "--upstream",
      `${NS}/weather=${weather.url}`,
    ]);
    assertEquals(wide.code, 0, wide.stderr);
    assertEquals(wide.stdout.split("\n")[0].trim().split(/\s{2,}/), [
      "NAME",
      "SERVER",
      "PARAMETERS",
      "TOKENS",
      "DESCRIPTION",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
