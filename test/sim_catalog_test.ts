/**
 * The catalog as broker v0.9.0 serves it, each answer checked against the broker's own, recorded in
 * /work/helpers/broker_v0.9.0_observed.md (issue #11; "observation" below, sections named): tools
 * with their annotations and without upstream `_meta`, the meta-tools' schemas and `discover_tools`,
 * `resources/list` with `ui://` URIs prefixed, name conflicts decided by which list arrived first, a
 * server without `resources/templates/list`; and what `federateAll` serves instead.
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { type FixtureName, startFixture } from "./fixtures/mod.ts";
import { type GatewayConfigInput, normalizeConfig, startGateway } from "../sim/mod.ts";
import { post, rawSession, switchableProxy, waitFor } from "./sim_helpers.ts";
import { recordedServerSet } from "./sim_stages.ts";

/** broker v0.9.0 observed (3.3, tools/list (full, main config)). */
const TOOLS_LIST_MAIN = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"annotations":{"readOnlyHint":false,"destructiveHint":true,"idempotentHint":true},"description":"Delete an issue for good","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"number":{"maximum":9007199254740991,"minimum":-9007199254740991,"type":"integer"}},"required":["number"],"type":"object"},"name":"github_delete_issue"},{"annotations":{"readOnlyHint":true,"openWorldHint":true},"description":"Search issues by text","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"query":{"type":"string"}},"required":["query"],"type":"object"},"name":"github_search"},{"annotations":{"readOnlyHint":true},"description":"Search weather stations by city name","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"query":{"type":"string"}},"required":["query"],"type":"object"},"name":"weather_search"},{"annotations":{},"description":"Say hello","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"name":{"type":"string"}},"required":["name"],"type":"object"},"name":"notpl_hello"},{"annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":false,"openWorldHint":true},"description":"Create an issue","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"body":{"type":"string"},"title":{"minLength":1,"type":"string"}},"required":["title"],"type":"object"},"name":"github_create_issue"},{"annotations":{"readOnlyHint":true,"idempotentHint":true},"description":"Get one issue by number","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"number":{"maximum":9007199254740991,"minimum":-9007199254740991,"type":"integer"}},"required":["number"],"type":"object"},"name":"github_get_issue"},{"annotations":{"readOnlyHint":true,"openWorldHint":false},"description":"Weather forecast for a city","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"city":{"description":"City name","type":"string"},"days":{"maximum":7,"minimum":1,"type":"integer"}},"required":["city"],"type":"object"},"name":"weather_get_forecast","title":"Get forecast"},{"annotations":{},"description":"Show a forecast widget","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"name":"apps_show_forecast"},{"annotations":{},"description":"Browse available servers and tools. Returns server names, categories, hints, and tool names without full schemas. Use the optional category parameter to filter by category.","inputSchema":{"properties":{"category":{"description":"Filter servers by category (case-insensitive match against any element in the server's category list)","type":"string"}},"type":"object"},"name":"discover_tools"},{"annotations":{},"description":"Scope your session to a specific set of tools. After calling this, subsequent tools/list calls will return only the selected tools with full schemas. Pass an empty list to reset to the full tool set.","inputSchema":{"properties":{"tools":{"description":"List of tool names to include in your session scope. Pass an empty array to reset to the full tool set.","items":{"type":"string"},"type":"array"}},"required":["tools"],"type":"object"},"name":"select_tools"}]}}`;

/** broker v0.9.0 observed (3.4, tools/call discover_tools {}). */
const DISCOVER_ALL = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"servers\":[{\"name\":\"mcp-test/apps\",\"categories\":[\"uncategorised\"],\"tools\":[\"apps_show_forecast\"]},{\"name\":\"mcp-test/github\",\"categories\":[\"uncategorised\"],\"tools\":[\"github_search\",\"github_get_issue\",\"github_create_issue\",\"github_delete_issue\"]},{\"name\":\"mcp-test/notpl\",\"categories\":[\"uncategorised\"],\"tools\":[\"notpl_hello\"]},{\"name\":\"mcp-test/weather\",\"categories\":[\"forecast\"],\"hint\":\"Weather forecasts\",\"tools\":[\"weather_get_forecast\",\"weather_search\"]}]}"}]}}`;

/** broker v0.9.0 observed (3.4, tools/call discover_tools category forecast (and FORECAST)). */
const DISCOVER_FORECAST = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"servers\":[{\"name\":\"mcp-test/weather\",\"categories\":[\"forecast\"],\"hint\":\"Weather forecasts\",\"tools\":[\"weather_get_forecast\",\"weather_search\"]}]}"}]}}`;

/** broker v0.9.0 observed (3.4, tools/call discover_tools category with no match). */
const DISCOVER_NO_MATCH = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"servers\":[]}"}]}}`;

/** broker v0.9.0 observed (3.4, tools/call discover_tools with non-string category 42). */
const DISCOVER_NUMBER = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"servers\":[{\"name\":\"mcp-test/apps\",\"categories\":[\"uncategorised\"],\"tools\":[\"apps_show_forecast\"]},{\"name\":\"mcp-test/github\",\"categories\":[\"uncategorised\"],\"tools\":[\"github_search\",\"github_get_issue\",\"github_create_issue\",\"github_delete_issue\"]},{\"name\":\"mcp-test/notpl\",\"categories\":[\"uncategorised\"],\"tools\":[\"notpl_hello\"]},{\"name\":\"mcp-test/weather\",\"categories\":[\"forecast\"],\"hint\":\"Weather forecasts\",\"tools\":[\"weather_get_forecast\",\"weather_search\"]}]}"}]}}`;

/** broker v0.9.0 observed (3.4, tools/call discover_tools with array category). */
const DISCOVER_ARRAY = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"{\"servers\":[{\"name\":\"mcp-test/apps\",\"categories\":[\"uncategorised\"],\"tools\":[\"apps_show_forecast\"]},{\"name\":\"mcp-test/github\",\"categories\":[\"uncategorised\"],\"tools\":[\"github_search\",\"github_get_issue\",\"github_create_issue\",\"github_delete_issue\"]},{\"name\":\"mcp-test/notpl\",\"categories\":[\"uncategorised\"],\"tools\":[\"notpl_hello\"]},{\"name\":\"mcp-test/weather\",\"categories\":[\"forecast\"],\"hint\":\"Weather forecasts\",\"tools\":[\"weather_get_forecast\",\"weather_search\"]}]}"}]}}`;

/** broker v0.9.0 observed (3.6, resources/list (main config)). */
const RESOURCES_LIST_MAIN = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"ttlMs":0,"cacheScope":"public","resources":[{"description":"All weather stations","mimeType":"application/json","name":"stations","uri":"weather://stations/list"},{"description":"Station in Amsterdam","mimeType":"application/json","name":"station-ams","uri":"weather://stations/ams"},{"description":"Station in Athens","mimeType":"application/json","name":"station-ath","uri":"weather://stations/ath"},{"description":"Station in Berlin","mimeType":"application/json","name":"station-ber","uri":"weather://stations/ber"},{"description":"Station in Boston","mimeType":"application/json","name":"station-bos","uri":"weather://stations/bos"},{"description":"Station in Lisbon","mimeType":"application/json","name":"station-lis","uri":"weather://stations/lis"},{"mimeType":"text/plain","name":"doc","uri":"docs://readme"},{"description":"README of the demo repository","mimeType":"text/markdown","name":"readme","uri":"github://repos/readme"},{"description":"Forecast widget","mimeType":"text/html;profile=mcp-app","name":"forecast-ui","uri":"ui://apps_forecast.html"},{"description":"All weather stations","mimeType":"application/json","name":"stations","uri":"weather://stations/list"},{"mimeType":"text/html","name":"chart-ui","uri":"ui://apps_widgets/chart.html?v=1"},{"mimeType":"text/html","name":"cred-ui","uri":"ui://apps_panel/index.html"}]}}`;

/** broker v0.9.0 observed (3.6, resources/list: prefix `apps` and the same server without prefix). */
const RESOURCES_LIST_UI = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"ttlMs":0,"cacheScope":"public","resources":[{"description":"Forecast widget","mimeType":"text/html;profile=mcp-app","name":"forecast-ui","uri":"ui://apps_forecast.html"},{"description":"All weather stations","mimeType":"application/json","name":"stations","uri":"weather://stations/list"},{"mimeType":"text/html","name":"chart-ui","uri":"ui://apps_widgets/chart.html?v=1"},{"mimeType":"text/html","name":"cred-ui","uri":"ui://apps_panel/index.html"}]}}`;

/** broker v0.9.0 observed (3.6, tools/list (ui config)). */
const TOOLS_LIST_UI = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"annotations":{},"description":"Browse available servers and tools. Returns server names, categories, hints, and tool names without full schemas. Use the optional category parameter to filter by category.","inputSchema":{"properties":{"category":{"description":"Filter servers by category (case-insensitive match against any element in the server's category list)","type":"string"}},"type":"object"},"name":"discover_tools"},{"annotations":{},"description":"Scope your session to a specific set of tools. After calling this, subsequent tools/list calls will return only the selected tools with full schemas. Pass an empty list to reset to the full tool set.","inputSchema":{"properties":{"tools":{"description":"List of tool names to include in your session scope. Pass an empty array to reset to the full tool set.","items":{"type":"string"},"type":"array"}},"required":["tools"],"type":"object"},"name":"select_tools"},{"annotations":{},"description":"Show a forecast widget","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"name":"show_forecast"},{"annotations":{},"description":"Show a forecast widget","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"name":"appsshow_forecast"}]}}`;

/** broker v0.9.0 observed (3.6, resources/list, servers without prefix). */
const RESOURCES_LIST_NO_PREFIX = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"ttlMs":0,"cacheScope":"public","resources":[]}}`;

/** broker v0.9.0 observed (3.12, tools/list, the run where weather lost). */
const TOOLS_LIST_CONFLICT_GITHUB_FIRST = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":false,"openWorldHint":true},"description":"Create an issue","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"body":{"type":"string"},"title":{"minLength":1,"type":"string"}},"required":["title"],"type":"object"},"name":"create_issue"},{"annotations":{},"description":"Browse available servers and tools. Returns server names, categories, hints, and tool names without full schemas. Use the optional category parameter to filter by category.","inputSchema":{"properties":{"category":{"description":"Filter servers by category (case-insensitive match against any element in the server's category list)","type":"string"}},"type":"object"},"name":"discover_tools"},{"annotations":{},"description":"Scope your session to a specific set of tools. After calling this, subsequent tools/list calls will return only the selected tools with full schemas. Pass an empty list to reset to the full tool set.","inputSchema":{"properties":{"tools":{"description":"List of tool names to include in your session scope. Pass an empty array to reset to the full tool set.","items":{"type":"string"},"type":"array"}},"required":["tools"],"type":"object"},"name":"select_tools"},{"annotations":{"readOnlyHint":false,"destructiveHint":true,"idempotentHint":true},"description":"Delete an issue for good","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"number":{"maximum":9007199254740991,"minimum":-9007199254740991,"type":"integer"}},"required":["number"],"type":"object"},"name":"delete_issue"},{"annotations":{"readOnlyHint":true},"description":"Search issues by text","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"query":{"type":"string"}},"required":["query"],"type":"object"},"name":"search"},{"annotations":{"readOnlyHint":true,"idempotentHint":true},"description":"Get one issue by number","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"number":{"maximum":9007199254740991,"minimum":-9007199254740991,"type":"integer"}},"required":["number"],"type":"object"},"name":"get_issue"}]}}`;

/** broker v0.9.0 observed (3.12, tools/list, the run where github lost). */
const TOOLS_LIST_CONFLICT_WEATHER_FIRST = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"annotations":{},"description":"Scope your session to a specific set of tools. After calling this, subsequent tools/list calls will return only the selected tools with full schemas. Pass an empty list to reset to the full tool set.","inputSchema":{"properties":{"tools":{"description":"List of tool names to include in your session scope. Pass an empty array to reset to the full tool set.","items":{"type":"string"},"type":"array"}},"required":["tools"],"type":"object"},"name":"select_tools"},{"annotations":{"readOnlyHint":true,"openWorldHint":false},"description":"Weather forecast for a city","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"city":{"description":"City name","type":"string"},"days":{"maximum":7,"minimum":1,"type":"integer"}},"required":["city"],"type":"object"},"name":"get_forecast","title":"Get forecast"},{"annotations":{"readOnlyHint":true},"description":"Search weather stations by city name","inputSchema":{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"query":{"type":"string"}},"required":["query"],"type":"object"},"name":"search"},{"annotations":{},"description":"Browse available servers and tools. Returns server names, categories, hints, and tool names without full schemas. Use the optional category parameter to filter by category.","inputSchema":{"properties":{"category":{"description":"Filter servers by category (case-insensitive match against any element in the server's category list)","type":"string"}},"type":"object"},"name":"discover_tools"}]}}`;

/** broker v0.9.0 observed (3.12, prompts/list (conflict config)). */
const PROMPTS_LIST_CONFLICT = String
  .raw`{"jsonrpc":"2.0","id":2,"result":{"prompts":[{"arguments":[{"name":"city","description":"City","required":true}],"description":"Ask for a short summary of a city's forecast","name":"forecast_summary"},{"arguments":[{"name":"pr","description":"Pull request number","required":true}],"description":"Review a pull request","name":"review_pr"}]}}`;

type ServerIn = NonNullable<GatewayConfigInput["servers"]>[number];

/** The observation's result object of an answer. */
const observed = (body: string) => JSON.parse(body).result;

/** Tools (or anything named) in name order: the broker lists them in Go map order. */
const byName = <T extends { name: string }>(items: T[]) =>
  [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Resources as a multiset: the broker lists them in the order upstream fetches finished. */
const resourceSet = (items: Array<{ uri: string; name: string }>) =>
  [...items].sort((a, b) => (`${a.uri} ${a.name}` < `${b.uri} ${b.name}` ? -1 : 1));

async function fixtures<N extends FixtureName>(...names: N[]) {
  const list = await Promise.all(names.map((n) => startFixture(n)));
  return {
    by: (n: N) => list[names.indexOf(n)],
    [Symbol.asyncDispose]: async () => {
      await Promise.all(list.map((f) => f.close()));
    },
  };
}

/** A raw session on `url`: each call posts one request and returns its JSON-RPC result. */
async function session(url: string) {
  const s = await rawSession(url, "2025-06-18");
  let id = 1;
  return async (method: string, params: Record<string, unknown> = {}) => {
    const r = await post(url, { jsonrpc: "2.0", id: ++id, method, params }, s.headers);
    assertEquals(r.status, 200, `${method}: HTTP ${r.status}`);
    assert(r.json && "result" in r.json, `${method}: ${JSON.stringify(r.json)}`);
    return r.json.result as Record<string, unknown>;
  };
}

/** The observation's main config (section 1), on our fixtures. */
function mainConfig(fx: { by(n: "weather" | "github" | "apps" | "no-templates"): { url: string } }) {
  const servers: ServerIn[] = [
    {
      name: "mcp-test/weather",
      url: fx.by("weather").url,
      prefix: "weather_",
      category: ["forecast"],
      hint: "Weather forecasts",
    },
    { name: "mcp-test/github", url: fx.by("github").url, prefix: "github_" },
    { name: "mcp-test/apps", url: fx.by("apps").url, prefix: "apps_" },
    { name: "mcp-test/notpl", url: fx.by("no-templates").url, prefix: "notpl_" },
  ];
  return normalizeConfig({ servers });
}

/** weather and apps, both with a prefix, behind a gateway with federateAll. */
async function federatedWeatherAndApps() {
  const fx = await fixtures("weather", "apps");
  const gw = await startGateway(
    normalizeConfig({
      servers: [
        { name: "mcp-test/weather", url: fx.by("weather").url, prefix: "weather_" },
        { name: "mcp-test/apps", url: fx.by("apps").url, prefix: "apps_" },
      ],
    }),
    { federateAll: true },
  );
  return {
    gw,
    async [Symbol.asyncDispose]() {
      await gw.close();
      await fx[Symbol.asyncDispose]();
    },
  };
}

Deno.test("tools/list: every tool as broker v0.9.0 lists it, annotations {} when none, no upstream _meta", async () => {
  await using fx = await fixtures("weather", "github", "apps", "no-templates");
  await using gw = await startGateway(mainConfig(fx));
  const call = await session(gw.url);
  const { tools } = await call("tools/list") as { tools: Tool[] };
  // Observation 3.3: the apps tool loses its `_meta` and `execution`, keeps nothing the broker's Go
  // SDK does not know; the meta-tools have the broker's schemas, verbatim.
  assertEquals(byName(tools), byName(observed(TOOLS_LIST_MAIN).tools));
});

Deno.test("discover_tools answers as broker v0.9.0, a category that is not a string included", async () => {
  await using fx = await fixtures("weather", "github", "apps", "no-templates");
  await using gw = await startGateway(mainConfig(fx));
  const call = await session(gw.url);
  const discover = (args: Record<string, unknown>) =>
    call("tools/call", { name: "discover_tools", arguments: args });
  assertEquals(await discover({}), observed(DISCOVER_ALL));
  assertEquals(await discover({ category: "forecast" }), observed(DISCOVER_FORECAST));
  assertEquals(await discover({ category: "FORECAST" }), observed(DISCOVER_FORECAST));
  assertEquals(await discover({ category: "nothing" }), observed(DISCOVER_NO_MATCH));
  // Observation 3.4: the broker ignores a category it cannot read as a string; every server is listed.
  assertEquals(await discover({ category: 42 }), observed(DISCOVER_NUMBER));
  assertEquals(await discover({ category: ["forecast"] }), observed(DISCOVER_ARRAY));
});

Deno.test("resources/list: URIs as the servers give them, ui:// ones prefixed, not de-duplicated", async () => {
  await using fx = await fixtures("weather", "github", "apps", "no-templates");
  await using gw = await startGateway(mainConfig(fx));
  const call = await session(gw.url);
  const result = await call("resources/list");
  const expected = observed(RESOURCES_LIST_MAIN);
  // Observation 3.6: weather://stations/list twice (weather and apps both list it).
  assertEquals(
    { ...result, resources: resourceSet(result.resources as never) },
    { ...expected, resources: resourceSet(expected.resources) },
  );
  assertEquals([result.ttlMs, result.cacheScope], [0, "public"]);
});

Deno.test("resources/list: a prefix without _ gets one, userinfo goes, a server without prefix lists nothing", async () => {
  await using apps = await startFixture("apps");
  // Observation 1, ui.yaml: the same server twice, once with prefix `apps`, once with none.
  await using gw = await startGateway(normalizeConfig({
    servers: [
      { name: "mcp-test/apps", url: apps.url, prefix: "apps" },
      { name: "mcp-test/apps-noprefix", url: apps.url, prefix: "" },
    ],
  }));
  const call = await session(gw.url);
  const result = await call("resources/list");
  const expected = observed(RESOURCES_LIST_UI);
  assertEquals(
    { ...result, resources: resourceSet(result.resources as never) },
    { ...expected, resources: resourceSet(expected.resources) },
  );
  const { tools } = await call("tools/list") as { tools: Tool[] };
  assertEquals(byName(tools), byName(observed(TOOLS_LIST_UI).tools));
});

Deno.test("federateAll: every resource and template read back through mcp+ URIs; tools keep _meta", async () => {
  await using env = await federatedWeatherAndApps();
  const { gw } = env;
  const call = await session(gw.url);
  const result = await call("resources/list");
  assertEquals(Object.keys(result), ["resources"], "no cache fields beyond the cluster");
  const uris = (result.resources as Array<{ uri: string }>).map((r) => r.uri);
  assert(uris.includes("mcp+mcp-test.apps:ui://forecast.html"), uris.join());
  assert(uris.includes("mcp+mcp-test.apps:ui://user:secret@panel/index.html"), uris.join());
  assert(uris.every((u) => u.startsWith("mcp+mcp-test.")), uris.join());
  const { resourceTemplates } = await call("resources/templates/list") as {
    resourceTemplates: Array<{ uriTemplate: string }>;
  };
  assertEquals(resourceTemplates.map((t) => t.uriTemplate), ["mcp+mcp-test.weather:weather://stations/{id}"]);
  const { tools } = await call("tools/list") as { tools: Tool[] };
  const show = tools.find((t) => t.name === "apps_show_forecast")!;
  assertEquals(show._meta, { ui: { resourceUri: "ui://forecast.html" } });
  assertEquals(show.execution, { taskSupport: "forbidden" });
  assertEquals(show.annotations, {});
  assertEquals(tools.find((t) => t.name === "weather_search")!.annotations, { readOnlyHint: true });
});

Deno.test("a server with resources but no resources/templates/list keeps its tools (-32601 means none)", async () => {
  for (const federateAll of [false, true]) {
    await using notpl = await startFixture("no-templates");
    await using gw = await startGateway(
      normalizeConfig({ servers: [{ name: "mcp-test/notpl", url: notpl.url, prefix: "notpl_" }] }),
      { federateAll },
    );
    const call = await session(gw.url);
    const { tools } = await call("tools/list") as { tools: Tool[] };
    // Observation 3.13: served normally, ready; the broker never asks for templates.
    assert(
      tools.some((t) => t.name === "notpl_hello"),
      `federateAll ${federateAll}: ${JSON.stringify(tools)}`,
    );
    const status = await gw.status();
    assertEquals(status.servers[0].state, "ready");
    const { resources } = await call("resources/list") as { resources: Array<{ uri: string }> };
    assertEquals(resources.map((r) => r.uri), [
      federateAll ? "mcp+mcp-test.notpl:docs://readme" : "docs://readme",
    ]);
    const asked = notpl.stats().rpcMethods["resources/templates/list"] ?? 0;
    if (federateAll) {
      assertEquals(asked, 1);
      assertEquals(await call("resources/templates/list"), { resourceTemplates: [] });
    } else {
      assertEquals(asked, 0, "the broker never calls resources/templates/list");
    }
  }
});

Deno.test("name conflicts: the server whose list arrived first keeps its tools, the other loses all but its prompts", async () => {
  await using fx = await fixtures("weather", "github");
  await using slow = switchableProxy(fx.by("weather").url);
  // weather is registered first but answers tools/list last: github's list arrives first.
  slow.delays["tools/list"] = 800;
  await using gw = await startGateway(normalizeConfig({
    servers: [
      { name: "mcp-test/weather", url: slow.url, prefix: "" },
      { name: "mcp-test/github", url: fx.by("github").url, prefix: "" },
    ],
  }));
  const call = await session(gw.url);
  const { tools } = await call("tools/list") as { tools: Tool[] };
  // As observed, but for one upstream defect not copied: the broker looks annotations up by served
  // name in every upstream's last tools/list (http_compat.go:541-548, upstream/mcp.go:164-169), so the
  // winner's `search` came out with the loser's annotations. It keeps its own here, as with prefixes.
  const own = observed(TOOLS_LIST_MAIN).tools.find((t: Tool) => t.name === "github_search").annotations;
  const expected = observed(TOOLS_LIST_CONFLICT_GITHUB_FIRST).tools.map((t: Tool) =>
    t.name === "search" ? { ...t, annotations: own } : t
  );
  assertEquals(byName(tools), byName(expected));
  // The loser's prompts are still served (observation 3.12, prompts/list).
  const { prompts } = await call("prompts/list") as { prompts: Array<{ name: string }> };
  assertEquals(byName(prompts), byName(observed(PROMPTS_LIST_CONFLICT).prompts));
  // Servers without a prefix list no resources (observation 3.6).
  assertEquals(await call("resources/list"), observed(RESOURCES_LIST_NO_PREFIX));
  const status = await gw.status();
  assertEquals(status.conflicts.map(({ message: _, ...c }) => c), [
    { kind: "tool", name: "search", server: "mcp-test/github", conflictsWith: "mcp-test/weather" },
  ]);
  const message = status.conflicts[0].message;
  assertStringIncludes(message, "whose tool list arrived first; every tool of mcp-test/weather is withheld");
  assertStringIncludes(message, "In the cluster the winner depends on which server answers first");
});

Deno.test("name conflicts: the winner stays through re-lists, and changes only when it goes away and comes back", async () => {
  await using fx = await fixtures("weather", "github");
  await using weather = switchableProxy(fx.by("weather").url);
  await using github = switchableProxy(fx.by("github").url);
  github.delays["tools/list"] = 600;
  await using r = recordedServerSet({
    servers: [
      { name: "mcp-test/github", url: github.url, prefix: "" },
      { name: "mcp-test/weather", url: weather.url, prefix: "" },
    ],
    extension: { backendPingIntervalMs: 100 },
  });
  const { set } = r;
  const owner = () => set.catalog.tools.get("search")?.server;
  await set.start();
  assertEquals(set.arrivalOrder(), ["mcp-test/weather", "mcp-test/github"]);
  const served = () => [...set.catalog.tools.values()].map((t) => t.tool).concat(set.metaTools);
  assertEquals(byName(served()), byName(observed(TOOLS_LIST_CONFLICT_WEATHER_FIRST).tools));
  assertEquals(set.catalog.conflicts.map((c) => c.conflictsWith), ["mcp-test/github"]);
  const logged = r.logs.find((l) => l.level === "error" && l.msg.includes("mcp-test/github conflicts"));
  assertStringIncludes(logged?.msg ?? "", "In the cluster the winner depends on which server answers first");

  // Both re-list, weather last now: a winner by latest list would flip; the broker's does not.
  github.delays["tools/list"] = 0;
  weather.delays["tools/list"] = 300;
  await Promise.all([
    set.upstream("mcp-test/github")!.refresh(),
    set.upstream("mcp-test/weather")!.refresh(),
  ]);
  assertEquals(owner(), "mcp-test/weather");
  assertEquals(set.arrivalOrder(), ["mcp-test/weather", "mcp-test/github"]);

  // The winner goes unhealthy: the other server's tools are served; when it is back it has lost.
  weather.down = true;
  await waitFor(() => owner() === "mcp-test/github", 10_000, "github to serve search");
  assertEquals(set.catalog.tools.has("get_forecast"), false);
  weather.down = false;
  await waitFor(() => set.upstream("mcp-test/weather")!.state === "ready", 10_000, "weather to be back");
  assertEquals(owner(), "mcp-test/github");
  assertEquals(set.arrivalOrder(), ["mcp-test/github", "mcp-test/weather"]);
  assertEquals(set.catalog.conflicts.map((c) => c.conflictsWith), ["mcp-test/weather"]);
});

Deno.test("federateAll: a URI the gateway did not issue is read from the one server that can own it, else an error names them", async () => {
  await using env = await federatedWeatherAndApps();
  const { gw } = env;
  const s = await rawSession(gw.url, "2025-06-18");
  const read = async (uri: string) =>
    (await post(gw.url, { jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri } }, s.headers))
      .json!;
  // The MCP Apps case: a tool's _meta.ui.resourceUri is the server's own URI, and only apps lists it.
  assertEquals(await read("ui://forecast.html"), {
    jsonrpc: "2.0",
    id: 2,
    result: {
      contents: [{
        uri: "ui://forecast.html",
        mimeType: "text/html;profile=mcp-app",
        text: "<p>forecast</p>",
      }],
    },
  });
  // Only weather has a template for it: weather answers (here, that it has no such station).
  assertStringIncludes(JSON.stringify(await read("weather://stations/xyz")), "Unknown weather station xyz");
  assertEquals((await read("weather://stations/list")).error, {
    code: -32002,
    message: "Resource weather://stations/list is listed by more than one server (mcp-test/apps, " +
      "mcp-test/weather): read it by the mcp+ URI resources/list gives for the one you mean (servers without " +
      "a prefix have none).",
  });
  const unknown = (await read("nothing://x")).error as { code: number; message: string };
  assertEquals(unknown.code, -32002);
  assertStringIncludes(unknown.message, "no server lists it or has a URI template for it");
  assertStringIncludes(unknown.message, "mcp-test/weather");
  assertStringIncludes(unknown.message, "mcp-test/apps");
});

for (const passthrough of [true, false]) {
  Deno.test(`tools/call results keep the server's resource URIs by default, as the cluster (pass-through ${passthrough ? "on" : "off"})`, async () => {
    await using conformance = await startFixture("conformance");
    await using gw = await startGateway(
      normalizeConfig({ servers: [{ name: "test/conformance", url: conformance.url, prefix: "c_" }] }),
      { toolCallPassthrough: passthrough },
    );
    const call = await session(gw.url);
    const result = await call("tools/call", { name: "c_test_embedded_resource", arguments: {} });
    const [embedded] = result.content as Array<{ resource?: { uri: string } }>;
    assertEquals(embedded.resource?.uri, "test://embedded-resource");
  });
}
