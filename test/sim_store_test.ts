/**
 * Gateway replicas sharing a Redis session store: a real `redis-server`, real SDK clients, real
 * fixture servers. A session initialised on one replica is served by another with the same backend
 * session, ends everywhere on DELETE, survives a restart, and a Redis outage fails requests clearly
 * without taking the gateway down.
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { stringify } from "yaml";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./helpers/assert.ts";
import { spawnCli } from "./helpers/cli.ts";
import { startRedis } from "./helpers/redis.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, RedisSessionStore, startGateway } from "../sim/mod.ts";
import {
  connectClient,
  deleteSession,
  firstText,
  initializeBody,
  post,
  rawSession,
  sseMessages,
  waitFor,
} from "./sim_helpers.ts";

const KEY = "shared-signing-key-for-tests";

function weatherConfig(url: string) {
  return normalizeConfig({ servers: [{ name: "test/weather", url, prefix: "weather_" }] });
}

/** An SDK client that joins an existing session at `url` (no initialize), as a load balancer would send it. */
async function joinSession(url: string, sessionId: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    sessionId,
    reconnectionOptions: {
      maxRetries: 0,
      initialReconnectionDelay: 100,
      maxReconnectionDelay: 100,
      reconnectionDelayGrowFactor: 1,
    },
  });
  const client = new Client({ name: "sim-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport, [Symbol.asyncDispose]: () => client.close() };
}

Deno.test("replicas share sessions: A initialises, B serves it with the same backend session, DELETE on B ends it on A", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  await using storeA = await RedisSessionStore.connect(redis.url);
  await using storeB = await RedisSessionStore.connect(redis.url);
  await using a = await startGateway(weatherConfig(weather.url), { store: storeA, signingKey: KEY });
  await using b = await startGateway(weatherConfig(weather.url), { store: storeB, signingKey: KEY });
  const base = weather.stats().sessionsCreated;

  const c = await connectClient(a.url, { capabilities: { elicitation: {} }, name: "replica-test" });
  const id = c.transport.sessionId!;
  assert(id);
  const onA = await c.client.callTool({ name: "weather_search", arguments: { query: "a" } });
  assertStringIncludes(firstText(onA), "weather stations");
  assertEquals(weather.stats().sessionsCreated - base, 1);
  const record = await storeB.get(id);
  assertEquals(record?.clientInfo?.name, "replica-test");
  assertEquals(record?.clientCapabilities, { elicitation: {} });
  assertEquals(record?.protocolVersion, c.transport.protocolVersion);
  const backend = (await storeB.listBackends(id))["test/weather"];
  assert(backend, "the backend session is in the store");

  {
    await using j = await joinSession(b.url, id);
    const { tools } = await j.client.listTools();
    assert(tools.some((t) => t.name === "weather_get_forecast"), tools.map((t) => t.name).join());
    const onB = await j.client.callTool({ name: "weather_search", arguments: { query: "b" } });
    assertStringIncludes(firstText(onB), "weather stations");
    const forecast = await j.client.callTool({ name: "weather_get_forecast", arguments: { city: "Paris" } });
    assert(!forecast.isError, JSON.stringify(forecast));
    assertEquals(weather.stats().sessionsCreated - base, 1, "B resumed A's backend session");
    assertEquals((await storeA.listBackends(id))["test/weather"], backend);
    assertEquals((await b.status()).sessions, 1);
  }
  // A still serves it too.
  await c.client.callTool({ name: "weather_search", arguments: { query: "c" } });

  assertEquals(await deleteSession(b.url, id), 200);
  assertEquals(await storeA.get(id), undefined);
  assertEquals(await storeA.count(), 0);
  await waitFor(() => weather.stats().sessionsDeleted >= 1, 5000, "the backend session to be terminated");
  const after = await post(a.url, { jsonrpc: "2.0", id: 9, method: "tools/list" }, {
    "mcp-session-id": id,
    "mcp-protocol-version": c.transport.protocolVersion ?? "2025-11-25",
  });
  assertEquals(after.status, 404, "A dropped its copy");
  assertEquals(await deleteSession(a.url, id), 404);
  await c.client.close();
});

/** Two replicas on one Redis in front of one fixture, and a raw session initialised on A. */
async function replicaPair(fixture: "elicit" | "slow", prefix: string) {
  const redis = await startRedis();
  const server = await startFixture(fixture);
  const storeA = await RedisSessionStore.connect(redis.url);
  const storeB = await RedisSessionStore.connect(redis.url);
  const config = normalizeConfig({ servers: [{ name: `test/${fixture}`, url: server.url, prefix }] });
  const a = await startGateway(config, { store: storeA, signingKey: KEY });
  const b = await startGateway(config, { store: storeB, signingKey: KEY });
  const { headers } = await rawSession(a.url, undefined, { elicitation: { form: {} } });
  return {
    a,
    b,
    server,
    headers,
    async [Symbol.asyncDispose]() {
      for (const c of [a, b, storeA, storeB, server, redis]) await c[Symbol.asyncDispose]();
    },
  };
}

Deno.test("replicas: the client's answer to a backend's elicitation reaches the replica holding the call", async () => {
  await using pair = await replicaPair("elicit", "e_");
  const { a, b, headers } = pair;
  const res = await fetch(a.url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: "mine",
      method: "tools/call",
      params: { name: "e_book_table", arguments: { restaurant: "Chez Replica" } },
    }),
  });
  const messages = sseMessages(res);
  const ask = (await messages.next()).value!;
  assertEquals(ask.method, "elicitation/create");
  assertEquals(a.gateway.passthrough?.pendingRequests, 1);
  // The load balancer sends the answer to B, which holds neither the stream nor the id map.
  const answer = await post(b.url, {
    jsonrpc: "2.0",
    id: ask.id,
    result: { action: "accept", content: { seats: 4, time: "19:30" } },
  }, headers);
  assertEquals(answer.status, 202);
  const result = (await messages.next()).value!;
  assertEquals(result.id, "mine");
  const text = (result.result as { content: Array<{ text: string }> }).content[0].text;
  assertEquals(JSON.parse(text), { action: "accept", content: { seats: 4, time: "19:30" } });
  assert((await messages.next()).done);
  assertEquals(a.gateway.passthrough?.pendingRequests, 0);
  assertEquals(a.gateway.passthrough?.inflight, 0);
});

Deno.test("replicas: a cancel sent to another replica ends the call where it runs and reaches the backend", async () => {
  await using pair = await replicaPair("slow", "s_");
  const { a, b, headers, server } = pair;
  const res = await fetch(a.url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 11,
      method: "tools/call",
      params: { name: "s_sleep", arguments: { ms: 20_000, steps: 100 }, _meta: { progressToken: "p" } },
    }),
  });
  const messages = sseMessages(res);
  assertEquals((await messages.next()).value?.method, "notifications/progress");
  const cancel = await post(b.url, {
    jsonrpc: "2.0",
    method: "notifications/cancelled",
    params: { requestId: 11, reason: "changed my mind" },
  }, headers);
  assertEquals(cancel.status, 202);
  // A's stream ends without a response, as for any cancelled request.
  for await (const m of messages) assertEquals(m.method, "notifications/progress", JSON.stringify(m));
  assertEquals(a.gateway.passthrough?.inflight, 0);
  const metrics = await (await fetch(new URL("/metrics", a.url))).text();
  assertStringIncludes(metrics, 'mcp_gateway_relayed_messages_total{kind="cancel"} 1');
  await using c = await connectClient(server.url);
  await waitFor(
    async () =>
      JSON.parse(firstText(await c.client.callTool({ name: "sleep_stats", arguments: {} }))).cancelled === 1,
    5000,
    "the backend to see the cancellation",
  );
});

Deno.test("DELETE on a replica that never served the session ends its backend sessions too", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  await using storeA = await RedisSessionStore.connect(redis.url);
  await using storeB = await RedisSessionStore.connect(redis.url);
  await using a = await startGateway(weatherConfig(weather.url), { store: storeA, signingKey: KEY });
  await using b = await startGateway(weatherConfig(weather.url), { store: storeB, signingKey: KEY });
  await using c = await connectClient(a.url);
  await c.client.callTool({ name: "weather_search", arguments: { query: "a" } });
  const deleted = weather.stats().sessionsDeleted;
  assertEquals(await deleteSession(b.url, c.transport.sessionId!), 200);
  assertEquals(weather.stats().sessionsDeleted, deleted + 1, "B ended the backend session A opened");
  assertEquals(await storeA.count(), 0);
  await assertRejects(() => c.client.listTools());
});

Deno.test("a simulator restart on the same Redis keeps the client's session and its backend session", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  // No signing key given: the replicas (here, before and after the restart) share the one in Redis.
  const store1 = await RedisSessionStore.connect(redis.url);
  const first = await startGateway(weatherConfig(weather.url), { store: store1 });
  const c = await connectClient(first.url);
  try {
    await c.client.callTool({ name: "weather_search", arguments: { query: "a" } });
    const created = weather.stats().sessionsCreated;
    const id = c.transport.sessionId!;
    const backend = (await store1.listBackends(id))["test/weather"];
    const port = first.port;
    await first.close();
    await store1.close();

    await using store2 = await RedisSessionStore.connect(redis.url);
    await using second = await startGateway(weatherConfig(weather.url), { store: store2, port });
    assertEquals(second.url, first.url);
    const again = await c.client.callTool({ name: "weather_search", arguments: { query: "b" } });
    assertStringIncludes(firstText(again), "weather stations");
    // One more session for the restarted gateway's own health connection, none for the client: the
    // backend session outlived the first gateway and was resumed (a terminated one would 404 and
    // be replaced).
    assertEquals(weather.stats().sessionsCreated, created + 1);
    assertEquals((await store2.listBackends(id))["test/weather"], backend);
    assertEquals(await store2.count(), 1);
  } finally {
    await c[Symbol.asyncDispose]();
  }
});

Deno.test("Redis down: requests fail naming the store, the gateway stays up and recovers", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  await using store = await RedisSessionStore.connect(redis.url);
  await using gw = await startGateway(weatherConfig(weather.url), { store, signingKey: KEY });
  await using c = await connectClient(gw.url);
  await c.client.callTool({ name: "weather_search", arguments: { query: "a" } });

  await redis.stop({ save: true });
  const error = await assertRejects(() =>
    c.client.callTool({ name: "weather_search", arguments: { query: "b" } })
  );
  assertStringIncludes(error.message, `Session store redis://127.0.0.1:${redis.port}/0 is unavailable`);
  const raw = await post(gw.url, { jsonrpc: "2.0", id: 3, method: "tools/list" }, {
    "mcp-session-id": c.transport.sessionId!,
  });
  assertEquals(raw.status, 503);
  assertStringIncludes(String((raw.json?.error as { message?: string })?.message), "Session store");
  const init = await post(gw.url, initializeBody());
  assertEquals(init.status, 503, "no session is handed out that no replica could find");
  assertStringIncludes(String((init.json?.error as { message?: string })?.message), "is unavailable");
  const health = await fetch(gw.url.replace(/mcp$/, "healthz"));
  assertEquals(health.status, 200);
  await health.body?.cancel();

  await redis.start();
  const back = await waitFor(
    () => c.client.callTool({ name: "weather_search", arguments: { query: "c" } }).catch(() => undefined),
    10_000,
    "the gateway to use Redis again",
  );
  assertStringIncludes(firstText(back), "weather stations");
});

Deno.test("simulate --session-store keeps sessions in Redis and says so", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-store-" });
  try {
    await Deno.writeTextFile(
      `${dir}/servers.yaml`,
      stringify({
        apiVersion: "mcp.kuadrant.io/v1",
        kind: "MCPServerRegistration",
        metadata: { name: "weather", namespace: "mcp-test" },
        spec: {
          targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "weather-route" },
          prefix: "weather_",
        },
      }),
    );
    await using sim = spawnCli([
      "simulate",
      "-f",
      dir,
      "--upstream",
      `mcp-test/weather=${weather.url}`,
      "--port",
      "0",
      "--session-store",
      `redis://127.0.0.1:${redis.port}/2`,
    ]);
    const [, url] = await sim.waitFor(/listening on (\S+)/);
    assertStringIncludes(sim.stdout, `session store: redis://127.0.0.1:${redis.port}/2`);
    await using c = await connectClient(url);
    await c.client.callTool({ name: "weather_search", arguments: { query: "a" } });
    await using store = await RedisSessionStore.connect(`${redis.url}/2`);
    assertEquals(await store.count(), 1);
    assert((await store.get(c.transport.sessionId!))?.createdAt);
    assertEquals(Object.keys(await store.listBackends(c.transport.sessionId!)), ["mcp-test/weather"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulate -f: the extension's sessionStore Secret is used, or a cluster-internal one is reported", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-store-" });
  const write = (storeUrl: string) =>
    Deno.writeTextFile(
      `${dir}/all.yaml`,
      [
        {
          apiVersion: "mcp.kuadrant.io/v1",
          kind: "MCPServerRegistration",
          metadata: { name: "weather", namespace: "mcp-test" },
          spec: {
            targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "weather-route" },
            prefix: "weather_",
          },
        },
        {
          apiVersion: "mcp.kuadrant.io/v1",
          kind: "MCPGatewayExtension",
          metadata: { name: "gw", namespace: "mcp-system" },
          spec: {
            targetRef: {
              group: "gateway.networking.k8s.io",
              kind: "Gateway",
              name: "mcp-gateway",
              sectionName: "mcp",
            },
            sessionStore: { secretName: "redis-config" },
          },
        },
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: {
            name: "redis-config",
            namespace: "mcp-system",
            labels: { "mcp.kuadrant.io/secret": "true" },
          },
          data: { CACHE_CONNECTION_STRING: btoa(storeUrl) },
        },
      ].map((o) => stringify(o)).join("---\n"),
    );
  const run = (extra: string[] = []) =>
    spawnCli([
      "simulate",
      "-f",
      dir,
      "--upstream",
      `mcp-test/weather=${weather.url}`,
      "--port",
      "0",
      ...extra,
    ]);
  try {
    await write(`redis://127.0.0.1:${redis.port}/1`);
    {
      await using sim = run();
      await sim.waitFor(/listening on (\S+)/);
      assertStringIncludes(
        sim.stdout,
        `session store: redis://127.0.0.1:${redis.port}/1 (from Secret mcp-system/redis-config)`,
      );
    }
    await write("redis://user:hunter2@redis.mcp-system.svc.cluster.local:6379/0");
    {
      await using sim = run();
      await sim.waitFor(/listening on (\S+)/);
      assertStringIncludes(sim.stdout, "session store: memory (the extension's session store");
      assertStringIncludes(sim.stdout, "redis://user:****@redis.mcp-system.svc.cluster.local:6379/0");
      assertStringIncludes(sim.stdout, "cluster-internal name, not reachable from here");
      assert(!sim.stdout.includes("hunter2") && !sim.stderr.includes("hunter2"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
