/**
 * End-to-end tests of the simulator gateway: real SDK clients through the gateway to the real fixture
 * servers in `test/fixtures/`, all on loopback.
 */
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "./helpers/assert.ts";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { AUTH_FIXTURE_TOKEN, type FixtureName, startFixture } from "./fixtures/mod.ts";
import { type GatewayConfigInput, normalizeConfig, startGateway } from "../sim/mod.ts";
import {
  connectClient,
  deleteSession,
  firstText,
  initializeBody,
  post,
  rawSession,
  switchableProxy,
  waitFor,
} from "./sim_helpers.ts";

type ServerIn = NonNullable<GatewayConfigInput["servers"]>[number];

/** Config with one registration per fixture url, named `test/<name>`. */
function config(servers: ServerIn[], rest: Omit<GatewayConfigInput, "servers"> = {}) {
  return normalizeConfig({ servers, ...rest });
}

async function fixtures<N extends FixtureName>(...names: N[]) {
  const list = await Promise.all(names.map((n) => startFixture(n)));
  return {
    list,
    by: (n: N) => list[names.indexOf(n)],
    [Symbol.asyncDispose]: async () => {
      await Promise.all(list.map((f) => f.close()));
    },
  };
}

Deno.test("federateAll: federates tools, prompts, resources, templates and completions with prefixes", async () => {
  await using fx = await fixtures("weather", "github");
  await using gw = await startGateway(
    config([
      { name: "test/weather", url: fx.by("weather").url, prefix: "weather_" },
      { name: "test/github", url: fx.by("github").url, prefix: "github_" },
    ]),
    { federateAll: true },
  );
  await using c = await connectClient(gw.url);
  const { tools } = await c.client.listTools();
  const names = tools.map((t) => t.name);
  assert(names.includes("weather_search") && names.includes("github_search"), names.join());
  assert(names.includes("weather_get_forecast"));
  const weather = await c.client.callTool({ name: "weather_search", arguments: { query: "a" } });
  assertStringIncludes(firstText(weather), "weather stations");
  const github = await c.client.callTool({ name: "github_search", arguments: { query: "bug" } });
  assert(!firstText(github).includes("weather stations"));

  const { prompts } = await c.client.listPrompts();
  assert(prompts.some((p) => p.name === "weather_forecast_summary"));
  assert(prompts.some((p) => p.name === "github_review_pr"));
  const prompt = await c.client.getPrompt({
    name: "weather_forecast_summary",
    arguments: { city: "Berlin" },
  });
  assert(prompt.messages.length > 0);

  const { resources } = await c.client.listResources();
  assert(resources.length >= 2);
  for (const r of resources) {
    assertMatch(r.uri, /^mcp\+test\.(weather|github):/);
    const read = await c.client.readResource({ uri: r.uri });
    assert(read.contents.length > 0, r.uri);
  }
  const { resourceTemplates } = await c.client.listResourceTemplates();
  const tpl = resourceTemplates.find((t) => t.uriTemplate.includes("weather://stations/{id}"));
  assert(tpl, JSON.stringify(resourceTemplates));
  const stationUri =
    resources.find((r) => r.uri.includes("weather://stations/") && !r.uri.endsWith("/list"))!.uri;
  assertStringIncludes(JSON.stringify(await c.client.readResource({ uri: stationUri })), "city");

  const completion = await c.client.complete({
    ref: { type: "ref/prompt", name: "weather_forecast_summary" },
    argument: { name: "city", value: "B" },
  });
  assert(completion.completion.values.length > 0);
  const tplCompletion = await c.client.complete({
    ref: { type: "ref/resource", uri: tpl.uriTemplate },
    argument: { name: "id", value: "" },
  });
  assert(tplCompletion.completion.values.length > 0);

  const status = await gw.status();
  assertEquals(status.healthyServers, 2);
  // The federated tools, and the gateway's own discovery meta-tools beside them.
  assertEquals(status.metaTools, ["discover_tools", "select_tools"]);
  assertEquals(status.toolCount + status.metaTools.length, tools.length);
  const base = gw.url.replace(/\/mcp$/, "");
  for (const path of ["/healthz", "/readyz"]) {
    const r = await fetch(base + path);
    assertEquals(r.status, 200, path);
    await r.body?.cancel();
  }
  const metrics = await (await fetch(base + "/metrics")).text();
  assertMatch(metrics, /mcp_gateway_requests_total\{method="tools\/call",status="200"\} \d+/);
  assertMatch(metrics, /mcp_gateway_upstream_request_duration_seconds_bucket\{server="test\/weather"/);
  assertMatch(metrics, /mcp_gateway_sessions 1/);
  assertMatch(metrics, /mcp_gateway_upstream_up\{server="test\/github"\} 1/);
});

Deno.test("conflicting tool names: the later server is withheld and reported, never shadowed", async () => {
  await using fx = await fixtures("weather", "github");
  // The server whose list arrives first wins: github's comes late.
  await using lateGithub = switchableProxy(fx.by("github").url);
  lateGithub.delays["tools/list"] = 300;
  await using gw = await startGateway(config([
    { name: "test/weather", url: fx.by("weather").url, prefix: "" },
    { name: "test/github", url: lateGithub.url, prefix: "" },
  ]));
  await using c = await connectClient(gw.url);
  const names = (await c.client.listTools()).tools.map((t) => t.name);
  assert(names.includes("search") && names.includes("get_forecast"));
  assert(!names.includes("get_issue"), "github's tools are withheld as a whole, as upstream does");
  assertStringIncludes(
    firstText(await c.client.callTool({ name: "search", arguments: { query: "a" } })),
    "weather",
  );
  const status = await gw.status();
  assertEquals(status.conflicts.map(({ message: _, ...conflict }) => conflict), [{
    kind: "tool",
    name: "search",
    server: "test/weather",
    conflictsWith: "test/github",
  }]);
  const github = status.servers.find((s) => s.name === "test/github")!;
  assertEquals(github.toolCount, 0);
  assertEquals(github.conflicts, [{ kind: "tool", name: "search", conflictsWith: "test/weather" }]);
  const body = await (await fetch(gw.url.replace(/mcp$/, "status"))).json();
  assertEquals(body.conflicts.length, 1);
});

Deno.test("invalid tool schemas: FilterOut drops the tool, RejectServer drops the server", async () => {
  await using fx = await fixtures("invalid-schema", "weather");
  const servers = [
    { name: "test/invalid", url: fx.by("invalid-schema").url, prefix: "inv_" },
    { name: "test/weather", url: fx.by("weather").url, prefix: "w_" },
  ];
  await using gw = await startGateway(config(servers));
  await using c = await connectClient(gw.url);
  let names = (await c.client.listTools()).tools.map((t) => t.name);
  assertEquals(names.filter((n) => n.startsWith("inv_")), ["inv_valid_tool"]);
  let status = await gw.status();
  assert(status.servers[0].invalidTools >= 1);
  assertEquals(status.servers[0].invalidToolList?.length, status.servers[0].invalidTools);
  assertEquals(status.servers[0].state, "ready");

  const changed = new Promise<void>((resolve) =>
    c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve())
  );
  await gw.reload(config(servers, { extension: { invalidToolPolicy: "RejectServer" } }));
  await changed;
  names = (await c.client.listTools()).tools.map((t) => t.name);
  assert(!names.some((n) => n.startsWith("inv_")));
  assert(names.includes("w_get_forecast"));
  status = await gw.status();
  assertEquals(status.servers[0].state, "rejected");
});

Deno.test("progress passes through and cancellation reaches the backend", async () => {
  await using fx = await fixtures("slow");
  await using gw = await startGateway(
    config([{ name: "test/slow", url: fx.by("slow").url, prefix: "slow_" }]),
  );
  await using c = await connectClient(gw.url);
  const progress: number[] = [];
  const done = await c.client.callTool({ name: "slow_sleep", arguments: { ms: 100, steps: 4 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  assertEquals(firstText(done), "slept 100ms");
  assertEquals(progress, [1, 2, 3, 4]);

  const ac = new AbortController();
  const call = c.client.callTool({ name: "slow_sleep", arguments: { ms: 20_000, steps: 100 } }, undefined, {
    signal: ac.signal,
    onprogress: () => ac.abort("user cancelled"),
  });
  await assertRejects(() => call);
  const stats = await waitFor(
    async () => {
      const s = JSON.parse(firstText(await c.client.callTool({ name: "slow_sleep_stats", arguments: {} })));
      return s.cancelled === 1 ? s : undefined;
    },
    5000,
    "the backend to see the cancellation",
  );
  assertEquals(stats.started, 2);
  // The session lives on after a cancelled call.
  assertEquals(firstText(await c.client.callTool({ name: "slow_echo", arguments: { message: "hi" } })), "hi");
});

Deno.test("elicitation, sampling and roots requests from a backend reach the calling client", async () => {
  await using fx = await fixtures("elicit", "sample");
  await using gw = await startGateway(config([
    { name: "test/elicit", url: fx.by("elicit").url, prefix: "e_" },
    { name: "test/sample", url: fx.by("sample").url, prefix: "s_" },
  ]));
  await using c = await connectClient(gw.url, {
    capabilities: { elicitation: { form: {} }, sampling: {}, roots: { listChanged: true } },
  });
  const seen: string[] = [];
  c.client.setRequestHandler(ElicitRequestSchema, (req) => {
    seen.push(req.params.message);
    return { action: "accept", content: { seats: 4, time: "19:30" } };
  });
  c.client.setRequestHandler(CreateMessageRequestSchema, (req) => {
    seen.push(JSON.stringify(req.params.messages[0].content));
    return { role: "assistant", model: "test-model", content: { type: "text", text: "It is short." } };
  });
  c.client.setRequestHandler(
    ListRootsRequestSchema,
    () => ({ roots: [{ uri: "file:///work", name: "work" }] }),
  );
  const booked = await c.client.callTool({ name: "e_book_table", arguments: { restaurant: "Chez Test" } });
  assertEquals(JSON.parse(firstText(booked)), { action: "accept", content: { seats: 4, time: "19:30" } });
  assertStringIncludes(seen[0], "Chez Test");
  const summary = await c.client.callTool({ name: "s_summarize", arguments: { text: "a long text" } });
  assertEquals(firstText(summary), "It is short. (model: test-model)");
  const roots = await c.client.callTool({ name: "s_list_roots", arguments: {} });
  assertEquals(JSON.parse(firstText(roots)), [{ uri: "file:///work", name: "work" }]);
});

Deno.test("an upstream list_changed reaches every connected client; with federateAll logging passes through", async () => {
  await using fx = await fixtures("dynamic");
  await using gw = await startGateway(
    config([{ name: "test/dyn", url: fx.by("dynamic").url, prefix: "d_" }]),
    { federateAll: true },
  );
  await using a = await connectClient(gw.url, { name: "a" });
  await using b = await connectClient(gw.url, { name: "b" });
  let bChanged = 0;
  b.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void bChanged++);
  // Give b's standalone GET stream a moment to open: list_changed travels on it.
  await new Promise((r) => setTimeout(r, 100));
  await a.client.callTool({ name: "d_add_tool", arguments: { name: "fresh", reply: "so fresh" } });
  await waitFor(() => bChanged > 0, 5000, "b to get tools/list_changed");
  const names = (await b.client.listTools()).tools.map((t) => t.name);
  assert(names.includes("d_fresh"), names.join());
  assertEquals(firstText(await b.client.callTool({ name: "d_fresh", arguments: {} })), "so fresh");

  const logs: unknown[] = [];
  a.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
  await a.client.setLoggingLevel("warning");
  const filtered = await a.client.callTool({ name: "d_log", arguments: { level: "info", message: "quiet" } });
  assertStringIncludes(firstText(filtered), "filtered");
  await a.client.callTool({ name: "d_log", arguments: { level: "error", message: "loud" } });
  await waitFor(() => logs.includes("loud"), 3000, "the log message");
  assert(!logs.includes("quiet"));
});

Deno.test("virtual servers filter lists; unknown ones filter nothing; enforcement rejects calls", async () => {
  await using fx = await fixtures("weather", "github");
  const servers = [
    { name: "test/weather", url: fx.by("weather").url, prefix: "weather_" },
    { name: "test/github", url: fx.by("github").url, prefix: "github_" },
  ];
  const virtualServers = [{ name: "test/forecasts", tools: ["weather_get_forecast"], prompts: [] }];
  await using gw = await startGateway(config(servers, { virtualServers }));
  {
    await using c = await connectClient(gw.url, { headers: { "X-Mcp-Virtualserver": "test/forecasts" } });
    assertEquals((await c.client.listTools()).tools.map((t) => t.name), ["weather_get_forecast"]);
    // As the broker: a virtual server listing no prompts leaves every prompt.
    assertEquals((await c.client.listPrompts()).prompts.length, 2);
    // Upstream only filters lists: calls outside the set still work unless enforced.
    assertStringIncludes(
      firstText(await c.client.callTool({ name: "github_search", arguments: { query: "x" } })),
      "",
    );
  }
  {
    // As the broker: a header naming no virtual server filters nothing (the gateway logs a warning).
    await using c = await connectClient(gw.url, { headers: { "X-Mcp-Virtualserver": "test/nope" } });
    assert((await c.client.listTools()).tools.some((t) => t.name === "github_search"));
  }

  await gw.reload(config(servers, { virtualServers, extension: { enforceVirtualServers: true } }));
  await using c = await connectClient(gw.url, { headers: { "X-Mcp-Virtualserver": "test/forecasts" } });
  await assertRejects(
    () => c.client.callTool({ name: "github_search", arguments: { query: "x" } }),
    "not in virtual server test/forecasts",
  );
  assertStringIncludes(
    firstText(await c.client.callTool({ name: "weather_get_forecast", arguments: { city: "Berlin" } })),
    "",
  );
});

Deno.test("health: after 3 failed pings a server's tools go away with list_changed, and come back", async () => {
  await using fx = await fixtures("weather", "github");
  await using proxy = switchableProxy(fx.by("github").url);
  await using gw = await startGateway(config([
    { name: "test/weather", url: fx.by("weather").url, prefix: "w_" },
    { name: "test/github", url: proxy.url, prefix: "g_" },
  ], { extension: { backendPingIntervalMs: 50 } }));
  await using c = await connectClient(gw.url);
  let changes = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
  await new Promise((r) => setTimeout(r, 100));
  assert((await c.client.listTools()).tools.some((t) => t.name === "g_search"));
  proxy.down = true;
  await waitFor(async () => (await gw.status()).servers[1].state === "unhealthy", 5000, "unhealthy");
  const st = (await gw.status()).servers[1];
  assert(st.failedPings >= 3 && st.lastError, JSON.stringify(st));
  await waitFor(() => changes >= 1, 3000, "list_changed on removal");
  let names = (await c.client.listTools()).tools.map((t) => t.name);
  assert(!names.some((n) => n.startsWith("g_")) && names.includes("w_search"));
  const metrics = await (await fetch(gw.url.replace(/mcp$/, "metrics"))).text();
  assertMatch(metrics, /mcp_gateway_upstream_up\{server="test\/github"\} 0/);
  proxy.down = false;
  await waitFor(async () => (await gw.status()).servers[1].state === "ready", 5000, "recovery");
  await waitFor(() => changes >= 2, 3000, "list_changed on recovery");
  names = (await c.client.listTools()).tools.map((t) => t.name);
  assert(names.includes("g_search"));
});

Deno.test("sessions: ids are signed JWTs; forged or unknown 404, missing 400, DELETE closes backend sessions", async () => {
  await using fx = await fixtures("weather");
  await using gw = await startGateway(
    config([{ name: "test/weather", url: fx.by("weather").url, prefix: "w_" }]),
    {
      signingKey: "a-test-signing-key-of-some-length",
    },
  );
  const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
  const { id, version } = await rawSession(gw.url);
  assertEquals(id.split(".").length, 3);
  assertEquals(JSON.parse(atob(id.split(".")[0])).alg, "HS256");
  const h = { "mcp-protocol-version": version };
  assertEquals((await post(gw.url, list, { ...h, "mcp-session-id": id })).status, 200);
  assertEquals((await post(gw.url, list, h)).status, 400);
  const forged = id.slice(0, -4) + (id.endsWith("AAAA") ? "BBBB" : "AAAA");
  assertEquals((await post(gw.url, list, { ...h, "mcp-session-id": forged })).status, 404);
  assertEquals((await post(gw.url, list, { ...h, "mcp-session-id": "not-a-jwt" })).status, 404);
  // Signed with the same key by another gateway on another in-memory store: taken as the broker
  // takes an id after a restart (resurrected), since nothing here says it ended.
  {
    await using other = await startGateway(config([]), { signingKey: "a-test-signing-key-of-some-length" });
    const foreign = await rawSession(other.url);
    assertEquals((await post(gw.url, list, { ...h, "mcp-session-id": foreign.id })).status, 200);
    await deleteSession(other.url, foreign.id);
    await deleteSession(gw.url, foreign.id);
  }
  // A backend session opens lazily on the first routed call, and closes with the client's.
  const before = fx.by("weather").stats();
  const call = {
    jsonrpc: "2.0",
    id: 3,
    method: "tools/call",
    params: { name: "w_search", arguments: { query: "a" } },
  };
  assertEquals((await post(gw.url, call, { ...h, "mcp-session-id": id })).status, 200);
  assertEquals(fx.by("weather").stats().sessionsCreated, before.sessionsCreated + 1);
  assertEquals(await deleteSession(gw.url, id), 200);
  await waitFor(
    () => fx.by("weather").stats().sessionsDeleted > before.sessionsDeleted,
    3000,
    "backend DELETE",
  );
  assertEquals((await post(gw.url, list, { ...h, "mcp-session-id": id })).status, 404);
  assertEquals((await gw.status()).sessions, 0);
});

Deno.test("bad input is answered per the spec and never crashes the gateway", async () => {
  await using fx = await fixtures("weather");
  await using gw = await startGateway(
    config([{ name: "test/weather", url: fx.by("weather").url, prefix: "w_" }], {
      extension: { maxBodyBytes: 4096 },
    }),
  );
  const { id, version } = await rawSession(gw.url);
  const h = { "mcp-session-id": id, "mcp-protocol-version": version };
  const code = (r: { json?: Record<string, unknown> }) => (r.json?.error as { code: number })?.code;

  let r = await post(gw.url, "{not json", h);
  assertEquals([r.status, code(r)], [400, -32700]);
  r = await post(gw.url, [{ jsonrpc: "2.0", id: 1, method: "ping" }], h);
  assertEquals([r.status, code(r)], [400, -32600]);
  r = await post(gw.url, { jsonrpc: "1.0", id: 1, method: "ping" }, h);
  assertEquals([r.status, code(r)], [400, -32600]);
  r = await post(gw.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { ...h, accept: "application/json" });
  assertEquals(r.status, 406);
  r = await post(gw.url, { jsonrpc: "2.0", id: 1, method: "ping" }, {
    ...h,
    "mcp-protocol-version": "1999-01-01",
  });
  assertEquals(r.status, 400);
  r = await post(gw.url, { jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(5000) } }, h);
  assertEquals(r.status, 413);
  r = await post(gw.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { ...h, origin: "http://evil.example" });
  assertEquals(r.status, 403);
  r = await post(gw.url, { jsonrpc: "2.0", id: 1, method: "ping" }, {
    ...h,
    origin: "http://localhost:3000",
  });
  assertEquals(r.status, 200);
  r = await post(gw.url, {
    jsonrpc: "2.0",
    id: 5,
    method: "tools/call",
    params: { name: "w_nope", arguments: {} },
  }, h);
  // The cluster's router answers an unknown tool with a tool result.
  assertEquals([r.status, (r.json?.result as { isError?: boolean })?.isError], [200, true]);
  r = await post(gw.url, { jsonrpc: "2.0", id: 6, method: "prompts/get", params: { name: "nope" } }, h);
  assertEquals(code(r), -32602);
  r = await post(gw.url, {
    jsonrpc: "2.0",
    id: 7,
    method: "resources/read",
    params: { uri: "mcp+nobody:x://y" },
  }, h);
  // The cluster's broker reads no resources.
  assertEquals(code(r), -32601);
  r = await post(gw.url, { jsonrpc: "2.0", id: 8, method: "no/such/method" }, h);
  assertEquals(code(r), -32601);
  const put = await fetch(gw.url, { method: "PUT" });
  await put.body?.cancel();
  assertEquals(put.status, 405);
  // Tool execution failures are results with isError, from the backend.
  r = await post(gw.url, {
    jsonrpc: "2.0",
    id: 9,
    method: "tools/call",
    params: { name: "w_get_forecast", arguments: { city: 42 } },
  }, h);
  assertEquals((r.json?.result as { isError?: boolean })?.isError, true);
  // Still alive.
  r = await post(gw.url, { jsonrpc: "2.0", id: 10, method: "tools/list" }, h);
  assertEquals(r.status, 200);
  assert(((r.json?.result as { tools: unknown[] }).tools.length) > 0);
  await deleteSession(gw.url, id);
});

Deno.test("a failing or slow upstream fails that call only; other clients and the session live on", async () => {
  await using fx = await fixtures("weather");
  await using hang = await startFixture("broken", { mode: "call-hang" });
  await using garbage = await startFixture("broken", { mode: "call-garbage" });
  await using e500 = await startFixture("broken", { mode: "call-500" });
  await using listGarbage = await startFixture("broken", { mode: "list-garbage" });
  await using gw = await startGateway(
    config([
      { name: "test/weather", url: fx.by("weather").url, prefix: "w_" },
      { name: "test/hang", url: hang.url, prefix: "hang_" },
      { name: "test/garbage", url: garbage.url, prefix: "garbage_" },
      { name: "test/e500", url: e500.url, prefix: "e500_" },
      { name: "test/listgarbage", url: listGarbage.url, prefix: "lg_" },
    ]),
    { upstreamTimeoutMs: 500 },
  );
  await using a = await connectClient(gw.url, { name: "a" });
  await using b = await connectClient(gw.url, { name: "b" });
  const hanging = a.client.callTool({ name: "hang_echo", arguments: { message: "x" } });
  // b is unaffected while a's upstream hangs.
  for (let i = 0; i < 3; i++) {
    assertStringIncludes(
      firstText(await b.client.callTool({ name: "w_search", arguments: { query: "a" } })),
      "weather",
    );
  }
  await assertRejects(() => hanging, "test/hang");
  await assertRejects(() => a.client.callTool({ name: "garbage_echo", arguments: { message: "x" } }));
  await assertRejects(() => a.client.callTool({ name: "e500_echo", arguments: { message: "x" } }), "500");
  assertStringIncludes(
    firstText(await a.client.callTool({ name: "w_search", arguments: { query: "a" } })),
    "weather",
  );
  const st = (await gw.status()).servers.find((s) => s.name === "test/listgarbage")!;
  assert(st.state !== "ready" && st.lastError, JSON.stringify(st));
});

Deno.test("the backend gets the registration's credential, never the client's Authorization", async () => {
  await using fx = await fixtures("auth", "weather");
  await using gw = await startGateway(config([
    { name: "test/auth", url: fx.by("auth").url, prefix: "a_", credential: `Bearer ${AUTH_FIXTURE_TOKEN}` },
    { name: "test/weather", url: fx.by("weather").url, prefix: "w_" },
  ]));
  await using c = await connectClient(gw.url, { headers: { Authorization: "Bearer client-secret-token" } });
  const who = JSON.parse(firstText(await c.client.callTool({ name: "a_whoami", arguments: {} })));
  assertEquals(who.authorization, `Bearer ${AUTH_FIXTURE_TOKEN}`);
  const noCred = await startGateway(config([{ name: "test/auth", url: fx.by("auth").url, prefix: "a_" }]));
  try {
    assertEquals((await noCred.status()).servers[0].state, "connecting");
    assertStringIncludes((await noCred.status()).servers[0].lastError ?? "", "401");
  } finally {
    await noCred.close();
  }
});

Deno.test("a backend that forgot its session is re-initialised and the call retried once", async () => {
  const first = await startFixture("weather");
  const port = first.port;
  await using gw = await startGateway(config([{ name: "test/weather", url: first.url, prefix: "w_" }]));
  await using c = await connectClient(gw.url);
  await c.client.callTool({ name: "w_search", arguments: { query: "a" } });
  await first.close();
  await using second = await startFixture("weather", { port });
  const r = await c.client.callTool({ name: "w_search", arguments: { query: "a" } });
  assertStringIncludes(firstText(r), "weather stations");
  assertEquals(second.stats().sessionsCreated >= 1, true);
});

Deno.test("reload: servers come, go and change while client sessions survive", async () => {
  await using fx = await fixtures("weather", "github", "slow");
  const w = { name: "test/weather", url: fx.by("weather").url, prefix: "w_" };
  const g = { name: "test/github", url: fx.by("github").url, prefix: "g_" };
  await using gw = await startGateway(config([w]));
  await using c = await connectClient(gw.url);
  let changes = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
  await new Promise((r) => setTimeout(r, 100));
  await c.client.callTool({ name: "w_search", arguments: { query: "a" } });
  await gw.reload(config([w, g]));
  await waitFor(() => changes >= 1, 3000, "list_changed after add");
  assert((await c.client.listTools()).tools.some((t) => t.name === "g_search"));
  await gw.reload(config([g, { ...w, prefix: "weather_" }]));
  await waitFor(() => changes >= 2, 3000, "list_changed after change");
  const names = (await c.client.listTools()).tools.map((t) => t.name);
  assert(names.includes("weather_search") && !names.includes("w_search"), names.join());
  assertStringIncludes(
    firstText(await c.client.callTool({ name: "weather_search", arguments: { query: "a" } })),
    "weather",
  );
  await gw.reload(config([{ name: "test/slow", url: fx.by("slow").url, prefix: "s_" }]));
  await waitFor(
    async () =>
      (await c.client.listTools()).tools.every((t) => t.name.startsWith("s_") || t.name.endsWith("_tools")),
    3000,
    "removal",
  );
  assertEquals(
    firstText(await c.client.callTool({ name: "s_echo", arguments: { message: "still here" } })),
    "still here",
  );
});

Deno.test("older protocol versions work on both sides: 2025-03-26 backends and 2025-06-18/2025-03-26 clients", async () => {
  await using fx = await fixtures("legacy", "custom-path");
  await using gw = await startGateway(config([
    { name: "test/legacy", url: fx.by("legacy").url, prefix: "old_" },
    {
      name: "test/custom",
      url: fx.by("custom-path").url.replace(/\/v1\/mcp$/, ""),
      prefix: "cp_",
      path: "/v1/mcp",
    },
  ]));
  const status = await gw.status();
  assertEquals(status.servers[0].protocolVersion, "2025-03-26");
  assertEquals(status.servers[1].state, "ready");
  for (const version of ["2025-11-25", "2025-06-18", "2025-03-26"]) {
    const s = await rawSession(gw.url, version);
    assertEquals(s.version, version);
    const h = { "mcp-session-id": s.id, "mcp-protocol-version": version };
    const list = await post(gw.url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, h);
    const names = (list.json?.result as { tools: Array<{ name: string }> }).tools.map((t) => t.name);
    assert(names.some((n) => n.startsWith("old_")) && names.some((n) => n.startsWith("cp_")), names.join());
    const tool = names.find((n) => n.startsWith("old_"))!;
    const call = await post(gw.url, {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: tool, arguments: { message: "hi" } },
    }, h);
    assert(call.json?.result, JSON.stringify(call.json));
    await deleteSession(gw.url, s.id);
  }
});

Deno.test("JSON-RPC batches work for 2025-03-26 sessions, as that version had them, and nowhere later", async () => {
  await using fx = await fixtures("weather");
  await using gw = await startGateway(
    config([{ name: "test/weather", url: fx.by("weather").url, prefix: "w_" }]),
  );
  const old = await rawSession(gw.url, "2025-03-26");
  assertEquals(old.version, "2025-03-26");
  const res = await fetch(gw.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": old.id,
      "mcp-protocol-version": "2025-03-26",
    },
    body: JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: "w_get_forecast", arguments: { city: "Oslo" } },
      },
    ]),
  });
  assertEquals(res.status, 200);
  const text = await res.text();
  const messages = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)))
    .flatMap((m) => Array.isArray(m) ? m : [m]);
  const byId = new Map(messages.filter((m) => "id" in m).map((m) => [m.id, m]));
  assertEquals(byId.get(1)?.result, {});
  assert((byId.get(2)?.result?.tools ?? []).some((t: { name: string }) => t.name === "w_get_forecast"));
  assertStringIncludes(JSON.stringify(byId.get(3)?.result), "Oslo");

  const current = await rawSession(gw.url);
  const refused = await post(gw.url, [{ jsonrpc: "2.0", id: 1, method: "ping" }], {
    "mcp-session-id": current.id,
    "mcp-protocol-version": current.version,
  });
  assertEquals(refused.status, 400);
  assertStringIncludes(JSON.stringify(refused.json), "2025-06-18");
  const withInit = await post(gw.url, [initializeBody("2025-03-26")], { "mcp-session-id": old.id });
  assertEquals(withInit.status, 400);
});

Deno.test("idle sessions are closed with their backend sessions; one listening on a GET stream is not idle", async () => {
  await using fx = await fixtures("weather");
  const weather = fx.by("weather");
  await using gw = await startGateway(
    config([{ name: "test/weather", url: weather.url, prefix: "w_" }]),
    { sessionIdleTimeoutMs: 300 },
  );
  // The SDK client keeps a standalone GET stream open for notifications.
  await using listening = await connectClient(gw.url);
  await listening.client.callTool({ name: "w_search", arguments: { query: "a" } });
  const quiet = await rawSession(gw.url);
  const call = () =>
    post(gw.url, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "w_search", arguments: { query: "b" } },
    }, quiet.headers);
  assertEquals((await call()).status, 200);
  const deleted = weather.stats().sessionsDeleted;
  await waitFor(async () => (await gw.status()).sessions === 1, 5000, "the quiet session to be closed");
  assertEquals((await call()).status, 404);
  await waitFor(() => weather.stats().sessionsDeleted === deleted + 1, 5000, "its backend session to end");
  const still = await listening.client.callTool({ name: "w_search", arguments: { query: "c" } });
  assertStringIncludes(firstText(still), "weather stations");
});

for (const passthrough of [true, false]) {
  Deno.test(`resources a prefixed server's tool result names are rewritten to be read back (pass-through ${passthrough ? "on" : "off"})`, async () => {
    await using fx = await fixtures("conformance");
    await using gw = await startGateway(
      config([{ name: "test/conformance", url: fx.by("conformance").url, prefix: "c_" }]),
      { toolCallPassthrough: passthrough, federateAll: true },
    );
    await using c = await connectClient(gw.url);
    const result = await c.client.callTool({ name: "c_test_embedded_resource", arguments: {} });
    const embedded = (result.content as Array<{ type: string; resource?: { uri: string } }>)[0];
    assertEquals(embedded.resource?.uri, "mcp+test.conformance:test://embedded-resource");
    // The same form resources/list shows, so the client reads it back through the gateway.
    const { resources } = await c.client.listResources();
    const listed = resources.find((r) => r.uri.endsWith(":test://static-text"))!;
    assertEquals(listed.uri, "mcp+test.conformance:test://static-text");
    const read = await c.client.readResource({ uri: listed.uri });
    assertEquals((read.contents[0] as { text?: string }).text?.length ? true : false, true);
  });
}
