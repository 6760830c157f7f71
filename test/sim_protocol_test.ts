/**
 * The simulator's protocol surface against the cluster's: each expectation is what the Kuadrant
 * broker v0.9.0 (and its router) answered to the same request, recorded in
 * /work/helpers/broker_v0.9.0_observed.md ("observed" below names its section or summary row).
 * Where the simulator is knowingly stricter than the broker (the MCP spec says so), the test pins
 * the simulator's answer and names the broker's, so README's "Differences from the cluster" stays
 * true.
 */
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { startFixture } from "./fixtures/mod.ts";
import {
  type GatewayConfigInput,
  type GatewayOptions,
  MemorySessionStore,
  normalizeConfig,
  startGateway,
} from "../sim/mod.ts";
import { deleteSession, initializeBody, MCP_HEADERS, rawSession, sseMessages } from "./sim_helpers.ts";

/** Observed, 3.1: the broker's `instructions` while the discovery tools are on. */
const BROKER_INSTRUCTIONS =
  "This is an MCP Gateway that aggregates tools from multiple backend MCP servers into a single endpoint. The full tool set may be large.\n\nTo avoid loading all tool schemas upfront, use the discovery tools:\n1. Call discover_tools to browse available servers, categories, and tool names (lightweight, no full schemas).\n2. Call select_tools with the tool names relevant to your task. This sends a notifications/tools/list_changed notification. The filtered tool set is available on the next tools/list call, not in the current turn.\n3. To change scope, call select_tools again with a new set. Pass an empty list to reset to the full tool set.";
/** Observed, rows 1 and 2. */
const BROKER_SERVER_INFO = { name: "Kuadrant MCP Gateway", version: "0.0.1" };
const BROKER_CAPABILITIES = {
  prompts: { listChanged: true },
  resources: { listChanged: true },
  tools: { listChanged: true },
};

/** One POST as it went over the wire: status, headers and the body's text. */
async function exchange(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A JSON-RPC request body. */
const rpc = (id: number | string, method: string, params: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method,
  params,
});

/** The weather and github fixtures behind a gateway with `opts`; everything closed on dispose. */
async function cluster(
  opts: GatewayOptions = {},
  rest: Omit<GatewayConfigInput, "servers"> = {},
) {
  const weather = await startFixture("weather");
  const github = await startFixture("github");
  const gw = await startGateway(
    normalizeConfig({
      servers: [
        { name: "mcp-test/weather", url: weather.url, prefix: "weather_", category: ["forecast"] },
        { name: "mcp-test/github", url: github.url, prefix: "github_" },
      ],
      ...rest,
    }),
    opts,
  );
  return {
    gw,
    weather,
    github,
    async [Symbol.asyncDispose]() {
      await gw.close();
      await github.close();
      await weather.close();
    },
  };
}

Deno.test("initialize answers with the broker's server info, capabilities, instructions and versions", async () => {
  await using env = await cluster();
  const { gw } = env;
  // Observed, 3.1: a 2025-06-18 initialize, as one JSON body with a new session id.
  const init = await exchange(gw.url, initializeBody("2025-06-18"));
  assertEquals(init.status, 200);
  assertEquals(init.headers.get("content-type"), "application/json");
  assert(init.headers.get("mcp-session-id"));
  assert(init.text.endsWith("}\n"), init.text);
  assertEquals(JSON.parse(init.text), {
    jsonrpc: "2.0",
    id: 1,
    result: {
      capabilities: BROKER_CAPABILITIES,
      instructions: BROKER_INSTRUCTIONS,
      protocolVersion: "2025-06-18",
      serverInfo: BROKER_SERVER_INFO,
    },
  });
  await deleteSession(gw.url, init.headers.get("mcp-session-id")!);

  // Observed, 3.1 and row 4: none or "" asks for 2025-03-26, known versions are echoed, unknown get 2025-11-25.
  const versions: Array<[unknown, string]> = [
    [undefined, "2025-03-26"],
    ["", "2025-03-26"],
    ["2025-03-26", "2025-03-26"],
    ["2025-11-25", "2025-11-25"],
    ["2024-11-05", "2024-11-05"],
    ["1999-01-01", "2025-11-25"],
    ["2026-07-28", "2025-11-25"],
  ];
  for (const [asked, negotiated] of versions) {
    const params: Record<string, unknown> = {
      capabilities: {},
      clientInfo: { name: "observer", version: "1.0" },
    };
    if (asked !== undefined) params.protocolVersion = asked;
    const r = await exchange(gw.url, rpc(1, "initialize", params));
    assertEquals(r.status, 200, `${asked}: ${r.text}`);
    assertEquals(JSON.parse(r.text).result.protocolVersion, negotiated, String(asked));
    await deleteSession(gw.url, r.headers.get("mcp-session-id")!);
  }
});

Deno.test("initialize: no instructions with discovery off; more capabilities with federateAll", async () => {
  {
    await using env = await cluster({}, { extension: { discoveryTools: false } });
    // Observed, 3.1 (--discovery-tools-enabled=false): no instructions key at all.
    const r = await exchange(env.gw.url, initializeBody("2025-06-18"));
    assertEquals(JSON.parse(r.text).result, {
      capabilities: BROKER_CAPABILITIES,
      protocolVersion: "2025-06-18",
      serverInfo: BROKER_SERVER_INFO,
    });
    await deleteSession(env.gw.url, r.headers.get("mcp-session-id")!);
  }
  await using env = await cluster({ federateAll: true });
  const r = await exchange(env.gw.url, initializeBody("2025-06-18"));
  const result = JSON.parse(r.text).result;
  assertEquals(result.capabilities, {
    completions: {},
    logging: {},
    prompts: { listChanged: true },
    resources: { listChanged: true, subscribe: true },
    tools: { listChanged: true },
  });
  assertEquals(result.serverInfo, BROKER_SERVER_INFO);
  await deleteSession(env.gw.url, r.headers.get("mcp-session-id")!);
});

Deno.test("the version an initialize without one negotiates is the one a replica resuming the session uses", async () => {
  await using fx = await startFixture("weather");
  const config = normalizeConfig({
    servers: [{ name: "mcp-test/weather", url: fx.url, prefix: "weather_" }],
  });
  // Two replicas on one store, as two gateway pods on Redis.
  const shared = { signingKey: "a-key-both-replicas-share-0123456789", store: new MemorySessionStore() };
  await using a = await startGateway(config, shared);
  await using b = await startGateway(config, shared);
  const init = await exchange(
    a.url,
    rpc(1, "initialize", { capabilities: {}, clientInfo: { name: "o", version: "1" } }),
  );
  const id = init.headers.get("mcp-session-id")!;
  assertEquals(JSON.parse(init.text).result.protocolVersion, "2025-03-26");
  // Batches are only for 2025-03-26 sessions: replica b, which never saw the initialize, takes one
  // without a version header because the stored record says 2025-03-26.
  const batch = await exchange(b.url, [rpc(10, "ping")], { "mcp-session-id": id });
  assertEquals(batch.status, 200, batch.text);
  assertStringIncludes(batch.text, '"id":10');
  await deleteSession(b.url, id);
});

Deno.test("an answer that is one JSON-RPC message is one application/json body; progress first keeps a stream", async () => {
  await using slow = await startFixture("slow");
  await using gw = await startGateway(
    normalizeConfig({ servers: [{ name: "mcp-test/slow", url: slow.url, prefix: "slow_" }] }),
    { toolCallPassthrough: false },
  );
  const s = await rawSession(gw.url, "2025-06-18");
  // Observed, 3.2: ping, byte for byte.
  const ping = await exchange(gw.url, rpc(2, "ping"), s.headers);
  assertEquals([ping.status, ping.headers.get("content-type")], [200, "application/json"]);
  assertEquals(ping.headers.get("content-length"), "37");
  assertEquals(ping.text, '{"jsonrpc":"2.0","id":2,"result":{}}\n');
  const list = await exchange(gw.url, rpc(3, "tools/list"), s.headers);
  assertEquals(list.headers.get("content-type"), "application/json");
  assert(JSON.parse(list.text).result.tools.length > 0);
  // A call answered through the session's SDK server without progress: JSON too.
  const quiet = await exchange(
    gw.url,
    rpc(4, "tools/call", { name: "slow_sleep", arguments: { ms: 10, steps: 1 } }),
    s.headers,
  );
  assertEquals(quiet.headers.get("content-type"), "application/json");
  assertEquals(JSON.parse(quiet.text).result.content[0].text, "slept 10ms");
  // Progress before the answer: the answer stays a stream, and holds all three.
  const loud = await exchange(
    gw.url,
    rpc(5, "tools/call", {
      name: "slow_sleep",
      arguments: { ms: 50, steps: 2 },
      _meta: { progressToken: "p" },
    }),
    s.headers,
  );
  assertEquals(loud.headers.get("content-type"), "text/event-stream");
  const messages = loud.text.split("\n").filter((l) => l.startsWith("data:")).map((l) =>
    JSON.parse(l.slice(5))
  );
  assertEquals(messages.map((m) => m.method ?? `answer ${m.id}`), [
    "notifications/progress",
    "notifications/progress",
    "answer 5",
  ]);
  await deleteSession(gw.url, s.id);
});

/** Opens the standalone GET stream of a raw session; `next(ms)` is its next message, or undefined. */
async function getStream(url: string, headers: Record<string, string>) {
  const ac = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", "mcp-session-id": headers["mcp-session-id"] },
    signal: ac.signal,
  });
  assertEquals(res.status, 200);
  const messages = sseMessages(res);
  let pending: Promise<IteratorResult<Record<string, unknown>>> | undefined;
  return {
    async next(ms: number): Promise<Record<string, unknown> | undefined> {
      pending ??= messages.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => timer = setTimeout(resolve, ms, undefined));
      const r = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (r === undefined) return undefined;
      pending = undefined;
      return r.done ? undefined : r.value;
    },
    close() {
      ac.abort();
      pending?.catch(() => {});
    },
  };
}

Deno.test("select_tools: list_changed goes out on the session's own GET stream, not in the call's answer", async () => {
  await using env = await cluster();
  const { gw } = env;
  const a = await rawSession(gw.url, "2025-06-18");
  const b = await rawSession(gw.url, "2025-06-18");
  const aStream = await getStream(gw.url, a.headers);
  const bStream = await getStream(gw.url, b.headers);
  try {
    const select = rpc(2, "tools/call", {
      name: "select_tools",
      arguments: { tools: ["weather_get_forecast", "github_get_issue"] },
    });
    const r = await exchange(gw.url, select, a.headers);
    // Observed, 3.5: the POST answer is application/json and holds only the result.
    assertEquals(r.headers.get("content-type"), "application/json");
    const answer = JSON.parse(r.text);
    assertEquals(Object.keys(answer).sort(), ["id", "jsonrpc", "result"]);
    assertEquals(JSON.parse(answer.result.content[0].text), {
      status: "scope set to 2 tools",
      tools: ["weather_get_forecast", "github_get_issue"],
    });
    // Observed, 3.5: the notification, on A's GET stream; B's gets nothing.
    assertEquals(await aStream.next(3000), { jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    assertEquals(await bStream.next(300), undefined);
  } finally {
    aStream.close();
    bStream.close();
  }
  // Without a GET stream the notification is lost, and the call answers as before.
  const c = await rawSession(gw.url, "2025-06-18");
  const r = await exchange(
    gw.url,
    rpc(3, "tools/call", { name: "select_tools", arguments: { tools: [] } }),
    c.headers,
  );
  assertEquals(JSON.parse(r.text).result.content[0].text, '{"status":"scope reset to all tools"}');
  for (const s of [a, b, c]) await deleteSession(gw.url, s.id);
});

/** Observed, 3.6 and 3.7: the broker's -32601 answers, byte for byte (id 2). */
const notSupported = (domain: string) =>
  `{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"${domain} not supported"}}\n`;

Deno.test("methods the broker does not serve get its -32601, whatever their params; federateAll serves them", async () => {
  const requests: Array<[string, Record<string, unknown>, string]> = [
    ["resources/templates/list", {}, "resources"],
    ["resources/read", { uri: "weather://stations/list" }, "resources"],
    ["resources/subscribe", { uri: "weather://stations/list" }, "resources"],
    ["resources/unsubscribe", { uri: "weather://stations/list" }, "resources"],
    ["logging/setLevel", { level: "debug" }, "logging"],
    [
      "completion/complete",
      {
        ref: { type: "ref/prompt", name: "weather_forecast_summary" },
        argument: { name: "city", value: "A" },
      },
      "completions",
    ],
    ["tasks/get", { taskId: "t" }, "tasks"],
    ["tasks/list", {}, "tasks"],
    ["tasks/result", { taskId: "t" }, "tasks"],
    ["tasks/cancel", { taskId: "t" }, "tasks"],
  ];
  {
    await using env = await cluster();
    const s = await rawSession(env.gw.url, "2025-06-18");
    for (const [method, params, domain] of requests) {
      const r = await exchange(env.gw.url, rpc(2, method, params), s.headers);
      assertEquals([r.status, r.headers.get("content-type"), r.text], [
        200,
        "application/json",
        notSupported(domain),
      ]);
      // The broker answers before it reads the params (http_compat.go): bad ones change nothing.
      const bad = await exchange(env.gw.url, rpc(2, method, { uri: 42, level: 7, ref: "x" }), s.headers);
      assertEquals(bad.text, notSupported(domain), `${method} with bad params`);
    }
    // Observed, 3.7: any other method.
    const foo = await exchange(env.gw.url, rpc(2, "foo/bar"), s.headers);
    assertEquals(
      foo.text,
      '{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method foo/bar not found"}}\n',
    );
    await deleteSession(env.gw.url, s.id);
  }
  await using env = await cluster({ federateAll: true });
  const s = await rawSession(env.gw.url, "2025-06-18");
  // With federateAll resources are read back by the URIs the gateway lists.
  const listed = JSON.parse((await exchange(env.gw.url, rpc(1, "resources/list"), s.headers)).text);
  const uri =
    listed.result.resources.find((r: { uri: string }) => r.uri.endsWith("weather://stations/list")).uri;
  for (const [method, params, domain] of requests) {
    const r = await exchange(env.gw.url, rpc(2, method, params.uri ? { uri } : params), s.headers);
    if (domain === "tasks") {
      // Tasks are served in neither mode.
      assertEquals(r.text, notSupported("tasks"));
      continue;
    }
    const m = r.headers.get("content-type") === "text/event-stream"
      ? JSON.parse(r.text.split("\n").find((l) => l.startsWith("data:"))!.slice(5))
      : JSON.parse(r.text);
    // Routed to the server, which does not take subscriptions: its own error comes back.
    if (method.endsWith("subscribe")) assertEquals(m.error?.message, "Method not found", r.text);
    else assert(m.result, `${method}: ${r.text}`);
  }
  await deleteSession(env.gw.url, s.id);
});

Deno.test("a tools/call of an unknown tool gets the router's answer; of a meta-tool not served, the broker's", async () => {
  for (const opts of [{}, { federateAll: true }, { toolCallPassthrough: false }]) {
    await using env = await cluster(opts, { extension: { discoveryTools: false } });
    const { gw } = env;
    const s = await rawSession(gw.url, "2025-06-18");
    // Observed, section 4 R1 and R9 (and row 16): a tool result in an event stream, the session id echoed.
    for (const [id, name] of [[7, "no_such_tool"], ["abc", "weather_nope"]] as const) {
      const r = await exchange(gw.url, rpc(id, "tools/call", { name, arguments: {} }), s.headers);
      assertEquals(r.status, 200);
      assertEquals(r.headers.get("content-type"), "text/event-stream");
      assertEquals(r.headers.get("mcp-session-id"), s.id);
      assertEquals(
        r.text,
        `\nevent: message\ndata: {"jsonrpc":"2.0","id":${
          JSON.stringify(id)
        },"result":{"content":[{"type":"text","text":"MCP error -32602: Tool not found"}],"isError":true}}\n\n`,
        JSON.stringify(opts),
      );
    }
    // Observed, 3.8 and note 9: with discovery off the router passes discover_tools to the broker,
    // which does not know it.
    const meta = await exchange(
      gw.url,
      rpc(2, "tools/call", { name: "discover_tools", arguments: {} }),
      s.headers,
    );
    assertEquals(meta.headers.get("content-type"), "application/json");
    assertEquals(meta.headers.get("content-length"), "93");
    assertEquals(
      meta.text,
      '{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"unknown tool \\"discover_tools\\""}}\n',
    );
    await deleteSession(gw.url, s.id);
  }
});

Deno.test("a virtual-server header naming none serves every tool and warns each time; one that exists hides the meta-tools", async () => {
  const warnings: string[] = [];
  await using env = await cluster({
    logger: (level, msg) => {
      if (level === "warn") warnings.push(msg);
    },
  }, {
    virtualServers: [{ name: "mcp-test/forecast-only", tools: ["weather_get_forecast", "github_get_issue"] }],
  });
  const { gw } = env;
  const s = await rawSession(gw.url, "2025-06-18");
  const tools = async (headers: Record<string, string>) =>
    (JSON.parse((await exchange(gw.url, rpc(2, "tools/list"), { ...s.headers, ...headers })).text).result
      .tools as Array<
        { name: string }
      >).map((t) => t.name).sort();
  const prompts = async (headers: Record<string, string>) =>
    (JSON.parse((await exchange(gw.url, rpc(2, "prompts/list"), { ...s.headers, ...headers })).text).result
      .prompts as Array<{ name: string }>).map((p) => p.name).sort();
  const everything = await tools({});
  assert(everything.includes("discover_tools") && everything.includes("github_search"), everything.join());
  // Observed, 3.9 and row 17: the unfiltered list, discover_tools too; the broker only logs it.
  assertEquals(await tools({ "x-mcp-virtualserver": "mcp-test/no-such-vs" }), everything);
  assertEquals(await prompts({ "x-mcp-virtualserver": "mcp-test/no-such-vs" }), await prompts({}));
  const named = warnings.filter((w) => w.includes("mcp-test/no-such-vs"));
  assertEquals(named.length, 2, warnings.join("\n"));
  // Observed, 3.9 and row 17b: only its tools, the meta-tools gone; prompts unfiltered as it lists none.
  const vs = { "x-mcp-virtualserver": "mcp-test/forecast-only" };
  assertEquals(await tools(vs), ["github_get_issue", "weather_get_forecast"]);
  assertEquals(await prompts(vs), ["github_review_pr", "weather_forecast_summary"]);
  await deleteSession(gw.url, s.id);
});

Deno.test("a session id outlives a restart on the same signing key; not another key, not a DELETE", async () => {
  await using weather = await startFixture("weather");
  const config = normalizeConfig({
    servers: [{ name: "mcp-test/weather", url: weather.url, prefix: "weather_" }],
  });
  const key = "0123456789abcdef0123456789abcdef-observe";
  const call = rpc(3, "tools/call", { name: "weather_search", arguments: { query: "a" } });
  const first = await startGateway(config, { signingKey: key });
  const s = await rawSession(first.url, "2025-06-18");
  assertStringIncludes((await exchange(first.url, call, s.headers)).text, "weather stations");
  await first.close();

  // Observed, 3.10 and row 21: the restarted gateway (same key) takes the old id, no initialize.
  await using again = await startGateway(config, { signingKey: key });
  const opened = weather.stats().sessionsCreated;
  const ping = await exchange(again.url, rpc(2, "ping"), s.headers);
  assertEquals([ping.status, ping.text], [200, '{"jsonrpc":"2.0","id":2,"result":{}}\n']);
  const list = await exchange(again.url, rpc(2, "tools/list"), s.headers);
  assert(JSON.parse(list.text).result.tools.some((t: { name: string }) => t.name === "weather_search"));
  // Its backend session opens again on first use.
  assertStringIncludes((await exchange(again.url, call, s.headers)).text, "weather stations");
  assertEquals(weather.stats().sessionsCreated, opened + 1);

  // Observed, 3.10 and row 21b: another key, 404 (the simulator's own 404 body).
  {
    await using other = await startGateway(config, { signingKey: "another-key-0123456789abcdef0123456789" });
    const r = await exchange(other.url, rpc(2, "ping"), s.headers);
    assertEquals(r.status, 404);
  }
  // Observed, 3.15 and row 22: the broker takes a DELETEd id back; the simulator does not (stricter).
  assertEquals(await deleteSession(again.url, s.id), 200);
  assertEquals((await exchange(again.url, rpc(2, "ping"), s.headers)).status, 404);
});

Deno.test("an id older than the idle timeout does not come back after a restart", async () => {
  await using weather = await startFixture("weather");
  const config = normalizeConfig({
    servers: [{ name: "mcp-test/weather", url: weather.url, prefix: "weather_" }],
  });
  const opts = { signingKey: "0123456789abcdef0123456789abcdef-idle", sessionIdleTimeoutMs: 2000 };
  const first = await startGateway(config, opts);
  const s = await rawSession(first.url, "2025-06-18");
  await first.close();
  await new Promise((r) => setTimeout(r, 3100));
  await using again = await startGateway(config, opts);
  assertEquals((await exchange(again.url, rpc(2, "ping"), s.headers)).status, 404);
});

Deno.test("stricter than the broker, as the MCP spec says: the answers README lists", async () => {
  await using env = await cluster();
  const { gw } = env;
  const s = await rawSession(gw.url, "2025-06-18");
  const list = rpc(2, "tools/list");
  const status = async (body: unknown, headers: Record<string, string>) =>
    (await exchange(gw.url, body, headers)).status;
  // Broker (observed 3.14): 404 "Invalid session ID". Spec: 400.
  assertEquals(await status(list, { "mcp-protocol-version": "2025-06-18" }), 400);
  // Broker (observed 3.14): the header is ignored. Spec: 400 for an unsupported version.
  assertEquals(await status(list, { ...s.headers, "mcp-protocol-version": "1999-01-01" }), 400);
  // Broker (observed 3.14): a normal answer. Spec: the client must accept both.
  assertEquals(await status(list, { ...s.headers, accept: "application/json" }), 406);
  assertEquals(await status(list, { ...s.headers, accept: "text/plain" }), 406);
  // Broker (observed 3.14): every batch is 400 -32700. Simulator: 400 on 2025-06-18 and later
  // (served on 2025-03-26, which had batches).
  const batch = await exchange(gw.url, [rpc(10, "ping"), rpc(11, "tools/list")], s.headers);
  assertEquals(batch.status, 400);
  assertStringIncludes(batch.text, "2025-06-18");
  // Broker (observed 3.14): a new session. Spec: initialize starts a session, never within one.
  assertEquals(await status(initializeBody("2025-06-18"), s.headers), 400);
  // Broker (observed 3.15): a DELETEd id keeps working. Simulator: it ended.
  assertEquals(await deleteSession(gw.url, s.id), 200);
  assertEquals(await status(list, s.headers), 404);
});
