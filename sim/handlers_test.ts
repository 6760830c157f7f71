/**
 * The handlers a session's SDK server answers with, driven by a real SDK client through the stages
 * (pass-through off, so `tools/call` reaches them too) to real fixture servers.
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../test/helpers/assert.ts";
import { startFixture } from "../test/fixtures/mod.ts";
import { connectClient, firstText, post, rawSession, waitFor } from "../test/sim_helpers.ts";
import { type Stages, stages } from "../test/sim_stages.ts";
import type { GatewayConfigInput } from "./config.ts";
import { McpEndpoint } from "./mcp_endpoint.ts";
import type { RequestPolicy } from "./policy.ts";
import { RpcCode } from "./transport.ts";

/** The weather and slow fixtures behind the stages, with `rest` of the config. */
async function env(rest: Omit<GatewayConfigInput, "servers"> = {}, timeoutMs?: number, federateAll = false) {
  const weather = await startFixture("weather");
  const slow = await startFixture("slow");
  const s = await stages({
    servers: [
      { name: "test/weather", url: weather.url, prefix: "w_" },
      { name: "test/slow", url: slow.url, prefix: "s_" },
    ],
    ...rest,
  }, { timeoutMs, federateAll });
  return {
    s,
    weather,
    slow,
    [Symbol.asyncDispose]: async () => {
      await s[Symbol.asyncDispose]();
      await Promise.all([weather.close(), slow.close()]);
    },
  };
}

const names = (tools: Array<{ name: string }>) => tools.map((t) => t.name).sort();

/** The JSON-RPC error a rejected client call carries. */
async function rpcError(fn: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = await assertRejects(fn, McpError);
  return { code: err.code, message: err.message };
}

Deno.test("tools/list and prompts/list: everything, or what the selected virtual server names", async () => {
  await using e = await env({
    virtualServers: [
      { name: "ns/some", tools: ["w_search", "s_echo", "discover_tools"], prompts: [] },
      { name: "ns/tools-only", tools: ["w_get_forecast"] },
    ],
  });
  {
    await using c = await connectClient(e.s.url);
    assertEquals(names((await c.client.listTools()).tools), [
      "discover_tools",
      "s_echo",
      "s_sleep",
      "s_sleep_stats",
      "select_tools",
      "w_get_forecast",
      "w_search",
    ]);
    assertEquals(names((await c.client.listPrompts()).prompts), ["w_forecast_summary"]);
  }
  {
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-virtualserver": "ns/some" } });
    assertEquals(names((await c.client.listTools()).tools), ["discover_tools", "s_echo", "w_search"]);
    // As the broker: an empty prompt list filters nothing (filtered_prompts_handler.go).
    assertEquals(names((await c.client.listPrompts()).prompts), ["w_forecast_summary"]);
  }
  {
    // A virtual server without a prompt list leaves prompts unfiltered.
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-virtualserver": "ns/tools-only" } });
    assertEquals(names((await c.client.listTools()).tools), ["w_get_forecast"]);
    assertEquals(names((await c.client.listPrompts()).prompts), ["w_forecast_summary"]);
  }
});

Deno.test("routed requests no server owns get the cluster's answer for a tool and a prompt, else the spec's codes naming what was asked for", async () => {
  await using e = await env({}, undefined, true);
  await using c = await connectClient(e.s.url);
  assertEquals(await c.client.callTool({ name: "w_nope", arguments: {} }), {
    content: [{ type: "text", text: "MCP error -32602: Tool not found" }],
    isError: true,
  });
  // The router's own error for a prompt (routePromptGet), as for a tool.
  assertEquals(await rpcError(() => c.client.getPrompt({ name: "nope" })), {
    code: RpcCode.InvalidParams,
    message: "MCP error -32602: Prompt not found",
  });
  assertEquals(await rpcError(() => c.client.readResource({ uri: "mcp+nope:weather://x" })), {
    code: RpcCode.ResourceNotFound,
    message: "MCP error -32002: Unknown resource: mcp+nope:weather://x",
  });
  assertEquals(
    await rpcError(() =>
      c.client.complete({ ref: { type: "ref/prompt", name: "nope" }, argument: { name: "a", value: "" } })
    ),
    { code: RpcCode.InvalidParams, message: "MCP error -32602: Unknown completion reference: nope" },
  );
  // A backend's own error passes as the backend sent it, code and message.
  await using direct = await connectClient(e.weather.url);
  const own = await rpcError(() => direct.client.getPrompt({ name: "forecast_summary", arguments: {} }));
  assertEquals(own.code, RpcCode.InvalidParams);
  assertEquals(await rpcError(() => c.client.getPrompt({ name: "w_forecast_summary", arguments: {} })), own);
});

Deno.test("meta-tools: discover_tools sees the virtual server's tools; select_tools scopes the session and says so", async () => {
  await using e = await env({
    virtualServers: [{ name: "ns/weather", tools: ["w_search", "discover_tools"] }],
    extension: { enforceVirtualServers: true },
  });
  {
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-virtualserver": "ns/weather" } });
    const found = JSON.parse(firstText(await c.client.callTool({ name: "discover_tools", arguments: {} })));
    assertEquals(found.servers.map((s: { name: string; tools: string[] }) => [s.name, s.tools]), [
      ["test/weather", ["w_search"]],
    ]);
    // Enforced: a meta-tool outside the virtual server is refused like any tool.
    assertEquals(
      await rpcError(() => c.client.callTool({ name: "select_tools", arguments: { tools: [] } })),
      {
        code: RpcCode.InvalidParams,
        message: "MCP error -32602: Tool select_tools is not in virtual server ns/weather.",
      },
    );
  }
  await using c = await connectClient(e.s.url);
  let changed = 0;
  c.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
  // The change is announced on the session's GET stream, as the broker does: wait for it to be open.
  await waitFor(() => [...e.s.sessions.values()].some((s) => s.openStreams === 1), 3000, "the GET stream");
  const result = await c.client.callTool({ name: "select_tools", arguments: { tools: ["s_echo"] } });
  assert(!result.isError, JSON.stringify(result));
  await waitFor(() => changed > 0, 3000, "tools/list_changed");
  const [session] = [...e.s.sessions.values()];
  assertEquals([...e.s.scopes.get(session.id) ?? []], ["s_echo"]);
  assertEquals(names((await c.client.listTools()).tools), ["discover_tools", "s_echo", "select_tools"]);
  // Scoped tools are a view: the others still answer.
  assertStringIncludes(
    firstText(await c.client.callTool({ name: "s_echo", arguments: { message: "hi" } })),
    "hi",
  );
});

Deno.test("an upstream that does not answer in time: the call fails naming the server, the backend hears the cancel", async () => {
  await using e = await env({}, 1000);
  await using c = await connectClient(e.s.url);
  const t0 = Date.now();
  assertEquals(await rpcError(() => c.client.callTool({ name: "s_sleep", arguments: { ms: 10_000 } })), {
    code: ErrorCode.RequestTimeout,
    message: "MCP error -32001: Server test/slow did not answer tools/call in time.",
  });
  assert(Date.now() - t0 < 8000, "the gateway's timeout, not the backend's 10 s");
  await waitFor(
    async () =>
      JSON.parse(firstText(await c.client.callTool({ name: "s_sleep_stats", arguments: {} }))).cancelled ===
        1,
    3000,
    "the backend to cancel the sleep",
  );
  // The session lives on.
  assertEquals(
    firstText(await c.client.callTool({ name: "s_echo", arguments: { message: "still" } })),
    "still",
  );
});

Deno.test("logging/setLevel is kept on the session and set on backend sessions opened later", async () => {
  await using dynamic = await startFixture("dynamic");
  await using s = await stages({ servers: [{ name: "test/dynamic", url: dynamic.url, prefix: "d_" }] }, {
    federateAll: true,
  });
  await using c = await connectClient(s.url);
  await c.client.setLoggingLevel("warning");
  const [session] = [...s.sessions.values()];
  assertEquals(session.logLevel, "warning");
  assertEquals(dynamic.stats().rpcMethods["logging/setLevel"], undefined, "no backend session yet");
  const quiet = await c.client.callTool({ name: "d_log", arguments: { level: "info", message: "quiet" } });
  assertStringIncludes(firstText(quiet), "filtered");
  assertEquals(dynamic.stats().rpcMethods["logging/setLevel"], 1);
});

/** A wristband as Authorino signs one (ES256, `allowed-capabilities` a JSON string). */
function wristband(key: Parameters<SignJWT["sign"]>[0], capabilities: unknown): Promise<string> {
  return new SignJWT({ "allowed-capabilities": JSON.stringify(capabilities) })
    .setProtectedHeader({ alg: "ES256" })
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key);
}

/** The weather (`w_`) and github (`g_`) fixtures behind the stages, with a trusted headers key. */
async function wristbandEnv(opts: { enforce?: boolean; policy?: RequestPolicy } = {}) {
  const keys = await generateKeyPair("ES256", { extractable: true });
  const weather = await startFixture("weather");
  const github = await startFixture("github");
  const s = await stages({
    servers: [
      { name: "mcp-test/weather", url: weather.url, prefix: "w_" },
      { name: "mcp-test/github", url: github.url, prefix: "g_" },
    ],
    virtualServers: [{ name: "mcp-test/readers", tools: ["w_search", "g_search", "g_get_issue"] }],
    extension: {
      trustedHeadersPublicKey: await exportSPKI(keys.publicKey),
      enforceCapabilityFilter: opts.enforce ?? false,
    },
  }, { policy: opts.policy });
  return {
    s,
    keys,
    [Symbol.asyncDispose]: async () => {
      await s[Symbol.asyncDispose]();
      await Promise.all([weather.close(), github.close()]);
    },
  };
}

const ALICE = {
  tools: { "mcp-test/weather": ["search", "get_forecast"], "mcp-test/github": ["search"] },
  prompts: { "mcp-test/github": ["review_pr"] },
};
const BOB = { tools: { "mcp-test/github": ["get_issue", "create_issue"] }, prompts: {} };

Deno.test("wristband: two identities list different tools and prompts; the virtual server intersects", async () => {
  await using e = await wristbandEnv();
  const alice = await wristband(e.keys.privateKey, ALICE);
  const bob = await wristband(e.keys.privateKey, BOB);
  {
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": alice } });
    assertEquals(names((await c.client.listTools()).tools), ["g_search", "w_get_forecast", "w_search"]);
    assertEquals(names((await c.client.listPrompts()).prompts), ["g_review_pr"]);
  }
  {
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": bob } });
    assertEquals(names((await c.client.listTools()).tools), ["g_create_issue", "g_get_issue"]);
    assertEquals(names((await c.client.listPrompts()).prompts), []);
  }
  {
    // Step 1 capabilities, step 2 the virtual server: only what both allow.
    const headers = { "x-mcp-authorized": alice, "x-mcp-virtualserver": "mcp-test/readers" };
    await using c = await connectClient(e.s.url, { headers });
    assertEquals(names((await c.client.listTools()).tools), ["g_search", "w_search"]);
  }
  {
    // No wristband, not enforced: the whole list, meta-tools included.
    await using c = await connectClient(e.s.url);
    const all = names((await c.client.listTools()).tools);
    assert(all.includes("discover_tools") && all.includes("g_delete_issue") && all.length === 8, String(all));
  }
});

Deno.test("wristband: forged, expired or signed by another key lists nothing; enforced, no wristband lists nothing", async () => {
  await using e = await wristbandEnv({ enforce: true });
  const other = await generateKeyPair("ES256");
  const good = await wristband(e.keys.privateKey, ALICE);
  const [h, , sig] = good.split(".");
  const bobPayload = btoa(JSON.stringify({ "allowed-capabilities": JSON.stringify(BOB) })).replace(/=+$/, "")
    .replace(/\+/g, "-").replace(/\//g, "_");
  const expired = await new SignJWT({ "allowed-capabilities": JSON.stringify(ALICE) })
    .setProtectedHeader({ alg: "ES256" }).setExpirationTime(Math.floor(Date.now() / 1000) - 5)
    .sign(e.keys.privateKey);
  for (
    const [what, token] of [
      ["forged", `${h}.${bobPayload}.${sig}`],
      ["another key", await wristband(other.privateKey, ALICE)],
      ["expired", expired],
      ["malformed", "not-a-jwt"],
    ]
  ) {
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": token } });
    assertEquals((await c.client.listTools()).tools, [], what);
    assertEquals((await c.client.listPrompts()).prompts, [], what);
  }
  {
    await using c = await connectClient(e.s.url);
    assertEquals((await c.client.listTools()).tools, []);
  }
  {
    // Two values: the router re-injects the last one for the broker, so a good first one does not count.
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": `${good}, not-a-jwt` } });
    assertEquals((await c.client.listTools()).tools, []);
  }
  await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": `not-a-jwt, ${good}` } });
  assertEquals(names((await c.client.listTools()).tools), ["g_search", "w_get_forecast", "w_search"]);
});

Deno.test("wristband: the policy's success header replaces what the client sent; otherwise the client's reaches the broker", async () => {
  const minted: Record<string, string> = {};
  // The hook AuthPolicy plugs into: a user picked by a request header gets its wristband as a success header.
  const policy: RequestPolicy = {
    evaluate: ({ request }) => {
      const user = request.headers.get("x-test-user");
      return user ? { allow: true, requestHeaders: { "x-mcp-authorized": minted[user] } } : { allow: true };
    },
  };
  await using e = await wristbandEnv({ policy });
  minted.alice = await wristband(e.keys.privateKey, ALICE);
  minted.bob = await wristband(e.keys.privateKey, BOB);
  {
    // Bob sends Alice's wristband; the policy overwrites it with his own.
    const headers = { "x-test-user": "bob", "x-mcp-authorized": minted.alice };
    await using c = await connectClient(e.s.url, { headers });
    assertEquals(names((await c.client.listTools()).tools), ["g_create_issue", "g_get_issue"]);
  }
  {
    // No policy header: the client's own header is what the broker verifies.
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": minted.bob } });
    assertEquals(names((await c.client.listTools()).tools), ["g_create_issue", "g_get_issue"]);
  }
});

Deno.test("wristband: meta-tools see only the allowed tools; a tools/call outside them still reaches the server (as the broker)", async () => {
  await using e = await wristbandEnv();
  // A wristband without a tools entry leaves tools/list whole (meta-tools too) ...
  const all = await wristband(e.keys.privateKey, { prompts: {} });
  {
    await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": all } });
    assert(names((await c.client.listTools()).tools).includes("discover_tools"));
  }
  // ... while one with tools lists only those, the meta-tools gone (no server names them).
  const bob = await wristband(e.keys.privateKey, BOB);
  await using c = await connectClient(e.s.url, { headers: { "x-mcp-authorized": bob } });
  assertEquals(names((await c.client.listTools()).tools), ["g_create_issue", "g_get_issue"]);
  const discovered = JSON.parse(
    firstText(await c.client.callTool({ name: "discover_tools", arguments: {} })),
  );
  assertEquals(
    discovered.servers.map((s: { name: string; tools: unknown[] }) => [s.name, s.tools.length]),
    [["mcp-test/github", 2]],
  );
  const selected = await c.client.callTool({ name: "select_tools", arguments: { tools: ["w_search"] } });
  assert(selected.isError, JSON.stringify(selected));
  // The router and broker do not check calls against the wristband: an AuthPolicy rule does.
  const call = await c.client.callTool({ name: "w_search", arguments: { query: "rain" } });
  assert(!call.isError, JSON.stringify(call));
});

Deno.test("tools/list: sessions with another virtual server, wristband or scope, listing in turn, each get their own list", async () => {
  await using e = await wristbandEnv();
  const headers: Record<string, string>[] = [
    {},
    { "x-mcp-virtualserver": "mcp-test/readers" },
    // A wristband that keeps every tool (no tools entry), one that keeps none (forged), one that keeps some.
    { "x-mcp-authorized": await wristband(e.keys.privateKey, { prompts: {} }) },
    { "x-mcp-authorized": "not-a-jwt" },
    { "x-mcp-authorized": await wristband(e.keys.privateKey, BOB) },
    {},
  ];
  const all = [
    "discover_tools",
    "g_create_issue",
    "g_delete_issue",
    "g_get_issue",
    "g_search",
    "select_tools",
    "w_get_forecast",
    "w_search",
  ];
  const expected = [
    all,
    ["g_get_issue", "g_search", "w_search"],
    all,
    [],
    ["g_create_issue", "g_get_issue"],
    ["discover_tools", "select_tools", "w_search"],
  ];
  const clients = await Promise.all(headers.map((h) => connectClient(e.s.url, { headers: h })));
  try {
    const scoped = await clients[5].client.callTool({
      name: "select_tools",
      arguments: { tools: ["w_search"] },
    });
    assert(!scoped.isError, JSON.stringify(scoped));
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of clients.entries()) {
        assertEquals(names((await c.client.listTools()).tools), expected[i], `session ${i}, round ${round}`);
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c[Symbol.asyncDispose]()));
  }
});

Deno.test("tools/list: a catalog change reaches every session's next list", async () => {
  const dynamic = await startFixture("dynamic");
  await using s = await stages({ servers: [{ name: "test/dynamic", url: dynamic.url, prefix: "d_" }] });
  try {
    await using a = await connectClient(s.url);
    await using b = await connectClient(s.url);
    const before = names((await a.client.listTools()).tools);
    assertEquals(names((await b.client.listTools()).tools), before);
    assert(!before.includes("d_fresh"), String(before));
    const added = await a.client.callTool({ name: "d_add_tool", arguments: { name: "fresh" } });
    assert(!added.isError, JSON.stringify(added));
    await waitFor(() => s.servers.catalog.tools.has("d_fresh"), 3000, "the catalog with d_fresh");
    assertEquals(names((await b.client.listTools()).tools), [...before, "d_fresh"].sort());
    assertEquals(names((await a.client.listTools()).tools), [...before, "d_fresh"].sort());
    await a.client.callTool({ name: "d_remove_tool", arguments: { name: "fresh" } });
    await waitFor(() => !s.servers.catalog.tools.has("d_fresh"), 3000, "the catalog without d_fresh");
    assertEquals(names((await b.client.listTools()).tools), before);
  } finally {
    await dynamic.close();
  }
});

/** One HTTP/1.1 exchange on a fresh connection: the response's bytes as text, its `date` line left out. */
async function onTheWire(url: string, headers: Record<string, string>, body: string): Promise<string> {
  const { hostname, port, pathname } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const head = Object.entries({ ...headers, host: `${hostname}:${port}`, connection: "close" })
      .map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const bytes = new TextEncoder().encode(body);
    await conn.write(
      new TextEncoder().encode(`POST ${pathname} HTTP/1.1\r\n${head}content-length: ${bytes.length}\r\n\r\n`),
    );
    await conn.write(bytes);
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    // Bounded: the server closes after one answer (connection: close); at most 64 MiB are read.
    for (let total = 0; total < 64 * 1024 * 1024;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    return text.replace(/^date: .*\r\n/im, "");
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}

Deno.test("tools/list answered by the endpoint: the very bytes on the wire the SDK server's answer becomes, for every view", async () => {
  await using e = await wristbandEnv();
  await using sdk = sdkEndpoint(e.s);
  {
    const sdkUrl = sdk.url;
    const session = await rawSession(e.s.url);
    const scoped = await rawSession(e.s.url);
    const select = await post(e.s.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "select_tools", arguments: { tools: ["w_search"] } },
    }, scoped.headers);
    assertEquals(select.status, 200);
    const found = [...e.s.sessions.values()].find((s) => s.id === session.id)!;
    assert(!found.warm, "the session holds no SDK server before listing");
    const first = await post(e.s.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, session.headers);
    assertEquals([first.status, (first.json?.result as { tools: unknown[] }).tools.length], [200, 8]);
    assert(!found.warm, "the endpoint answered without the session's SDK server");
    const views: Array<[string, Record<string, string>]> = [
      ["no header", session.headers],
      ["a virtual server", { ...session.headers, "x-mcp-virtualserver": "mcp-test/readers" }],
      ["a wristband naming tools", {
        ...session.headers,
        "x-mcp-authorized": await wristband(e.keys.privateKey, ALICE),
      }],
      ["a forged wristband", { ...session.headers, "x-mcp-authorized": "not-a-jwt" }],
      ["a scoped session", scoped.headers],
    ];
    for (const [what, headers] of views) {
      for (const id of [7, 'list "one" \u00e9']) {
        const body = JSON.stringify({ jsonrpc: "2.0", id, method: "tools/list", params: {} });
        const direct = await onTheWire(e.s.url, headers, body);
        const viaSdk = await onTheWire(sdkUrl, headers, body);
        assertStringIncludes(direct, "HTTP/1.1 200 OK", what);
        assertStringIncludes(direct, `"id":${JSON.stringify(id)},"result":{"tools":[`, what);
        assertEquals(direct, viaSdk, `${what}, id ${JSON.stringify(id)}`);
      }
    }
  }
});

/** The endpoint of `s` without its scopes: `tools/list` goes to the session's SDK server. */
function sdkEndpoint(s: Stages) {
  const endpoint = new McpEndpoint({
    servers: s.servers,
    sessions: s.sessions,
    backends: s.backends,
    policy: { evaluate: () => ({ allow: true }) },
    store: s.store,
    metrics: s.metrics,
    log: () => {},
    timeoutMs: 5000,
  });
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => endpoint.handle(req),
  );
  return { url: `http://127.0.0.1:${http.addr.port}/mcp`, [Symbol.asyncDispose]: () => http.shutdown() };
}

Deno.test("tools/list answered by the endpoint: a list of more than 64 KiB (streamed, not copied) is the same bytes too", async () => {
  const dynamic = await startFixture("dynamic");
  try {
    await using s = await stages({ servers: [{ name: "test/dynamic", url: dynamic.url, prefix: "d_" }] });
    await using sdk = sdkEndpoint(s);
    const session = await rawSession(s.url);
    const description = "long ".repeat(30_000);
    const added = await post(s.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "d_add_tool", arguments: { name: "big", description } },
    }, session.headers);
    assertEquals(added.status, 200);
    await waitFor(() => s.servers.catalog.tools.has("d_big"), 3000, "the catalog with d_big");
    const body = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const direct = await onTheWire(s.url, session.headers, body);
    assertStringIncludes(direct, "transfer-encoding: chunked");
    assert(direct.length > description.length, `${direct.length} bytes`);
    assertEquals(direct, await onTheWire(sdk.url, session.headers, body));
  } finally {
    await dynamic.close();
  }
});
